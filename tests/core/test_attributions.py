"""Integrated gradients on the embeddings and the attention of a text, on tiny models (no Qt)."""

from __future__ import annotations

import pytest

from tests.conftest import make_tiny_model


@pytest.fixture(scope="module")
def predictor(tmp_path_factory):
    from studio.core.inference import Predictor

    folder = make_tiny_model(tmp_path_factory.mktemp("attr"), ["ham", "spam", "eggs"], layers=2)
    return Predictor(folder, device="cpu")


def test_words_get_scores_that_add_up_to_the_change_in_the_logit(predictor):
    import torch

    from studio.core.attributions import explain

    text = "win a free prize now, call today"
    (found,) = explain(predictor, text, steps=64)
    assert found.target == predictor.predict([text])[0].label
    assert [w.word for w in found.words] == text.split()
    assert max(abs(w.score) for w in found.words) == pytest.approx(1.0)
    assert all(text[w.start : w.end] == w.word for w in found.words)
    # Completeness: the attributions sum to the logit's change from the baseline (all padding between the
    # special tokens), up to captum's convergence delta.
    encoded = predictor.tokenizer(text, return_tensors="pt")
    ids = encoded["input_ids"]
    baseline = ids.clone()
    baseline[0, 1:-1] = predictor.tokenizer.pad_token_id
    target = predictor.labels.index(found.target)
    with torch.no_grad():
        change = (
            predictor.model(input_ids=ids, attention_mask=encoded["attention_mask"]).logits[0, target]
            - predictor.model(input_ids=baseline, attention_mask=encoded["attention_mask"]).logits[0, target]
        )
    assert found.total == pytest.approx(float(change), abs=max(1e-3, 2 * abs(found.delta)))
    tokens = [t for t, _ in found.tokens]
    assert tokens[0] == "[CLS]" and tokens[-1] == "[SEP]"


def test_a_chosen_label_and_bad_input(predictor):
    from studio.core.attributions import explain
    from studio.core.errors import StudioError

    (found,) = explain(predictor, "hello there", target="eggs")
    assert found.target == "eggs"
    with pytest.raises(StudioError, match="no label 'bacon'"):
        explain(predictor, "hello there", target="bacon")
    with pytest.raises(StudioError, match="Type a text"):
        explain(predictor, "   ")


def test_attention_of_each_layer_and_head(predictor):
    import numpy as np

    from studio.core.attributions import attention
    from studio.core.errors import StudioError

    found = attention(predictor, "a short text")
    assert found.layers == 2 and found.heads == 2
    n = len(found.tokens)
    assert found.tokens[0] == "[CLS]" and found.weights.shape == (2, 2, n, n)
    assert np.allclose(found.matrix(1, 1).sum(axis=1), 1.0, atol=1e-4)
    with pytest.raises(StudioError, match="choose a layer from 1 to 2"):
        found.matrix(2, 0)


def test_the_model_keeps_its_fast_attention_afterwards(predictor):
    from studio.core.attributions import attention

    before = predictor.model.config._attn_implementation
    attention(predictor, "text")
    assert predictor.model.config._attn_implementation == before


def test_multi_label_explains_every_label_above_its_threshold(tmp_path):
    import torch
    from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification

    from studio.core.attributions import explain
    from studio.core.inference import Predictor
    from studio.core.modeling import builtin_model_path

    labels = ["a", "b", "c"]
    tokenizer = AutoTokenizer.from_pretrained(builtin_model_path())
    config = BertConfig(
        vocab_size=tokenizer.vocab_size,
        hidden_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=37,
        max_position_embeddings=64,
        id2label=dict(enumerate(labels)),
        label2id={n: i for i, n in enumerate(labels)},
        problem_type="multi_label_classification",
    )
    torch.manual_seed(0)
    model = BertForSequenceClassification(config)
    with torch.no_grad():
        model.classifier.bias.copy_(torch.tensor([4.0, -4.0, 4.0]))  # a and c above 0.5, b below
    model.save_pretrained(tmp_path)
    tokenizer.save_pretrained(tmp_path)
    found = explain(Predictor(tmp_path, device="cpu"), "some words here")
    assert [a.target for a in found] == ["a", "c"]
