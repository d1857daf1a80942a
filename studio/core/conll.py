"""Read CoNLL token-per-line files (token ... tag, blank line between sentences) as a table of tokens and tags."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from studio.core.csvio import HEAD_BYTES, Rows, Table, detect_encoding
from studio.core.errors import DataError

# The columns the table of a CoNLL file has: each cell holds a sentence's words (or tags), joined by spaces.
TOKENS, TAGS = "tokens", "tags"
# One sentence longer than this, in a file without a single blank line, is a file whose sentences run together.
MAX_SENTENCE_TOKENS = 1000
DOCSTART = "-DOCSTART-"
_LINE_BREAK = re.compile(r"\r\n|\r|\n")

# What a tag looks like: O, a prefixed type (B-PER, I-LOC, S-ORG, X-LOC...), or a bare upper-case type (PER).
# The scheme itself (BIO or not) is checked when the examples are loaded, where the sentence can say which tag.
_TAG = re.compile(r"^(O|[A-Za-z]{1,2}[-_]\S+|[A-Z][A-Z0-9_.$-]*)$")


@dataclass(frozen=True)
class ConllTable(Table):
    """A Table read from a CoNLL file; `lines` holds the file line each sentence starts on (1-based)."""

    lines: tuple[int, ...] = ()


def _is_docstart(fields: list[str]) -> bool:
    return bool(fields) and fields[0] == DOCSTART


def looks_like_conll(head: str) -> bool:
    """Whether the start of a .txt/.tsv file reads as CoNLL: lines of "token<whitespace>...tag", sentences apart.

    Every line (but -DOCSTART-) has the same small number of fields and ends in a tag-like field (so a header
    such as "text<TAB>label", whose last field is not a tag, or a TSV of sentences never qualifies), and the
    tags are few and include "O".
    """
    lines = head.splitlines()
    if lines and not head.endswith(("\n", "\r")):
        lines = lines[:-1]  # the head may end mid-line
    fields = [line.split() for line in lines[:400]]
    fields = [f for f in fields if f and not _is_docstart(f)]
    if len(fields) < 2:
        return False
    widths = {len(f) for f in fields}
    if len(widths) != 1 or not 2 <= widths.pop() <= 10:
        return False
    tags = [f[-1] for f in fields]
    if not all(_TAG.match(t) for t in tags):
        return False
    distinct = set(tags)
    return "O" in distinct and len(distinct) <= max(10, len(tags) // 2)


def read_conll(path: str | Path, raw: bytes | None = None, encoding: str | None = None) -> ConllTable:
    """A Table with the columns ("tokens", "tags"), one row per sentence, words and tags joined by spaces.

    The tag is the last field of a line and the token the first (CoNLL-2003's middle columns are ignored); a
    blank line ends a sentence; -DOCSTART- lines are skipped. `raw` and `encoding` spare a second read when the
    caller has the bytes already.
    """
    path = Path(path).expanduser()
    name = path.name or str(path)
    if raw is None:
        if not path.is_file():
            raise DataError(f"The file {path} does not exist; check the path or choose the file again.")
        try:
            raw = path.read_bytes()
        except OSError as exc:
            raise DataError(f"Could not read {path}: {exc.strerror or exc}.") from exc
    if encoding is None:
        encoding = detect_encoding(raw[:HEAD_BYTES], name, lambda: [raw])
    text = raw.decode(encoding)
    sentences: list[tuple[str, str]] = []
    starts: list[int] = []
    tokens: list[str] = []
    tags: list[str] = []
    start = 0
    tabs = False

    def close() -> None:
        if tokens:
            sentences.append((" ".join(tokens), " ".join(tags)))
            starts.append(start)
            tokens.clear()
            tags.clear()

    # Only CR/LF end lines here: str.splitlines would also break a token at \x85 or \u2028.
    for number, line in enumerate(_LINE_BREAK.split(text), start=1):
        fields = line.split()
        if not fields or _is_docstart(fields):
            close()
            continue
        if len(fields) == 1:
            raise DataError(
                f"Line {number} of {name} has one field ({fields[0][:40]!r}) where a token and its tag are needed; "
                "put the tag after the token, separated by a tab or a space (a blank line between sentences)."
            )
        if not tokens:
            start = number
        tabs = tabs or "\t" in line
        tokens.append(fields[0])
        tags.append(fields[-1])
    close()
    if not sentences:
        raise DataError(f"{name} has no tokens; a CoNLL file needs lines of a token and its tag.")
    if len(sentences) == 1 and sentences[0][0].count(" ") >= MAX_SENTENCE_TOKENS:
        raise DataError(
            f"{name} has no blank lines between sentences, so its {sentences[0][0].count(' ') + 1:,} tokens would "
            "read as one sentence; put an empty line after each sentence (CoNLL format: a token and its tag per "
            "line)."
        )
    return ConllTable(
        path=path,
        columns=(TOKENS, TAGS),
        rows=Rows(sentences),
        encoding=encoding,
        delimiter="\t" if tabs else " ",
        lines=tuple(starts),
    )
