"""The Adapt page: bad text is a sentence, a real adaptation draws its curves and hands its model on, Stop resumes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFileDialog

from studio.ui.pages.adapt_page import AdaptPage
from tests.conftest import make_tiny_model
from tests.core.test_adapt import repetitive_corpus

TIMEOUT_MS = 300_000
# The page shown on its own is a top-level window, whose size hints the offscreen platform cannot pass on.
pytestmark = pytest.mark.qt_log_ignore("propagateSizeHints")


@pytest.fixture(scope="module")
def tiny_classifier(tmp_path_factory) -> Path:
    """A tiny classifier: it has no masked-LM head, so the adaptation makes a fresh one."""
    return make_tiny_model(tmp_path_factory.mktemp("tiny-classifier"))


@pytest.fixture
def make_page(qtbot):
    pages = []

    def make(model: Path) -> AdaptPage:
        page = AdaptPage(model_spec=lambda: str(model))
        qtbot.addWidget(page)
        page.resize(1400, 900)
        page.show()
        pages.append(page)
        return page

    yield make
    for page in pages:
        page.shutdown()


def _type(qtbot, edit, text: str) -> None:
    edit.selectAll()
    qtbot.keyClick(edit, Qt.Key.Key_Delete)
    qtbot.keyClicks(edit, text)


def _tiny_settings(qtbot, page: AdaptPage, steps: int) -> None:
    page.length_kind.setCurrentIndex(page.length_kind.findData("steps"))
    page.steps.setValue(steps)
    page.max_length.setValue(32)
    page.batch_size.setValue(8)
    page.learning_rate.setValue(3e-3)


def test_bad_text_is_a_sentence_and_nothing_is_left_behind(qtbot, make_page, tiny_classifier, tmp_path):
    from studio.core.paths import runs_dir

    page = make_page(tiny_classifier)
    qtbot.mouseClick(page.start_button, Qt.MouseButton.LeftButton)
    assert page.status.has_error() and "Choose the text to adapt on" in page.status.text()
    assert not page.is_running()

    few = tmp_path / "few.txt"
    few.write_text("just a few words\nand another line\n", encoding="utf-8")
    _type(qtbot, page.corpus, str(few))
    _type(qtbot, page.output, str(tmp_path / "out"))
    with qtbot.waitSignal(page.controller.idle, timeout=TIMEOUT_MS):
        qtbot.mouseClick(page.start_button, Qt.MouseButton.LeftButton)
    assert page.status.has_error() and "holds only 2 passages" in page.status.text()
    assert "Traceback" not in page.log.toPlainText()
    assert not (tmp_path / "out").exists() and not any(runs_dir().iterdir())

    # A folder of the user's own files is refused before anything runs.
    taken = tmp_path / "taken"
    taken.mkdir()
    (taken / "notes.txt").write_text("mine", encoding="utf-8")
    _type(qtbot, page.corpus, str(repetitive_corpus(tmp_path / "corpus.txt")))
    _type(qtbot, page.output, str(taken))
    qtbot.mouseClick(page.start_button, Qt.MouseButton.LeftButton)
    assert not page.is_running() and "already holds other files" in page.status.text()


def test_a_real_adaptation_draws_its_curves_and_hands_its_model_on(qtbot, make_page, tiny_classifier, tmp_path):
    page = make_page(tiny_classifier)
    _type(qtbot, page.corpus, str(repetitive_corpus(tmp_path / "corpus.txt")))
    out = tmp_path / "adapted"
    _type(qtbot, page.output, str(out))
    _tiny_settings(qtbot, page, steps=40)
    with qtbot.waitSignal(page.model_ready, timeout=TIMEOUT_MS) as ready:
        qtbot.mouseClick(page.start_button, Qt.MouseButton.LeftButton)
        assert page.is_running() and page.stop_button.isEnabled() and not page.start_button.isEnabled()
    qtbot.waitUntil(lambda: not page.is_running(), timeout=30_000)

    assert ready.args == [str(out)] and (out / "config.json").is_file()
    metrics = json.loads((out / "adapt_metrics.json").read_text())
    assert metrics["perplexity_after"] < metrics["perplexity_before"]
    text = page.before_after.text()
    assert "before" in text and "after" in text and "%" in text
    points = page.points()
    assert points["loss"] >= 2 and points["perplexity"] >= 2 and points["heldout"] == points["perplexity"]
    assert page.progress.format() == "Done" and not page.status.has_error()
    assert "no masked-language-model head" in page.log.toPlainText()  # the classifier got a fresh head
    with qtbot.waitSignal(page.model_ready, timeout=2000) as again:
        qtbot.mouseClick(page.use_button, Qt.MouseButton.LeftButton)
    assert again.args == [str(out)]


def test_stop_keeps_the_model_so_far_and_resume_finishes_it(qtbot, make_page, tiny_classifier, tmp_path, monkeypatch):
    page = make_page(tiny_classifier)
    _type(qtbot, page.corpus, str(repetitive_corpus(tmp_path / "corpus.txt")))
    out = tmp_path / "adapted"
    _type(qtbot, page.output, str(out))
    _tiny_settings(qtbot, page, steps=60)
    with qtbot.waitSignal(page.controller.idle, timeout=TIMEOUT_MS):
        qtbot.mouseClick(page.start_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: page.progress.value() >= 2, timeout=TIMEOUT_MS)
        qtbot.mouseClick(page.stop_button, Qt.MouseButton.LeftButton)
    assert page.progress.format() == "Stopped" and "Resume" in page.status.text()
    assert json.loads((out / "adapt_metrics.json").read_text())["stopped"]
    run_dir = page.run_dir()
    assert run_dir is not None

    monkeypatch.setattr(QFileDialog, "getExistingDirectory", staticmethod(lambda *a, **k: run_dir))
    with qtbot.waitSignal(page.model_ready, timeout=TIMEOUT_MS):
        qtbot.mouseClick(page.resume_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not page.is_running(), timeout=30_000)
    metrics = json.loads((out / "adapt_metrics.json").read_text())
    assert not metrics["stopped"] and metrics["steps"] == 60
    assert "Resuming from checkpoint-" in page.log.toPlainText()


def test_the_length_is_auto_until_the_user_types_epochs(qtbot, make_page, tiny_classifier):
    page = make_page(tiny_classifier)
    assert page.epochs.text() == "auto" and page.form.config("m").epochs is None
    page.epochs.setFocus()
    page.epochs.selectAll()
    qtbot.keyClicks(page.epochs, "2")
    assert page.form.config("m").epochs == 2.0


def test_a_narrow_perplexity_view_still_has_numbers_on_its_axis(qtbot, make_page, tiny_classifier):
    import math

    # The page's own plot: a loose AxisItem, collected after the test, crashed a later one's event loop.
    page = make_page(tiny_classifier)
    plot = page.curves.perplexity_plot
    axis = plot.getAxis("left")
    for low, high in ((2095, 2555), (1296, 1592), (40.2, 41.9), (50, 30_000)):
        plot.setYRange(math.log10(low), math.log10(high), padding=0)
        ticks = [v for _spacing, values in axis.tickValues(*axis.range, 400) for v in values]
        shown = [t for t in axis.tickStrings(ticks, 1.0, 0) if t]
        assert len(shown) >= 2, (low, high, shown)
        assert all(low * 0.999 <= float(t.replace(",", "")) <= high * 1.001 for t in shown), (low, high, shown)
