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
    h = hashlib.sha256(f"{tokenizer_key}|{max_length}|v2".encode())
    for text, label in zip(texts, labels, strict=False):
        h.update(text.encode("utf-8", "surrogatepass"))
        h.update(b"\x1f%d\x1e" % label)
    return h.hexdigest()[:24]


# No token is longer than this many characters in practice; clipping first keeps a 100 MB cell from
# being tokenized whole only to be truncated afterwards.
CHARS_PER_TOKEN_BOUND = 64


def clip(text: str, max_length: int) -> str:
    return text[: max_length * CHARS_PER_TOKEN_BOUND]


def keeps_token_type_ids(tokenizer) -> bool:
    """Whether a single text's token type ids carry information (XLNet, Funnel mark the CLS token with 2).

    For the rest (BERT and kin) they are all 0, which is what the model assumes when they are absent, so they
    are not stored: one list column less to write, read and collate per row.
    """
    probe = tokenizer("probe text", truncation=True, return_attention_mask=False)
    return any(probe.get("token_type_ids") or ())


def tokenize(texts: list[str], labels: list[int], tokenizer, max_length: int, tokenizer_key: str | None = None):
    """A datasets.Dataset of unpadded input ids and labels; reused from the cache if seen.

    The attention mask is left to DataCollatorWithPadding, which builds it while padding each batch; storing
    the all-ones mask of an unpadded row would only double what is written, read and collated.
    """
    import pyarrow as pa
    from datasets import Dataset

    key = _content_key(texts, labels, tokenizer_key or tokenizer_fingerprint(tokenizer), max_length)
    folder = cache_dir() / "tokenized"
    folder.mkdir(parents=True, exist_ok=True)
    with_types = keeps_token_type_ids(tokenizer)
    ids_type = pa.list_(pa.int32())

    def encode(batch: pa.Table) -> pa.Table:
        # Arrow in, Arrow out: the ids go straight into an Arrow list column, without datasets converting
        # each batch's Python lists row by row (with the mask and token types: ~40 % on top of the tokenizer).
        encoded = tokenizer(
            [clip(t, max_length) for t in batch.column("text").to_pylist()],
            truncation=True,
            max_length=max_length,
            return_attention_mask=False,
            return_token_type_ids=with_types,
        )
        columns = {"input_ids": pa.array(encoded["input_ids"], type=ids_type), "labels": batch.column("labels")}
        if with_types:
            columns["token_type_ids"] = pa.array(encoded["token_type_ids"], type=ids_type)
        return pa.table(columns)

    raw = Dataset.from_dict({"text": texts, "labels": labels})
    dataset = raw.with_format("arrow").map(
        encode,
        batched=True,
        batch_size=1000,
        remove_columns=["text", "labels"],
        cache_file_name=str(folder / f"{key}.arrow"),
        load_from_cache_file=True,
        # The content key already names this result; without it datasets pickles the tokenizer to hash it.
        new_fingerprint=key,
        desc="Tokenizing",
    )
    return dataset.with_format(None)


def tokenize_examples(examples: Examples, tokenizer, max_length: int):
    """(train, validation) datasets for the Trainer."""
    fingerprint = tokenizer_fingerprint(tokenizer)
    train = tokenize(examples.train_texts, examples.train_labels, tokenizer, max_length, fingerprint)
    validation = tokenize(examples.validation_texts, examples.validation_labels, tokenizer, max_length, fingerprint)
    return train, validation
