"""Texts to normalised word hashes, word counts and token counts, for the pre-flight check (fast on 100k rows).

Normalised: split at white space, each word case folded with its punctuation removed ("U.S." = "us",
"Well," = "well", a lone "-" no word). The work is done once per distinct word of the file, not per row: a
file of 100,000 rows has only tens of thousands of distinct words, and the per-row work is C-level maps over them.
"""

from __future__ import annotations

import functools
import hashlib
import itertools
import logging
import string
import time
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from threading import Event
from typing import Any

import numpy as np

from studio.core.errors import StudioError
from studio.core.near_duplicates import Texts, mix64

log = logging.getLogger(__name__)


@functools.cache
def _punctuation_table() -> dict[int, None]:
    """Removes ASCII punctuation, every character Unicode calls punctuation (curly quotes, dashes, CJK marks), and
    the accents people type as apostrophes. Built on first use (20 ms), off the path that opens the window."""
    marks = {chr(c) for c in range(0x80, 0x10000) if unicodedata.category(chr(c)).startswith("P")}
    return str.maketrans(dict.fromkeys(set(string.punctuation) | marks | {"\u00b4", "\u02bc"}))


# Stands between a pair's two texts: a word no text has, so that ("a b", "c") and ("a", "b c") differ.
_SEPARATOR_HASH = 0x5EB0_1A7E_D0C5
CHUNK_ROWS = 10_000
COUNT_BATCH = 4096
# Without the model's tokenizer, a word is this many tokens on average (English text, WordPiece or BPE).
TOKENS_PER_WORD = 1.3


def normalise_word(word: str) -> str:
    """A word as texts are compared by it: case folded, punctuation removed ("U.S." = "us", "Well," = "well")."""
    return word.casefold().translate(_punctuation_table())


def normalise(text: str) -> list[str]:
    """The words of a text as they are compared (words that are only punctuation left out)."""
    return [w for w in map(normalise_word, text.split()) if w]


def _stable_hash(word: str) -> int:
    return int.from_bytes(hashlib.blake2b(word.encode("utf-8", "surrogatepass"), digest_size=8).digest(), "little")


class TokenCounter:
    """Tokens per word with a model's fast tokenizer, counted once per distinct word (batch-encoded)."""

    def __init__(self, tokenizer, name: str):
        self._tokenizer = tokenizer
        self.name = name
        processor = getattr(tokenizer, "post_processor", None)
        self._specials = (
            (processor.num_special_tokens_to_add(False), processor.num_special_tokens_to_add(True))
            if processor is not None
            else (0, 0)
        )

    def specials(self, pair: bool) -> int:
        """Tokens the model adds around a text (or a pair): [CLS] and [SEP] for BERT."""
        return self._specials[1 if pair else 0]

    def count(self, words: list[str]) -> list[int]:
        """Tokens of each word, without the special ones.

        The words are encoded COUNT_BATCH at a time as one space-joined text, and each token is given to the word
        its offset falls in: half the time of encoding each word as a text of its own (whose encodings come back
        as Python objects, made while holding the GIL that the window's thread waits for).
        """
        counts: list[int] = []
        for start in range(0, len(words), COUNT_BATCH):
            part = words[start : start + COUNT_BATCH]
            encoding = self._tokenizer.encode(" ".join(part), add_special_tokens=False)
            widths = np.fromiter(map(len, part), dtype=np.int64, count=len(part)) + 1
            starts = np.cumsum(widths) - widths
            offsets = np.fromiter((o[0] for o in encoding.offsets), dtype=np.int64, count=len(encoding.offsets))
            owner = np.searchsorted(starts, offsets, side="right") - 1
            counts += np.bincount(owner[owner >= 0], minlength=len(part)).tolist()
            time.sleep(0)
        return counts


def load_token_counter(model: str | None) -> tuple[TokenCounter | None, str | None]:
    """The model's tokenizer as a TokenCounter, or None with the reason (lengths are then estimated from words).

    Only what is on this machine is read: a hub model is looked up in the local cache, never downloaded.
    """
    from studio.core.errors import StudioError
    from studio.core.modeling import resolve_source

    try:
        source = resolve_source(model)
    except StudioError as exc:
        return None, str(exc)
    try:
        from tokenizers import Tokenizer

        tokenizer: Any
        if source.kind != "hub" and (Path(source.location) / "tokenizer.json").is_file():
            # The tokenizers library alone: no transformers import (seconds) for a folder that has the file.
            tokenizer = Tokenizer.from_file(str(Path(source.location) / "tokenizer.json"))
        else:
            from transformers import AutoTokenizer

            loaded = AutoTokenizer.from_pretrained(source.location, local_files_only=True)
            tokenizer = getattr(loaded, "backend_tokenizer", None)
            if tokenizer is None:
                return None, f"{source.display_name} has no fast tokenizer"
        tokenizer.no_truncation()
        tokenizer.no_padding()
    except Exception as exc:  # a missing or damaged tokenizer only makes the lengths an estimate
        log.info("No tokenizer for the length check: %s", exc)
        return None, f"the tokenizer of {source.display_name} could not be read here"
    return TokenCounter(tokenizer, source.display_name), None


@dataclass(frozen=True)
class Scanned:
    """Per row: normalised words (as hashes), whitespace word counts of each text, and tokens (None: no tokenizer)."""

    texts: Texts
    words: np.ndarray  # whitespace-separated words of the text
    pair_words: np.ndarray | None  # of the second text
    tokens: np.ndarray  # tokens with the model's special ones, or the estimate


class Cancelled(StudioError):
    """The caller no longer wants the answer (a newer check started); a StudioError, so no one logs it as a bug."""

    def __init__(self, message: str = "The check was stopped; a newer one replaces it."):
        super().__init__(message)


@dataclass(frozen=True)
class _Part:
    """One column of texts: normalised word hashes, per row their count, the whitespace words and the tokens."""

    hashes: np.ndarray
    normalised: np.ndarray
    words: np.ndarray
    tokens: np.ndarray


# A word's entry in WordTable: its normalised hash in the high bits, its tokens in the low TOKEN_BITS.
TOKEN_BITS = 12
_TOKEN_MASK = (1 << TOKEN_BITS) - 1
# Ends each row in a chunk's one split; a CSV cell cannot hold a NUL character, so no text has this word.
_ROW_END = "\x00"
_ROW_END_ENTRY = -1
_UNKNOWN = -2  # a word not learnt yet


class WordTable:
    """What each distinct word normalises to and how many tokens it is; shared by the files of one check.

    One dict lookup per word gives both, packed in one integer, so that a row costs a split and C-level maps.
    A word that normalises to nothing (a lone dash) has hash 0 and is left out of the comparison.
    """

    def __init__(self, counter: TokenCounter | None = None):
        self.counter = counter
        self._entries: dict[str, int] = {_ROW_END: _ROW_END_ENTRY}

    def _learn(self, new: list[str]) -> None:
        if not new:
            return
        counts = self.counter.count(new) if self.counter is not None else [0] * len(new)
        shift = TOKEN_BITS
        for word, count in zip(new, counts, strict=True):
            unit = normalise_word(word)
            # A 51-bit hash of the normalised word (never 0 for a real word), then the token count: < 2**63.
            # Not Python's hash(), which changes from run to run: the same file gives the same findings.
            code = (_stable_hash(unit) & ((1 << 50) - 1)) | (1 << 50) if unit else 0
            self._entries[word] = (code << shift) | min(count, _TOKEN_MASK)

    def _scan_part(self, texts: list[str], stop: Event | None, report: Callable[[int], None] | None) -> _Part:
        entry = self._entries.get
        hashes, normalised, words, tokens = [], [], [], []
        for start in range(0, len(texts), CHUNK_ROWS):
            if stop is not None and stop.is_set():
                raise Cancelled
            chunk = texts[start : start + CHUNK_ROWS]
            # One split of the whole chunk (C speed); a marker word after each row tells the rows apart again.
            every = f" {_ROW_END} ".join(chunk).split()
            every.append(_ROW_END)
            # Known words in one C-level pass; the few new ones (after the first chunks) are learnt and filled in.
            packed = np.fromiter(map(entry, every, itertools.repeat(_UNKNOWN)), dtype=np.int64, count=len(every))
            unknown = np.flatnonzero(packed == _UNKNOWN)
            if len(unknown):
                new = list(dict.fromkeys(every[i] for i in unknown.tolist()))
                self._learn(new)
                packed[unknown] = [self._entries[every[i]] for i in unknown.tolist()]
            ends = packed == _ROW_END_ENTRY
            row_words = np.diff(np.flatnonzero(ends), prepend=-1) - 1
            packed = packed[~ends]
            code = packed >> TOKEN_BITS
            kept = code != 0
            hashes.append(code[kept])
            normalised.append(_per_row(kept.astype(np.int64), row_words))
            words.append(row_words)
            tokens.append(_per_row(packed & _TOKEN_MASK, row_words))
            if report is not None:
                report(start + len(chunk))
            time.sleep(0)  # let a waiting thread (the window) have the GIL between chunks
        parts = (hashes, normalised, words, tokens)
        return _Part(*(np.concatenate(x) if x else np.empty(0, dtype=np.int64) for x in parts))

    def scan(
        self,
        texts: list[str],
        pairs: list[str] | None = None,
        stop: Event | None = None,
        report: Callable[[int, int], None] | None = None,
    ) -> Scanned:
        """Hash every row's normalised words (a pair's two texts joined by a separator) and count its tokens."""
        total = len(texts) * (2 if pairs is not None else 1)

        def progress(done: int, before: int = 0) -> None:
            if report is not None:
                report(before + done, total)

        text = self._scan_part(texts, stop, progress)
        if pairs is None:
            hashes, normalised = text.hashes, text.normalised
            if self.counter is not None:
                tokens = text.tokens + self.counter.specials(False)
            else:
                tokens = np.ceil(text.words * TOKENS_PER_WORD).astype(np.int64) + 2
            pair_words = None
        else:
            second = self._scan_part(pairs, stop, lambda d: progress(d, len(texts)))
            hashes, normalised = _interleave(text, second)
            if self.counter is not None:
                tokens = text.tokens + second.tokens + self.counter.specials(True)
            else:
                tokens = np.ceil((text.words + second.words) * TOKENS_PER_WORD).astype(np.int64) + 3
            pair_words = second.words
        offsets = np.zeros(len(texts) + 1, dtype=np.int64)
        np.cumsum(normalised, out=offsets[1:])
        return Scanned(Texts(mix64(hashes.view(np.uint64)), offsets), text.words, pair_words, tokens)


def _interleave(first: _Part, second: _Part) -> tuple[np.ndarray, np.ndarray]:
    """Each row's words of the first text, the separator, then those of the second: (hashes, per-row counts)."""
    a, b = first.normalised, second.normalised
    lengths = a + b + 1
    starts = np.cumsum(lengths) - lengths
    out = np.empty(int(lengths.sum()), dtype=np.int64)
    out[starts + a] = _SEPARATOR_HASH
    out[_positions(a, starts)] = first.hashes
    out[_positions(b, starts + a + 1)] = second.hashes
    return out, lengths


def _positions(counts: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """starts[i], starts[i] + 1, ... for counts[i] positions, for every row i in turn."""
    within = np.arange(int(counts.sum())) - np.repeat(np.cumsum(counts) - counts, counts)
    return np.repeat(starts, counts) + within


def _per_row(per_word: np.ndarray, row_words: np.ndarray) -> np.ndarray:
    """Sum a per-word array over each row's words (rows may have none)."""
    cumulative = np.zeros(len(per_word) + 1, dtype=np.int64)
    np.cumsum(per_word, out=cumulative[1:])
    ends = np.cumsum(row_words)
    return cumulative[ends] - cumulative[ends - row_words]
