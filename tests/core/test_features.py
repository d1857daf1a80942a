"""Tokenization: a huge cell is clipped before the tokenizer sees it, and comes out at the maximum length."""

from __future__ import annotations

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
