"""Tokenize examples into datasets, cached per (texts, labels, tokenizer, max length); padding is per batch."""

from __future__ import annotations

import hashlib
import logging

from studio.core.data import Examples
from studio.core.paths import cache_dir

log = logging.getLogger(__name__)


def tokenizer_fingerprint(tokenizer) -> str:
    """A hash that changes whenever the tokenizer would split text differently."""
    h = hashlib.sha256()
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is not None:
        h.update(backend.to_str().encode("utf-8"))
    else:
        h.update(f"{type(tokenizer).__name__}|{tokenizer.name_or_path}|{len(tokenizer)}".encode())
    h.update(repr(sorted(tokenizer.special_tokens_map.items())).encode())
    return h.hexdigest()[:16]


def _content_key(texts: list[str], labels: list[int], tokenizer_key: str, max_length: int) -> str:
    h = hashlib.sha256(f"{tokenizer_key}|{max_length}|v1".encode())
    for text, label in zip(texts, labels, strict=False):
        h.update(text.encode("utf-8", "surrogatepass"))
        h.update(b"\x1f%d\x1e" % label)
    return h.hexdigest()[:24]


# No token is longer than this many characters in practice; clipping first keeps a 100 MB cell from
# being tokenized whole only to be truncated afterwards.
CHARS_PER_TOKEN_BOUND = 64


def clip(text: str, max_length: int) -> str:
    return text[: max_length * CHARS_PER_TOKEN_BOUND]


def tokenize(texts: list[str], labels: list[int], tokenizer, max_length: int, tokenizer_key: str | None = None):
    """A datasets.Dataset of input ids (unpadded), attention masks and labels; reused from the cache if seen."""
    from datasets import Dataset

    key = _content_key(texts, labels, tokenizer_key or tokenizer_fingerprint(tokenizer), max_length)
    folder = cache_dir() / "tokenized"
    folder.mkdir(parents=True, exist_ok=True)

    def encode(batch):
        # No padding here: DataCollatorWithPadding pads each batch to its own longest row.
        return tokenizer([clip(t, max_length) for t in batch["text"]], truncation=True, max_length=max_length)

    raw = Dataset.from_dict({"text": texts, "labels": labels})
    return raw.map(
        encode,
        batched=True,
        batch_size=1000,
        remove_columns=["text"],
        cache_file_name=str(folder / f"{key}.arrow"),
        load_from_cache_file=True,
        desc="Tokenizing",
    )


def tokenize_examples(examples: Examples, tokenizer, max_length: int):
    """(train, validation) datasets for the Trainer."""
    fingerprint = tokenizer_fingerprint(tokenizer)
    train = tokenize(examples.train_texts, examples.train_labels, tokenizer, max_length, fingerprint)
    validation = tokenize(examples.validation_texts, examples.validation_labels, tokenizer, max_length, fingerprint)
    return train, validation
