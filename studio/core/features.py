"""Tokenize examples into datasets, cached per (texts, labels, tokenizer, max length); padding is per batch."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable

from studio.core.paths import cache_dir
from studio.core.tasks.base import Examples

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


def content_key(columns: dict[str, list], *parts: object) -> str:
    """A hash of every value of the columns and of `parts` (tokenizer, max length, encoding version)."""
    h = hashlib.sha256("|".join(str(p) for p in parts).encode())
    for name in sorted(columns):
        h.update(f"\x1d{name}\x1d".encode())
        for value in columns[name]:
            h.update(repr(value).encode("utf-8", "surrogatepass"))
            h.update(b"\x1e")
    return h.hexdigest()[:24]


# No token is longer than this many characters in practice; clipping first keeps a 100 MB cell from
# being tokenized whole only to be truncated afterwards.
CHARS_PER_TOKEN_BOUND = 64


def clip(text: str, max_length: int) -> str:
    return text[: max_length * CHARS_PER_TOKEN_BOUND]


# On a CPU a batch holds at most this many tokens, padding included (rows x its longest row). Measured on the
# built-in model labelling 1,000 sms_spam rows on 2 cores: batches sorted by token length and capped at 512 to
# 1,024 tokens took about 0.6x the time of 32 rows sorted by characters with PyTorch, and 0.45x with ONNX Runtime
# int8; 2,048 was slower again (the activations leave the cache), 128 too (per-call overhead). A GPU keeps its
# full batches: there, the more rows per call the better.
CPU_BATCH_TOKENS = 1024


def length_batches(lengths: list[int], max_rows: int, max_tokens: int | None = None) -> list[list[int]]:
    """Row indices in batches of similar length, shortest first: at most max_rows rows each and, when max_tokens is
    given, at most max_tokens tokens with padding (short texts share big batches, long ones go a few at a time)."""
    batches: list[list[int]] = []
    batch: list[int] = []
    for i in sorted(range(len(lengths)), key=lengths.__getitem__):
        # Sorted, so row i is the batch's longest: the batch pads to its length.
        if batch and (len(batch) >= max_rows or (max_tokens and (len(batch) + 1) * lengths[i] > max_tokens)):
            batches.append(batch)
            batch = []
        batch.append(i)
    if batch:
        batches.append(batch)
    return batches


def length_slices(arrays: dict, lengths: list[int], left: bool, max_rows: int, max_tokens: int | None = None):
    """For one padded encoding of all rows ((rows, tokens) arrays by input name, each row's token count, padded on
    the left or right): (row indices, the arrays cut to that batch's longest row) for each of length_batches. The
    rows are tokenized once, and each batch carries only the padding its own longest row needs."""
    padded = next(iter(arrays.values())).shape[1]
    for chunk in length_batches(lengths, max_rows, max_tokens):
        longest = max(lengths[i] for i in chunk)
        cut = slice(padded - longest, None) if left else slice(0, longest)
        yield chunk, {name: value[chunk, cut] for name, value in arrays.items()}


def keeps_token_type_ids(tokenizer) -> bool:
    """Whether a single text's token type ids carry information (XLNet, Funnel mark the CLS token with 2).

    For the rest (BERT and kin) they are all 0, which is what the model assumes when they are absent, so they
    are not stored: one list column less to write, read and collate per row.
    """
    probe = tokenizer("probe text", truncation=True, return_attention_mask=False)
    return any(probe.get("token_type_ids") or ())


def cached_map(columns: dict[str, list], encode: Callable, key: str, column_types: dict | None = None):
    """A datasets.Dataset made by `encode` (an Arrow table of a batch -> an Arrow table) over `columns`, cached.

    The result is written once under the cache folder, named by `key` (see content_key), and read back the next
    time: a second run on the same data and tokenizer skips the tokenizer entirely.
    """
    import pyarrow as pa
    from datasets import Dataset

    folder = cache_dir() / "tokenized"
    folder.mkdir(parents=True, exist_ok=True)
    raw = Dataset(pa.table({n: pa.array(v, type=(column_types or {}).get(n)) for n, v in columns.items()}))
    dataset = raw.with_format("arrow").map(
        encode,
        batched=True,
        batch_size=1000,
        remove_columns=list(columns),
        cache_file_name=str(folder / f"{key}.arrow"),
        load_from_cache_file=True,
        # The content key already names this result; without it datasets pickles the tokenizer to hash it.
        new_fingerprint=key,
        desc="Tokenizing",
    )
    return dataset.with_format(None)


def tokenize(
    texts: list[str],
    labels: list,
    tokenizer,
    max_length: int,
    tokenizer_key: str | None = None,
    pairs: list[str] | None = None,
    label_type=None,
):
    """A datasets.Dataset of unpadded input ids and labels (and a second text's ids); reused from the cache if seen.

    The attention mask is left to DataCollatorWithPadding, which builds it while padding each batch; storing
    the all-ones mask of an unpadded row would only double what is written, read and collated. Pairs are
    encoded together ([CLS] a [SEP] b [SEP]); truncation takes from the longer side first, keeping both.
    """
    import pyarrow as pa

    label_type = label_type if label_type is not None else pa.int64()
    columns: dict[str, list] = {"text": texts, "labels": labels}
    if pairs is not None:
        columns["pair"] = pairs
    key = content_key(columns, tokenizer_key or tokenizer_fingerprint(tokenizer), max_length, str(label_type), "v3")
    # A pair's token types tell the model which side a token is on; a single text's are only kept where they
    # carry information (keeps_token_type_ids).
    with_types = pairs is not None or keeps_token_type_ids(tokenizer)
    ids_type = pa.list_(pa.int32())

    def encode(batch: pa.Table) -> pa.Table:
        # Arrow in, Arrow out: the ids go straight into an Arrow list column, without datasets converting
        # each batch's Python lists row by row (with the mask and token types: ~40 % on top of the tokenizer).
        first = [clip(t, max_length) for t in batch.column("text").to_pylist()]
        second = [clip(t, max_length) for t in batch.column("pair").to_pylist()] if pairs is not None else None
        texts = (first,) if second is None else (first, second)
        encoded = tokenizer(
            *texts,
            truncation="longest_first" if second is not None else True,
            max_length=max_length,
            return_attention_mask=False,
            return_token_type_ids=with_types,
        )
        out = {"input_ids": pa.array(encoded["input_ids"], type=ids_type), "labels": batch.column("labels")}
        if with_types and "token_type_ids" in encoded:
            out["token_type_ids"] = pa.array(encoded["token_type_ids"], type=ids_type)
        return pa.table(out)

    return cached_map(columns, encode, key, {"labels": label_type})


def tokenize_sequences(examples: Examples, tokenizer, max_length: int, label_type=None):
    """(train, validation) datasets for the Trainer, for any task whose rows are a text (or a pair) and a label."""
    from studio.core.tasks import get_task

    task = get_task(examples.task)
    fingerprint = tokenizer_fingerprint(tokenizer)
    train = tokenize(
        examples.train_texts,
        task.encode_labels(examples.train_labels, examples),
        tokenizer,
        max_length,
        fingerprint,
        examples.train_pairs,
        label_type,
    )
    validation = tokenize(
        examples.validation_texts,
        task.encode_labels(examples.validation_labels, examples),
        tokenizer,
        max_length,
        fingerprint,
        examples.validation_pairs,
        label_type,
    )
    return train, validation


def tokenize_examples(examples: Examples, tokenizer, max_length: int):
    """(train, validation) datasets for the Trainer, as the examples' task encodes them."""
    from studio.core.tasks import get_task

    return get_task(examples.task).tokenize(examples, tokenizer, max_length)
