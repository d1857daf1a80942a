"""Read a CSV file a user brought: detect its encoding and delimiter, refuse what is not a table."""

from __future__ import annotations

import csv
import io
import sys
from dataclasses import dataclass
from pathlib import Path

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


@dataclass(frozen=True)
class Table:
    """A CSV file's header and rows, all cells as text."""

    path: Path
    columns: tuple[str, ...]
    rows: list[tuple[str, ...]]
    encoding: str
    delimiter: str

    @property
    def delimiter_name(self) -> str:
        return _DELIMITER_NAMES.get(self.delimiter, repr(self.delimiter))

    def column(self, name: str) -> list[str]:
        index = self.columns.index(name)
        return [row[index] for row in self.rows]


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
    text, encoding = decode(raw, name)
    if not text.strip():
        raise DataError(f"{name} is empty; a training file needs a header line and rows of text and labels.")
    text, delimiter = _excel_separator_line(text)
    delimiter = delimiter or sniff_delimiter(text)
    columns, rows = _parse(text, delimiter, name)
    return Table(path=path, columns=columns, rows=rows, encoding=encoding, delimiter=delimiter)


def decode(raw: bytes, name: str) -> tuple[str, str]:
    """Decode bytes as UTF-8 (with or without BOM), UTF-16 with BOM, or a legacy 8-bit code page."""
    for magic, what in _MAGIC:
        if raw.startswith(magic):
            raise DataError(_not_csv(name, what))
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return raw.decode("utf-16"), "utf-16"
        except UnicodeDecodeError as exc:
            raise DataError(f"{name} starts like UTF-16 text but is not; save it as UTF-8 CSV.") from exc
    if b"\x00" in raw[:8192]:
        raise DataError(_not_csv(name, "a binary file"))
    utf8 = "utf-8-sig" if raw.startswith(b"\xef\xbb\xbf") else "utf-8"
    # Not UTF-8: most such files come from Excel on Windows (cp1252); latin-1 takes any byte, so the loop ends.
    for encoding in (utf8, "cp1252", "latin-1"):
        try:
            text = raw.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    if encoding != utf8 and _mostly_control_characters(text[:8192]):
        raise DataError(_not_csv(name, "a binary file"))
    return text, encoding


def _not_csv(name: str, what: str) -> str:
    return f"{name} is {what}, not a CSV file; save the data as CSV (comma-separated values)."


def _mostly_control_characters(sample: str) -> bool:
    # A legacy code page decodes any bytes, so a binary file without NUL bytes would pass as text (random bytes
    # read as latin-1 are about a quarter control characters); text, even with a stray one or two, has almost none.
    controls = sum(1 for ch in sample if (ch < " " and ch not in "\t\r\n") or "\x7f" <= ch <= "\x9f")
    return controls > max(8, len(sample) // 10)


def sniff_delimiter(text: str) -> str:
    """The delimiter that splits the first lines into the most consistent number of fields (>1)."""
    sample = text[:65536]
    best, best_score = ",", (-1.0, 0)
    for delimiter in DELIMITERS:
        try:
            records = [r for r in _take(csv.reader(io.StringIO(sample), delimiter=delimiter), 50) if r]
        except csv.Error:
            continue
        if not records:
            continue
        # The last sampled record may be cut mid-line; leave it out unless it is the only one.
        if len(sample) < len(text) and len(records) > 1:
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


def _runs_to_end(text: str, reader) -> bool:
    # A record that spans lines and ends the file is the mark of a quote opened and never closed.
    return reader.line_num >= text.count("\n") + (0 if text.endswith("\n") else 1) - 1


def _parse(text: str, delimiter: str, name: str) -> tuple[tuple[str, ...], list[tuple[str, ...]]]:
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
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
    rows: list[tuple[str, ...]] = []
    try:
        start = reader.line_num + 1
        for record in reader:
            if not record or (len(record) == 1 and not record[0].strip()):
                continue  # blank line
            if len(record) != width:
                # A trailing delimiter (empty extra cells) is harmless; anything else is a broken row.
                if len(record) > width and not any(cell.strip() for cell in record[width:]):
                    record = record[:width]
                elif reader.line_num > start and _runs_to_end(text, reader):
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
            rows.append(tuple(record))
            start = reader.line_num + 1
    except csv.Error as exc:
        raise DataError(f"{name} is not a readable CSV file (line {reader.line_num}: {exc}).") from exc
    if not rows:
        raise DataError(f"{name} has a header but no rows; add rows of text and labels.")
    return columns, rows
