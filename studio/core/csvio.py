"""Read a CSV file a user brought: detect its encoding and delimiter, refuse what is not a table."""

from __future__ import annotations

import codecs
import csv
import io
import itertools
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import overload

from studio.core.errors import DataError

DELIMITERS = (",", ";", "\t", "|")
_DELIMITER_NAMES = {",": "comma", ";": "semicolon", "\t": "tab", "|": "vertical bar"}

# Signatures of files people pick by mistake, so the message can say what the file is.
_MAGIC = (
    (b"PK\x03\x04", "a zip archive (or an Excel .xlsx workbook)"),
    (b"\x89PNG", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF8", "a GIF image"),
    (b"%PDF", "a PDF document"),
    (b"\x1f\x8b", "a gzip-compressed file"),
    (b"\xd0\xcf\x11\xe0", "an old Excel or Word document"),
    (b"PAR1", "a Parquet file"),
    (b"SQLite format 3", "a SQLite database"),
)

# The csv module's default 128 KiB cell limit would reject long documents; the tokenizer truncates them.
csv.field_size_limit(min(sys.maxsize, 2**31 - 1))


class Rows(Sequence[tuple[str, ...]]):
    """A table's rows, kept in blocks: tuples of tuples of strings.

    CPython stops tracking a tuple of strings in the garbage collector, and then a block of them, so a big
    table costs a full collection nothing; one list of 500,000 rows made every full collection in the process
    walk it (200 ms on a loaded machine, on whatever thread the collection ran, the GUI thread included).
    Blocks also let `release` free a big table piece by piece, without holding the GIL for long.
    """

    BLOCK = 8192

    def __init__(self, rows: Iterable[tuple[str, ...]] = ()):
        self._blocks: list[tuple[tuple[str, ...], ...]] = []
        self._length = 0
        block: list[tuple[str, ...]] = []
        for row in rows:
            block.append(row)
            if len(block) == self.BLOCK:
                self._add(block)
                block = []
        if block:
            self._add(block)

    def _add(self, block: list[tuple[str, ...]]) -> None:
        self._blocks.append(tuple(block))
        self._length += len(block)

    def __len__(self) -> int:
        return self._length

    def __iter__(self) -> Iterator[tuple[str, ...]]:
        return itertools.chain.from_iterable(self._blocks)

    @overload
    def __getitem__(self, index: int) -> tuple[str, ...]: ...

    @overload
    def __getitem__(self, index: slice) -> list[tuple[str, ...]]: ...

    def __getitem__(self, index):
        if isinstance(index, slice):
            start, stop, step = index.indices(self._length)
            if step != 1:
                return [self[i] for i in range(start, stop, step)]
            return list(itertools.islice(self._from(start), max(0, stop - start)))
        if index < 0:
            index += self._length
        if not 0 <= index < self._length:
            raise IndexError("row index out of range")
        return self._blocks[index // self.BLOCK][index % self.BLOCK]

    def _from(self, start: int) -> Iterator[tuple[str, ...]]:
        first = start // self.BLOCK
        if first >= len(self._blocks):
            return iter(())
        head = self._blocks[first][start % self.BLOCK :]
        return itertools.chain(head, itertools.chain.from_iterable(self._blocks[first + 1 :]))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, (Rows, list, tuple)):
            return NotImplemented
        return len(self) == len(other) and all(a == b for a, b in zip(self, other, strict=True))

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Rows({len(self):,} rows)"

    def release(self) -> None:
        """Empty these rows block by block (on a worker thread), so that the window never waits for the free."""
        while self._blocks:
            self._length -= len(self._blocks.pop())
            time.sleep(0)  # hand the GIL to a waiting thread between blocks


@dataclass(frozen=True)
class Table:
    """A CSV file's header and rows, all cells as text."""

    path: Path
    columns: tuple[str, ...]
    rows: Sequence[tuple[str, ...]]
    encoding: str
    delimiter: str

    @property
    def delimiter_name(self) -> str:
        return _DELIMITER_NAMES.get(self.delimiter, repr(self.delimiter))

    def column(self, name: str) -> list[str]:
        index = self.columns.index(name)
        return [row[index] for row in self.rows]


# How much of the file is decoded up front to sniff the delimiter; the rest is decoded as it is parsed.
HEAD_BYTES = 65536
# The file is checked in slices of this size: one decode of a 100 MB file would hold the GIL for hundreds of
# milliseconds on a loaded machine, freezing the window that waits for it on another thread.
_SLICE_BYTES = 1 << 20


def read_table(path: str | Path) -> Table:
    """Read a whole CSV file into a Table, or raise DataError with a sentence naming the file."""
    path = Path(path).expanduser()
    name = path.name or str(path)
    if not path.exists():
        raise DataError(f"The file {path} does not exist; check the path or choose the file again.")
    if path.is_dir():
        raise DataError(f"{path} is a folder, not a CSV file; choose a .csv file.")
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise DataError(f"Could not read {path}: {exc.strerror or exc}.") from exc
    view = memoryview(raw)
    encoding = detect_encoding(raw[:HEAD_BYTES], name, lambda: _slices(view))
    head = raw[:HEAD_BYTES].decode(encoding, errors="ignore")
    if not head.strip() and (len(raw) <= HEAD_BYTES or not raw.decode(encoding).strip()):
        raise DataError(f"{name} is empty; a training file needs a header line and rows of text and labels.")
    # A token-per-line NER file (CoNLL) becomes a table of sentences with the columns "tokens" and "tags".
    from studio.core import conll

    suffix = path.suffix.lower()
    if suffix == ".conll" or (suffix in (".txt", ".tsv") and conll.looks_like_conll(head)):
        return conll.read_conll(path, raw, encoding)
    # The bytes are parsed as a stream decoded piece by piece, never as one string: no copy of the whole file
    # (BytesIO shares the bytes), and the GIL is free between pieces. (Streaming from the file itself instead
    # measured worse: the reader then gave up the GIL at every 8 KiB read and the window waited longer.)
    stream = io.TextIOWrapper(io.BytesIO(raw), encoding=encoding, newline="")
    head, delimiter = _excel_separator_line(head)
    if delimiter:
        stream.readline()
    delimiter = delimiter or _sniff(head, cut=len(raw) > HEAD_BYTES)

    def line_count() -> int:
        # Only asked when a row is broken, to tell an unclosed quote from a short row.
        text = _excel_separator_line(raw.decode(encoding))[0]
        return text.count("\n") + (0 if text.endswith("\n") else 1)

    columns, rows = _parse(stream, delimiter, name, line_count)
    return Table(path=path, columns=columns, rows=rows, encoding=encoding, delimiter=delimiter)


def _slices(view: memoryview) -> Iterator[memoryview]:
    for start in range(0, len(view), _SLICE_BYTES):
        yield view[start : start + _SLICE_BYTES]


def detect_encoding(head: bytes, name: str, slices: Callable[[], Iterable[bytes | memoryview]]) -> str:
    """UTF-8 (with or without BOM), UTF-16 with BOM, or a legacy 8-bit code page; refuse what is not text.

    `head` is the file's beginning; `slices()` gives the whole file, piece by piece, to check that it decodes.
    """
    for magic, what in _MAGIC:
        if head.startswith(magic):
            raise DataError(_not_csv(name, what))
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        if not _decodes(slices(), "utf-16"):
            raise DataError(f"{name} starts like UTF-16 text but is not; save it as UTF-8 CSV.")
        return "utf-16"
    if b"\x00" in head[:8192]:
        raise DataError(_not_csv(name, "a binary file"))
    utf8 = "utf-8-sig" if head.startswith(b"\xef\xbb\xbf") else "utf-8"
    # Not UTF-8: most such files come from Excel on Windows (cp1252); latin-1 takes any byte, so the loop ends.
    encoding = next(e for e in (utf8, "cp1252", "latin-1") if _decodes(slices(), e))
    if encoding != utf8 and _mostly_control_characters(head[:8192].decode(encoding, errors="ignore")):
        raise DataError(_not_csv(name, "a binary file"))
    return encoding


def _decodes(slices: Iterable[bytes | memoryview], encoding: str) -> bool:
    decoder = codecs.getincrementaldecoder(encoding)()
    try:
        for piece in slices:
            decoder.decode(piece)
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    return True


def _not_csv(name: str, what: str) -> str:
    return f"{name} is {what}, not a CSV file; save the data as CSV (comma-separated values)."


def _mostly_control_characters(sample: str) -> bool:
    # A legacy code page decodes any bytes, so a binary file without NUL bytes would pass as text (random bytes
    # read as latin-1 are about a quarter control characters); text, even with a stray one or two, has almost none.
    controls = sum(1 for ch in sample if (ch < " " and ch not in "\t\r\n") or "\x7f" <= ch <= "\x9f")
    return controls > max(8, len(sample) // 10)


def sniff_delimiter(text: str) -> str:
    """The delimiter that splits the first lines into the most consistent number of fields (>1)."""
    return _sniff(text[:HEAD_BYTES], cut=len(text) > HEAD_BYTES)


def _sniff(sample: str, cut: bool) -> str:
    best, best_score = ",", (-1.0, 0)
    for delimiter in DELIMITERS:
        try:
            records = [r for r in _take(csv.reader(io.StringIO(sample), delimiter=delimiter), 50) if r]
        except csv.Error:
            continue
        if not records:
            continue
        # The last sampled record may be cut mid-line; leave it out unless it is the only one.
        if cut and len(records) > 1:
            records = records[:-1]
        width = len(records[0])
        if width < 2:
            continue
        consistent = sum(len(r) == width for r in records) / len(records)
        score = (consistent, width)
        if score[0] > best_score[0] or (score[0] == best_score[0] and width > best_score[1]):
            best, best_score = delimiter, score
    return best


def _excel_separator_line(text: str) -> tuple[str, str | None]:
    """Excel may start a CSV with `sep=;`, naming the delimiter; honour it and drop that line."""
    first, _, rest = text.partition("\n")
    line = first.strip().lstrip("\ufeff")
    if line.lower().startswith("sep=") and len(line) == 5:
        return rest, line[4]
    return text, None


def _take(iterator, n):
    out = []
    for item in iterator:
        out.append(item)
        if len(out) >= n:
            break
    return out


def _parse(
    stream: Iterable[str], delimiter: str, name: str, line_count: Callable[[], int]
) -> tuple[tuple[str, ...], Rows]:
    reader = csv.reader(stream, delimiter=delimiter)
    try:
        header = next(reader, None)
        while header is not None and not any(cell.strip() for cell in header):
            header = next(reader, None)
    except csv.Error as exc:
        raise DataError(f"{name} is not a readable CSV file (line {reader.line_num}: {exc}).") from exc
    if not header:
        raise DataError(f"{name} is empty; a training file needs a header line and rows of text and labels.")
    columns = tuple(cell.strip() or f"column {i + 1}" for i, cell in enumerate(header))
    if len(columns) < 2:
        raise DataError(
            f"{name} has only one column ({columns[0][:40]!r}); a training file needs a text column and a "
            "label column separated by commas, semicolons or tabs."
        )
    from collections import Counter

    duplicates = sorted(name for name, count in Counter(columns).items() if count > 1)
    if duplicates:
        raise DataError(
            f"{name} has more than one column named {', '.join(repr(d) for d in duplicates)}; "
            "rename the columns so that each name is used once."
        )
    width = len(columns)
    rows = Rows(_records(reader, width, delimiter, name, line_count))
    if not rows:
        raise DataError(f"{name} has a header but no rows; add rows of text and labels.")
    return columns, rows


def _records(reader, width: int, delimiter: str, name: str, line_count: Callable[[], int]) -> Iterator[tuple[str, ...]]:
    try:
        start = reader.line_num + 1
        for record in reader:
            if not record or (len(record) == 1 and not record[0].strip()):
                continue  # blank line
            if len(record) != width:
                # A trailing delimiter (empty extra cells) is harmless; anything else is a broken row.
                if len(record) > width and not any(cell.strip() for cell in record[width:]):
                    record = record[:width]
                elif reader.line_num > start and reader.line_num >= line_count() - 1:
                    # A record that spans lines and ends the file: a quote opened and never closed.
                    raise DataError(
                        f'Line {start} of {name} opens a quote (") that is never closed, so the rest of the file '
                        "reads as one cell; close that quote or remove it."
                    )
                else:
                    raise DataError(
                        f"Line {reader.line_num} of {name} has {len(record)} field{'s' if len(record) != 1 else ''} "
                        f"but the header has {width}; "
                        f"put quotes around cells that contain the {_DELIMITER_NAMES.get(delimiter, delimiter)} "
                        "or fix that row."
                    )
            yield tuple(record)
            start = reader.line_num + 1
    except csv.Error as exc:
        raise DataError(f"{name} is not a readable CSV file (line {reader.line_num}: {exc}).") from exc
