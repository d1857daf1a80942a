"""The threshold tuner: curves of a binary model's validation, a slider, and a saved threshold that predict uses."""

from __future__ import annotations

import json

import pytest
from PySide6.QtCore import Qt

from tests.conftest import write_csv

pytestmark = pytest.mark.qt_log_ignore("propagateSizeHints")


@pytest.fixture
def binary_model(tmp_path, tiny_model_dir):
    from studio.core.config import TrainConfig
    from studio.core.training import run_training

    rows = [(f"good fine nice {i}", "yes") for i in range(8)] + [(f"bad poor awful {i}", "no") for i in range(24)]
    train = write_csv(tmp_path / "train.csv", rows)
    validation = write_csv(
        tmp_path / "validation.csv", [(f"good nice {i}", "yes") for i in range(6)] + [("bad awful", "no")] * 10
    )
    result = run_training(
        TrainConfig(
            train_csv=str(train),
            validation_csv=str(validation),
            model=str(tiny_model_dir),
            epochs=1,
            batch_size=8,
            max_length=16,
            learning_rate=1e-3,
            output_dir=str(tmp_path / "export"),
        )
    )
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
