"""The Evaluate page's tabs and export formats, clicked as a user would: the threshold tuner and the label-error
finder beside the results, greyed for tasks they do not apply to, and "Export for deployment" to ONNX."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PySide6.QtCore import QItemSelectionModel, Qt
from PySide6.QtWidgets import QComboBox, QLineEdit, QPushButton, QTabWidget

from tests.conftest import train_tiny
from tests.ui.conftest import find, wait_for_data

pytestmark = pytest.mark.qt_log_ignore("propagateSizeHints")


@pytest.fixture
def binary_run(tmp_path, tiny_model_dir):
    """A real two-class run of the tiny model: its model folder, metrics and data files."""
    from studio.core.runs import MODEL

    rows = [(f"good fine nice {i}", "yes") for i in range(12)] + [(f"bad poor awful {i}", "no") for i in range(20)]
    validation = [(f"good nice {i}", "yes") for i in range(6)] + [(f"bad awful {i}", "no") for i in range(8)]
    result = train_tiny(tmp_path, tiny_model_dir, rows, validation)
    return Path(result.run_dir) / MODEL, result.metrics, tmp_path / "train.csv", tmp_path / "validation.csv"


def test_a_binary_run_offers_the_threshold_and_label_error_tabs(qtbot, window, binary_run):
    model_dir, metrics, train, _validation = binary_run
    window.data_page.load_train(str(train))
    wait_for_data(qtbot, window, train)
    window.show_page("Evaluate")
    page = window.evaluate_page
    tabs = find(window, "evaluateTabs", QTabWidget)
    page.show_results(str(model_dir), metrics)
    assert [tabs.tabText(i) for i in range(3)] == ["Results", "Threshold", "Label errors"]
    assert tabs.isTabEnabled(1) and tabs.isTabEnabled(2)

    # The threshold tab: the run's tuned threshold on the slider; saving it writes the model folder's config.
    tabs.setCurrentIndex(1)
    view = page.threshold_view
    assert view.slider.isVisible() and view.threshold() == pytest.approx(round(metrics["threshold"], 2))
    view.slider.setValue(70)
    with qtbot.waitSignal(view.threshold_saved, timeout=30_000):
        qtbot.mouseClick(view.save_button, Qt.MouseButton.LeftButton)
    from studio.core.thresholds import THRESHOLD_KEY

    config = json.loads((model_dir / "config.json").read_text(encoding="utf-8"))
    assert config[THRESHOLD_KEY] == pytest.approx(0.7)

    # The label-error tab: find, drop a row, save; the Data page takes the corrected copy to train on next.
    tabs.setCurrentIndex(2)
    finder = page.mislabels_view
    with qtbot.waitSignal(finder.search_finished, timeout=60_000):
        qtbot.mouseClick(finder.find_button, Qt.MouseButton.LeftButton)
    assert finder.model.rowCount() == 14
    finder.table.selectionModel().select(
        finder.model.index(0, 0),
        QItemSelectionModel.SelectionFlag.Select | QItemSelectionModel.SelectionFlag.Rows,
    )
    qtbot.mouseClick(finder.drop_button, Qt.MouseButton.LeftButton)
    with qtbot.waitSignal(finder.copies_saved, timeout=30_000) as saved:
        qtbot.mouseClick(finder.save_button, Qt.MouseButton.LeftButton)
    (copy,) = saved.args[0]
    assert copy.path.name == "validation-corrected.csv" and copy.dropped == 1 and copy.rows == 13
    assert window.data_page.validation_csv() == str(copy.path)
    assert window.data_page.train_csv() == str(train), "the training file had no decisions: it stays"


def test_a_regression_run_greys_the_tabs_that_do_not_apply(qtbot, window, tmp_path):
    model = tmp_path / "runs" / "20260101-120000-scores" / "model"
    model.mkdir(parents=True)
    (model / "config.json").write_text("{}", encoding="utf-8")
    page = window.evaluate_page
    tabs = find(window, "evaluateTabs", QTabWidget)
    tabs.setCurrentIndex(1)
    page.show_results(str(model), {"task": "regression", "rmse": 0.5, "scatter": {"true": [1.0], "predicted": [1.2]}})
    assert not tabs.isTabEnabled(1) and not tabs.isTabEnabled(2)
    assert tabs.currentIndex() == 0, "a greyed tab is not left showing"
    assert "two classes" in tabs.tabToolTip(1) and "regression" in tabs.tabToolTip(2).lower()


def test_export_for_deployment_writes_a_checked_onnx_folder(qtbot, window, binary_run, tmp_path):
    model_dir, metrics, _train, _validation = binary_run
    window.show_page("Evaluate")
    page = window.evaluate_page
    page.show_results(str(model_dir), metrics)
    path = find(window, "exportPath", QLineEdit)
    button = find(window, "exportButton", QPushButton)
    formats = find(window, "exportFormat", QComboBox)
    status = find(window, "exportStatus")
    assert button.text() == "Export model" and path.text().endswith("-model")
    formats.setCurrentIndex(formats.findData("onnx"))
    assert button.text() == "Export for deployment" and path.text().endswith("-onnx"), "the suggestion follows"

    dest = tmp_path / "deploy" / "spam-onnx"
    path.selectAll()
    qtbot.keyClicks(path, str(dest))
    with qtbot.waitSignal(page.exported, timeout=120_000):
        qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
        assert not button.isEnabled() and not formats.isEnabled()
    assert {"model.onnx", "tokenizer.json", "config.json", "parity.json"} <= {p.name for p in dest.iterdir()}
    parity = json.loads((dest / "parity.json").read_text(encoding="utf-8"))
    assert parity["rows"] == 14 and parity["label_agreement"] >= 0.995
    assert status.text().startswith(f"Exported to {dest}. It makes the PyTorch model's decision on ")
    assert f"{parity['label_agreement']:.1%} of 14 validation rows" in status.text() and "macro F1" in status.text()
    assert window.inference_page.folder() == str(dest), "the ONNX export is offered on the Inference page"
