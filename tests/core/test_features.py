"""Tokenization: a huge cell is clipped before the tokenizer sees it, and comes out at the maximum length."""

from __future__ import annotations

import pytest
from transformers import AutoTokenizer

from studio.core.features import clip, tokenize


def test_a_huge_cell_is_clipped_then_truncated(tiny_model_dir):
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    huge = "word " * 2_000_000  # 10 MB in one cell
    assert len(clip(huge, 32)) <= 32 * 64
    assert clip("a short text", 32) == "a short text"
    dataset = tokenize([huge, "a short text"], [0, 1], tokenizer, max_length=32)
    lengths = [len(ids) for ids in dataset["input_ids"]]
    assert lengths[0] == 32
    assert lengths[1] < 32


def test_tokenized_rows_collate_to_what_the_tokenizer_pads(tiny_model_dir):
    import torch
    from transformers import BertForSequenceClassification, DataCollatorWithPadding

    from studio.core.trainer import _lengths

    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    texts = ["a short one", "a somewhat longer text with more words in it", "mid length text", "x " * 100]
    dataset = tokenize(texts, [0, 1, 0, 1], tokenizer, max_length=32)
    # For BERT a single text's token types are all 0, the model's own default, so only the ids are stored.
    assert dataset.column_names == ["input_ids", "labels"]
    assert _lengths(dataset) == [len(ids) for ids in dataset["input_ids"]] and max(_lengths(dataset)) == 32

    batch = DataCollatorWithPadding(tokenizer)([dataset[i] for i in range(len(texts))])
    padded = tokenizer(texts, truncation=True, max_length=32, padding=True, return_tensors="pt")
    assert torch.equal(batch["input_ids"], padded["input_ids"])
    assert torch.equal(batch["attention_mask"], padded["attention_mask"])
    assert batch["labels"].tolist() == [0, 1, 0, 1]
    # And the model reads both batches the same, with or without the all-zero token types.
    model = BertForSequenceClassification.from_pretrained(tiny_model_dir).eval()
    with torch.no_grad():
        ours = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
        theirs = model(**padded).logits
    assert torch.allclose(ours, theirs)


def test_token_types_are_kept_where_a_single_text_has_non_zero_ones(tiny_model_dir):
    from studio.core.features import keeps_token_type_ids

    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    assert not keeps_token_type_ids(tokenizer)

    class MarksTheClsToken:
        """XLNet and Funnel give the CLS token its own type (2) even for a single text."""

        def __call__(self, texts, **kwargs):
            single = isinstance(texts, str)
            encoded = tokenizer([texts] if single else texts, **kwargs)
            types = [[0] * (len(ids) - 1) + [2] for ids in encoded["input_ids"]]
            encoded["token_type_ids"] = types[0] if single else types
            if single:
                encoded["input_ids"] = encoded["input_ids"][0]
            return encoded

    marking = MarksTheClsToken()
    assert keeps_token_type_ids(marking)
    dataset = tokenize(["one text", "another text here"], [0, 1], marking, max_length=16, tokenizer_key="marks")
    assert dataset.column_names == ["input_ids", "labels", "token_type_ids"]
    assert [row[-1] for row in dataset["token_type_ids"]] == [2, 2]


def test_length_batches_group_similar_lengths_within_the_row_and_token_caps():
    from studio.core.features import length_batches

    lengths = [5, 40, 3, 7, 300, 6, 41, 4, 2, 39]
    batches = length_batches(lengths, max_rows=3, max_tokens=100)
    assert sorted(i for b in batches for i in b) == list(range(len(lengths)))
    flat = [lengths[i] for b in batches for i in b]
    assert flat == sorted(lengths)
    for batch in batches:
        assert len(batch) <= 3
        # A row longer than the budget still goes, alone.
        assert len(batch) * max(lengths[i] for i in batch) <= 100 or len(batch) == 1
    assert [4] in batches
    # Without a token cap only the row cap splits.
    assert [len(b) for b in length_batches(lengths, max_rows=4)] == [4, 4, 2]


@pytest.mark.parametrize("left", [False, True])
def test_length_slices_keep_every_rows_tokens_and_cut_only_padding(left):
    import numpy as np

    from studio.core.features import length_slices

    lengths, padded = [3, 1, 5, 2], 6
    ids = np.zeros((len(lengths), padded), dtype=np.int64)
    for row, n in enumerate(lengths):
        tokens = np.arange(1, n + 1) + 10 * row
        if left:
            ids[row, padded - n :] = tokens
        else:
            ids[row, :n] = tokens
    seen = {}
    for chunk, batch in length_slices({"input_ids": ids}, lengths, left, max_rows=2):
        assert batch["input_ids"].shape == (len(chunk), max(lengths[i] for i in chunk))
        for row, i in enumerate(chunk):
            seen[i] = [int(t) for t in batch["input_ids"][row] if t]
    assert seen == {row: [10 * row + k for k in range(1, n + 1)] for row, n in enumerate(lengths)}
