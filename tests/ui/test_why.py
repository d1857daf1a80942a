"""Why this prediction: the Inference tab colours the words by attribution and shows the attention, computed in the
background while the window stays responsive."""

from __future__ import annotations

import itertools
import time

import pytest
from PySide6.QtCore import Qt, QTimer

from tests.conftest import make_tiny_model

pytestmark = pytest.mark.qt_log_ignore("propagateSizeHints")


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    return make_tiny_model(tmp_path_factory.mktemp("why-model"), ["negative", "positive"], layers=3)


@pytest.fixture
def page(qtbot):
    from studio.ui.pages.inference_page import InferencePage
    from studio.ui.settings import Settings
    from studio.ui.tasks import TaskRunner

    tasks = TaskRunner()
    widget = InferencePage(tasks, Settings())
    widget._test_tasks = tasks
    qtbot.addWidget(widget)
    widget.resize(1200, 900)
    widget.show()
    yield widget
    tasks.wait(60_000)


def _predict(qtbot, page, text: str) -> None:
    page.input.setPlainText(text)
    qtbot.mouseClick(page.predict_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: page.output.text() != "" and page.predict_button.isEnabled(), timeout=60_000)


def test_explain_colours_the_words_and_shows_the_attention_without_freezing(qtbot, page, model_dir):
    from studio.ui.attribution_view import colour

    page.set_model_folder(str(model_dir))
    text = "what a lovely day, the sun is shining and everything is wonderful"
    _predict(qtbot, page, text)
    assert page.explain_button.isEnabled()
    # The GUI thread's lateness while the attributions are computed: a 20 ms timer must keep ticking.
    ticks: list[float] = []
    timer = QTimer()
    timer.timeout.connect(lambda: ticks.append(time.perf_counter()))
    timer.start(20)
    started = time.perf_counter()
    with qtbot.waitSignal(page.explained, timeout=120_000):
        qtbot.mouseClick(page.explain_button, Qt.MouseButton.LeftButton)
        assert not page.predict_button.isEnabled()  # one job at a time uses the model
    ended = time.perf_counter()
    timer.stop()
    # From the click to the answer, however quick, no stretch without a tick: a job on the GUI thread would
    # leave one as long as itself.
    gaps = [b - a for a, b in itertools.pairwise([started, *ticks, ended])]
    assert max(gaps) < 0.5, f"the window froze for {max(gaps):.2f} s"

    view = page.attribution
    words = view.shown_words()
    assert [w.word for w in words] == text.split()
    assert max(abs(w.score) for w in words) == pytest.approx(1.0)
    assert view.target.itemText(0) == page.output.text()  # the predicted label is what is explained
    shown = view.words.toHtml()
    strongest = max(words, key=lambda w: abs(w.score))
    assert colour(strongest.score)[1:] in shown.lower()
    assert "pushed against" in view.legend.text() and "pushed towards" in view.legend.text()

    attention = page.attention
    assert attention.layer.maximum() == 3 and attention.head.maximum() == 2
    first = attention.matrix().copy()
    n = first.shape[0]
    assert n == len(attention._attention.tokens) > len(text.split())  # sub-tokens with [CLS] and [SEP]
    assert attention.image.image.shape == (n, n)
    attention.layer.setValue(1)
    attention.head.setValue(2)
    assert not (attention.matrix() == first).all()
    assert attention.image.image.shape == (n, n)
    rows = attention.matrix().sum(axis=1)
    assert rows == pytest.approx([1.0] * n, abs=1e-4)  # each token's attention sums to one


def test_a_new_prediction_clears_the_explanation(qtbot, page, model_dir):
    page.set_model_folder(str(model_dir))
    _predict(qtbot, page, "terrible service")
    with qtbot.waitSignal(page.explained, timeout=120_000):
        qtbot.mouseClick(page.explain_button, Qt.MouseButton.LeftButton)
    assert page.attribution.shown_words()
    _predict(qtbot, page, "great service")
    assert page.attribution.shown_words() == []
    assert page.attention.matrix() is None
    assert page.explain_button.isEnabled()


def test_open_in_inference_predicts_the_row(qtbot, page, model_dir):
    page.set_model_folder(str(model_dir))
    page.show_text("a validation row to try")
    qtbot.waitUntil(lambda: page.output.text() != "" and page.predict_button.isEnabled(), timeout=60_000)
    assert page.input.toPlainText() == "a validation row to try"


def test_entities_are_explained_one_by_one(qtbot, tmp_path):
    """NER: one attribution per predicted entity (core, on a tiny token-classification model)."""
    import torch
    from transformers import AutoTokenizer, BertConfig, BertForTokenClassification

    from studio.core.attributions import explain
    from studio.core.inference import Predictor
    from studio.core.modeling import builtin_model_path

    tags = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC"]
    tokenizer = AutoTokenizer.from_pretrained(builtin_model_path())
    config = BertConfig(
        vocab_size=tokenizer.vocab_size,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=37,
        max_position_embeddings=128,
        id2label=dict(enumerate(tags)),
        label2id={t: i for i, t in enumerate(tags)},
        studio_task="token",
    )
    torch.manual_seed(1)
    model = BertForTokenClassification(config)
    with torch.no_grad():
        model.classifier.bias.copy_(torch.tensor([0.0, 3.0, 0.0, 0.0, 0.0]))  # every word starts a person
    model.save_pretrained(tmp_path)
    tokenizer.save_pretrained(tmp_path)
    predictor = Predictor(tmp_path, device="cpu")
    found = explain(predictor, "Alice met Bob")
    assert [a.target for a in found] == ["PER: Alice", "PER: met", "PER: Bob"]
    assert all([w.word for w in a.words] == ["Alice", "met", "Bob"] for a in found)
