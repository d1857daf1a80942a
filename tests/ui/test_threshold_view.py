"""The threshold tuner: curves of a binary model's validation, a slider, and a saved threshold that predict uses."""

from __future__ import annotations

import json

import pytest
from PySide6.QtCore import Qt

from tests.conftest import train_tiny

pytestmark = pytest.mark.qt_log_ignore("propagateSizeHints")


@pytest.fixture
def binary_model(tmp_path, tiny_model_dir):
    rows = [(f"good fine nice {i}", "yes") for i in range(8)] + [(f"bad poor awful {i}", "no") for i in range(24)]
    validation = [(f"good nice {i}", "yes") for i in range(6)] + [("bad awful", "no")] * 10
    result = train_tiny(tmp_path, tiny_model_dir, rows, validation, output_dir=str(tmp_path / "export"))
    return tmp_path / "export", result.metrics


@pytest.fixture
def view(qtbot):
    from studio.ui.pages.threshold_view import ThresholdView
    from studio.ui.tasks import TaskRunner

    tasks = TaskRunner()
    widget = ThresholdView(tasks)
    widget._test_tasks = tasks
    qtbot.addWidget(widget)
    widget.show()
    yield widget
    tasks.wait(30_000)


def test_the_slider_shows_the_figures_and_save_makes_predict_use_it(qtbot, view, binary_model):
    from studio.core.inference import Predictor

    folder, metrics = binary_model
    view.show_model(folder, metrics)
    assert view.slider.isVisible() and view.save_button.isVisible()
    assert view.threshold() == pytest.approx(round(metrics["threshold"], 2))
    assert "(in use)" in view.figures.text()
    assert "'yes'" in view.explain.text()

    view.slider.setValue(80)
    assert view.figures.text().startswith("At 0.80: precision ")
    assert "(in use)" not in view.figures.text()
    assert view.chosen_line.value() == pytest.approx(0.8)
    with qtbot.waitSignal(view.threshold_saved, timeout=20_000) as saved:
        qtbot.mouseClick(view.save_button, Qt.MouseButton.LeftButton)
    assert saved.args == [pytest.approx(0.8)]
    assert "now decides at 0.8000" in view.status.text()
    assert json.loads((folder / "config.json").read_text())["studio_threshold"] == pytest.approx(0.8)
    assert Predictor(folder, device="cpu").threshold == pytest.approx(0.8)

    qtbot.mouseClick(view.tuned_button, Qt.MouseButton.LeftButton)
    assert view.threshold() == pytest.approx(round(metrics["threshold"], 2))


def test_models_without_one_threshold_say_so(view, tmp_path):
    view.show_model(tmp_path, {"thresholds": {"a": 0.3, "b": 0.5}})
    assert not view.slider.isVisible()
    assert "per-label table" in view.explain.text()
    view.show_model(tmp_path, {"f1": 0.7})
    assert "two classes" in view.explain.text()


@pytest.fixture
def multi_label_model(tmp_path, tiny_model_dir):
    sets = ["sport", "news;sport", "music", "news", "music;news", "sport;music"]
    rows = [(f"text {i} about {sets[i % 6].replace(';', ' and ')}", sets[i % 6]) for i in range(96)]
    result = train_tiny(
        tmp_path, tiny_model_dir, rows[:60], rows[60:], task="multi", output_dir=str(tmp_path / "export")
    )
    return tmp_path / "export", result.metrics


def _plotted(view, name):
    x, y = view._lines[name].getData()
    return list(x), list(y)


def test_a_multi_label_model_tunes_the_chosen_labels_threshold(qtbot, view, multi_label_model):
    from studio.core.inference import Predictor
    from studio.core.label_thresholds import thresholds_in_force

    folder, metrics = multi_label_model
    curves, tuned = metrics["label_curves"], metrics["thresholds"]
    view.show_model(folder, metrics)
    assert view.label_box.isVisible() and view.slider.isVisible() and view.save_button.isVisible()
    assert [view.label_box.itemText(i) for i in range(view.label_box.count())] == ["music", "news", "sport"]
    assert view.label_box.currentText() == "music"
    assert _plotted(view, "f1") == (curves["music"]["threshold"], curves["music"]["f1"])
    assert view.tuned_line.value() == pytest.approx(tuned["music"])
    assert view.threshold() == pytest.approx(round(tuned["music"], 2))
    assert "(in use)" in view.figures.text() and "F1 of 'music'" in view.figures.text()

    # The user picks "news" with the keyboard, as in the real list.
    view.label_box.setFocus()
    qtbot.keyClick(view.label_box, Qt.Key.Key_Down)
    assert view.label_box.currentText() == "news"
    assert _plotted(view, "precision") == (curves["news"]["threshold"], curves["news"]["precision"])
    assert _plotted(view, "recall") == (curves["news"]["threshold"], curves["news"]["recall"])
    assert view.tuned_line.value() == pytest.approx(tuned["news"])
    assert "F1 of 'news'" in view.figures.text()

    # Home (0.01), 7 pages of 0.10 and 9 steps of 0.01: 0.80.
    view.slider.setFocus()
    qtbot.keyClick(view.slider, Qt.Key.Key_Home)
    for _ in range(7):
        qtbot.keyClick(view.slider, Qt.Key.Key_PageUp)
    for _ in range(9):
        qtbot.keyClick(view.slider, Qt.Key.Key_Right)
    assert view.threshold() == pytest.approx(0.8)
    assert view.chosen_line.value() == pytest.approx(0.8)
    assert view.figures.text().startswith(f"At 0.80 (in use: {tuned['news']:.2f}): precision ")
    news_texts = ["text 1 about news", "text 3 about news"]
    assert all("news" in p.chosen for p in Predictor(folder, device="cpu").predict(news_texts))
    with qtbot.waitSignal(view.threshold_saved, timeout=30_000) as saved:
        qtbot.mouseClick(view.save_button, Qt.MouseButton.LeftButton)
    assert saved.args == [pytest.approx(0.8)]
    assert "now predicts 'news' at 0.8000" in view.status.text()
    assert "(in use)" in view.figures.text()

    config = json.loads((folder / "config.json").read_text())
    in_force = thresholds_in_force(config)
    assert in_force["news"] == pytest.approx(0.8)
    assert in_force["music"] == pytest.approx(tuned["music"]) and in_force["sport"] == pytest.approx(tuned["sport"])
    assert "`news` **0.8000**" in (folder / "README.md").read_text()
    # At 0.8 the tiny model's "news" scores (about 0.5) no longer reach the threshold.
    assert all("news" not in p.chosen for p in Predictor(folder, device="cpu").predict(news_texts))

    # Back on "music", its own threshold, untouched; on "news" again, the saved one, also after a reload.
    qtbot.keyClick(view.label_box, Qt.Key.Key_Up)
    assert view.label_box.currentText() == "music"
    assert view.threshold() == pytest.approx(round(tuned["music"], 2))
    view.show_model(folder, metrics)
    qtbot.keyClick(view.label_box, Qt.Key.Key_Down)
    assert view.threshold() == pytest.approx(0.8) and "(in use)" in view.figures.text()
    qtbot.mouseClick(view.tuned_button, Qt.MouseButton.LeftButton)
    assert view.threshold() == pytest.approx(round(tuned["news"], 2))

    # Metrics without the curves (a run from before they were kept): no list and no slider, the sentence.
    view.show_model(folder, {"thresholds": tuned})
    assert not view.label_box.isVisible() and not view.slider.isVisible()
    assert "per-label table" in view.explain.text()
