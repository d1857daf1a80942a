"""The unlabelled text of a domain adaptation: read a text file or a CSV column, hold some out, pack it into blocks."""

from __future__ import annotations

import csv
import io
import random
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from studio.core.errors import DataError

# Below this, neither the held-out perplexity nor the training means anything.
MIN_PASSAGES = 10
MIN_WORDS = 500
# The held-out passages are evaluated before, during and after training: enough for a steady perplexity, no more.
MAX_HELDOUT_PASSAGES = 1000
_CSV_SUFFIXES = (".csv", ".tsv")


@dataclass(frozen=True)
class Corpus:
    """The passages of a corpus file (one a line, or one a CSV row), and where they came from."""

    path: Path
    passages: list[str]
    text_column: str | None  # the CSV column read; None for a plain text file

    @property
    def words(self) -> int:
        return sum(len(p.split()) for p in self.passages)


def read_corpus(path: str | Path, text_column: str | None = None) -> Corpus:
    """A plain text file (one passage a line) or a CSV (its text column, given or inferred); DataError otherwise."""
    from studio.core.csvio import detect_encoding

    path = Path(path).expanduser()
    name = path.name or str(path)
    if not path.exists():
        raise DataError(f"The file {path} does not exist; check the path or choose the file again.")
    if path.is_dir():
        raise DataError(f"{path} is a folder; choose a text file (one passage a line) or a CSV file.")
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise DataError(f"Could not read {path}: {exc.strerror or exc}.") from exc
    if not raw.strip():
        raise DataError(f"{name} is empty; give a text file with one passage a line, or a CSV with a text column.")
    # The CSV reader's check refuses images, archives and other binary files with a sentence naming what they are.
    try:
        encoding = detect_encoding(raw[:65536], name, lambda: [raw])
    except DataError as exc:
        raise DataError(
            str(exc).replace("not a CSV file; save the data as CSV (comma-separated values)", "not text")
            + " Give a plain text file (one passage a line) or a CSV with a text column."
        ) from exc
    text = raw.decode(encoding)
    if path.suffix.lower() in _CSV_SUFFIXES:
        passages, column = _csv_passages(path, text, text_column)
    else:
        if text_column:
            raise DataError(
                f"{name} is a plain text file, which has no columns; leave out --text-column, or give a CSV file."
            )
        passages, column = [line.strip() for line in text.splitlines() if line.strip()], None
    if not passages:
        raise DataError(f"{name} holds no text; give a file with one passage a line, or a CSV with a text column.")
    corpus = Corpus(path=path, passages=passages, text_column=column)
    if len(passages) < MIN_PASSAGES or corpus.words < MIN_WORDS:
        raise DataError(
            f"{name} holds only {len(passages)} passage{'s' if len(passages) != 1 else ''} ({corpus.words} words): "
            f"too little to hold some out and train on the rest; adapting needs at least {MIN_PASSAGES} passages "
            f"and {MIN_WORDS} words (thousands of passages are usual)."
        )
    return corpus


def _csv_passages(path: Path, text: str, text_column: str | None) -> tuple[list[str], str]:
    from studio.core.csvio import read_table
    from studio.core.data import check_column, infer_columns

    header = next(csv.reader(io.StringIO(text.lstrip("\ufeff"))), [])
    if len([c for c in header if c.strip()]) == 1:
        # One column is a complete corpus (the CSV reader wants a label column too): read it as it is.
        column = header[0].strip()
        if text_column and text_column != column:
            raise DataError(
                f"{path.name} has no column named {text_column!r}; its only column is {column!r}. "
                "Choose the text column from those."
            )
        rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))[1:]
        return [r[0].strip() for r in rows if r and r[0].strip()], column
    table = read_table(path)
    check_column(table, text_column, "text")
    column = text_column or infer_columns(table).text
    return [v.strip() for v in table.column(column) if v.strip()], column


def split_passages(passages: Sequence[str], share: float, seed: int) -> tuple[list[str], list[str]]:
    """(training, held-out) passages: `share` of them held out at random (at least 1, at most 1,000)."""
    order = list(range(len(passages)))
    random.Random(seed).shuffle(order)
    held = max(1, min(MAX_HELDOUT_PASSAGES, round(share * len(passages))))
    held_out = sorted(order[:held])
    kept = sorted(order[held:])
    return [passages[i] for i in kept], [passages[i] for i in held_out]


@dataclass(frozen=True)
class Packed:
    """Token blocks of one length: the ids, which are special tokens, and (for whole-word masking) character offsets.

    The stream of every passage's tokens (each with its [CLS] and [SEP]) is cut into blocks of `block` tokens; the
    last block is topped up from the stream's start, so that no token is lost and none is padding.
    """

    input_ids: Any  # numpy int64 [blocks, block]
    special_tokens_mask: Any  # numpy int64 [blocks, block]
    offset_mapping: Any | None  # numpy int64 [blocks, block, 2]
    tokens: int  # tokens in the stream (each once)

    def __len__(self) -> int:
        return int(self.input_ids.shape[0])


def pack(passages: Sequence[str], tokenizer, block: int, offsets: bool = False, chunk: int = 2000) -> Packed:
    """Tokenize the passages and pack the stream into blocks of `block` tokens (one shorter block if all is less)."""
    import numpy as np

    ids: list = []
    special: list = []
    spans: list = []
    for start in range(0, len(passages), chunk):
        enc = tokenizer(
            list(passages[start : start + chunk]),
            add_special_tokens=True,
            truncation=False,
            return_special_tokens_mask=True,
            return_offsets_mapping=offsets,
            return_attention_mask=False,
            return_token_type_ids=False,
            verbose=False,
        )
        ids.extend(np.asarray(x, dtype=np.int64) for x in enc["input_ids"])
        special.extend(np.asarray(x, dtype=np.int64) for x in enc["special_tokens_mask"])
        if offsets:
            spans.extend(np.asarray(x, dtype=np.int64).reshape(-1, 2) for x in enc["offset_mapping"])
    stream = np.concatenate(ids)
    total = len(stream)
    width = min(block, total)
    blocks = -(-total // width)
    # Wrap around: the last block takes its missing tokens from the beginning, never padding.
    take = np.arange(blocks * width) % total

    def cut(a):
        return a[take].reshape(blocks, width, *a.shape[1:])

    return Packed(
        input_ids=cut(stream),
        special_tokens_mask=cut(np.concatenate(special)),
        offset_mapping=cut(np.concatenate(spans)) if offsets else None,
        tokens=total,
    )


class BlockDataset:
    """Packed blocks as a torch-style dataset; rows with `labels` are held-out blocks masked once, up front."""

    def __init__(self, packed: Packed, labels=None, masked_ids=None):
        self.packed = packed
        self.labels = labels
        self.masked_ids = masked_ids

    def __len__(self) -> int:
        return len(self.packed)

    def __getitem__(self, i: int) -> dict:
        import torch

        if self.labels is not None:
            return {"input_ids": torch.as_tensor(self.masked_ids[i]), "labels": torch.as_tensor(self.labels[i])}
        row = {
            "input_ids": torch.as_tensor(self.packed.input_ids[i]),
            "special_tokens_mask": torch.as_tensor(self.packed.special_tokens_mask[i]),
        }
        if self.packed.offset_mapping is not None:
            row["offset_mapping"] = torch.as_tensor(self.packed.offset_mapping[i])
        return row


class PackedCollator:
    """Stacks blocks of one length (no padding) and masks them with HF's DataCollatorForLanguageModeling.

    Held-out rows come masked already (with a fixed seed), so every evaluation scores the same masked tokens.
    """

    def __init__(self, tokenizer, mlm_probability: float, whole_word: bool, seed: int | None = None):
        from transformers import DataCollatorForLanguageModeling

        # Whole-word masking replaces every chosen word by [MASK] (HF forbids random replacement with it).
        self.masker = DataCollatorForLanguageModeling(
            tokenizer,
            mlm_probability=mlm_probability,
            whole_word_mask=whole_word,
            mask_replace_prob=1.0 if whole_word else 0.8,
            random_replace_prob=0.0 if whole_word else 0.1,
            seed=seed,
        )

    def __call__(self, rows: list[dict]) -> dict:
        import torch

        batch = {k: torch.stack([r[k] for r in rows]) for k in rows[0]}
        if "labels" in batch:
            return batch
        if self.masker.seed is not None and self.masker.generator is None:
            self.masker.create_rng("pt")
        inputs, labels = self.masker.torch_mask_tokens(
            batch["input_ids"].clone(),
            special_tokens_mask=batch["special_tokens_mask"],
            offset_mapping=batch.get("offset_mapping"),
        )
        return {"input_ids": inputs, "labels": labels}


def masked_once(packed: Packed, tokenizer, mlm_probability: float, whole_word: bool, seed: int) -> BlockDataset:
    """The held-out blocks masked with a fixed seed: the same masked tokens before, during and after training."""
    import numpy as np

    collator = PackedCollator(tokenizer, mlm_probability, whole_word, seed=seed)
    plain = BlockDataset(packed)
    ids, labels = [], []
    for start in range(0, len(plain), 64):
        batch = collator([plain[i] for i in range(start, min(start + 64, len(plain)))])
        ids.append(batch["input_ids"].numpy())
        labels.append(batch["labels"].numpy())
    masked, targets = np.concatenate(ids), np.concatenate(labels)
    # A short block may draw no mask at all, and its loss would be undefined: mask its first ordinary token.
    for row in np.flatnonzero((targets == -100).all(axis=1)):
        ordinary = np.flatnonzero(packed.special_tokens_mask[row] == 0)
        if len(ordinary):
            at = ordinary[0]
            targets[row, at] = packed.input_ids[row, at]
            masked[row, at] = tokenizer.mask_token_id
    return BlockDataset(packed, labels=targets, masked_ids=masked)
