"""Drive the real window like a user: model, data, settings, Train, curves, Export, Inference."""

from __future__ import annotations

import csv
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QComboBox, QFileDialog, QLineEdit, QPushButton, QSpinBox

from studio.core import events as ev
from tests.ui.conftest import find, wait_for_data
from tests.ui.events import collect

TRAIN_TIMEOUT_MS = 180_000


def _curve_points(plot) -> list[int]:
    """How many points each curve of a PlotWidget holds."""
    counts = []
    for item in plot.getPlotItem().listDataItems():
        x = item.getData()[0]
        counts.append(0 if x is None else len(x))
    return counts


def test_train_export_and_predict_like_a_user(qtbot, window, tiny_model_dir, small_csv, tmp_path, monkeypatch):
    source = find(window, "modelSource", QComboBox)
    source.setEditText(str(tiny_model_dir))
    qtbot.keyClick(source.lineEdit(), Qt.Key.Key_Return)
    qtbot.waitUntil(
        lambda: window.model_page.info is not None and window.model_page.info.num_layers == 2, timeout=60_000
    )
    assert "BertForSequenceClassification" in window.model_page.fields["architecture"].text()

    train_csv = find(window, "trainCsv", QLineEdit)
    train_csv.setText(str(small_csv))
    qtbot.keyClick(train_csv, Qt.Key.Key_Return)
    wait_for_data(qtbot, window, small_csv)
    assert find(window, "textColumn", QComboBox).currentText() == "text"
    assert find(window, "labelColumn", QComboBox).currentText() == "label"

    rate = find(window, "learningRate")
    rate.lineEdit().selectAll()
    qtbot.keyClicks(rate, "1e-3")
    assert rate.value() == 1e-3
    find(window, "frozenLayers", QSpinBox).setValue(1)
    assert find(window, "frozenLayersSummary").text().startswith("1 of 2 layers frozen - ")
    find(window, "epochs").setValue(2)
    find(window, "batchSize", QSpinBox).setValue(8)
    find(window, "maxLength", QSpinBox).setValue(32)

    finished = collect(window.training, ev.Finished)
    with qtbot.waitSignal(window.training.idle, timeout=TRAIN_TIMEOUT_MS):
        qtbot.mouseClick(find(window, "trainButton", QPushButton), Qt.MouseButton.LeftButton)
        assert window.training.is_running()
        assert not find(window, "trainButton", QPushButton).isEnabled()
    assert finished and not finished[0].stopped, find(window, "trainStatus").text()
    assert finished[0].metrics["labels"] == ["negative", "positive"]

    # The training loss twice: as logged (faint, behind) and smoothed.
    raw_loss, train_loss, validation_loss = _curve_points(find(window, "lossPlot"))
    f1, accuracy = _curve_points(find(window, "f1Plot"))
    assert train_loss >= 2 and raw_loss == train_loss and validation_loss >= 2 and f1 >= 2 and accuracy == f1
    assert find(window, "progressBar").value() == find(window, "progressBar").maximum()
    assert find(window, "trainButton", QPushButton).isEnabled()
    assert window.evaluate_page.per_class.rowCount() == 2

    # Export runs in the background: the click returns at once, the sentence comes when it is done.
    a_file = tmp_path / "a_file"
    a_file.write_text("not a folder", encoding="utf-8")
    export_path = find(window, "exportPath", QLineEdit)
    export_status = find(window, "exportStatus")
    export_path.selectAll()
    qtbot.keyClicks(export_path, str(a_file))
    qtbot.mouseClick(find(window, "exportButton", QPushButton), Qt.MouseButton.LeftButton)
    qtbot.waitUntil(export_status.has_error, timeout=60_000)
    assert "is a file; choose a folder" in export_status.text()

    # Browse picks the folder to export into; a new one is typed as its name.
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", staticmethod(lambda *a, **k: str(tmp_path)))
    qtbot.mouseClick(find(window, "exportBrowseButton", QPushButton), Qt.MouseButton.LeftButton)
    # tmp_path holds files of its own, so the model is offered a folder of its own inside it.
    assert Path(export_path.text()).parent == tmp_path and Path(export_path.text()).name.endswith("-model")
    dest = tmp_path / "exported"
    export_path.selectAll()
    qtbot.keyClicks(export_path, str(dest))
    with qtbot.waitSignal(window.evaluate_page.exported, timeout=60_000):
        qtbot.mouseClick(find(window, "exportButton", QPushButton), Qt.MouseButton.LeftButton)
    assert export_status.text() == f"Exported to {dest}"
    from transformers import pipeline

    assert pipeline("text-classification", model=str(dest))("great lovely day")[0]["label"] in ("negative", "positive")

    find(window, "inferenceInput").setPlainText("awful terrible mess")
    qtbot.mouseClick(find(window, "predictButton", QPushButton), Qt.MouseButton.LeftButton)
    output = find(window, "predictionOutput")
    qtbot.waitUntil(lambda: output.text() in ("negative", "positive"), timeout=60_000)
    assert window.inference_page.probabilities.rowCount() == 2

    # A whole CSV, labelled in the background with the same model.
    out_csv = tmp_path / "predicted.csv"
    monkeypatch.setattr(QFileDialog, "getOpenFileName", staticmethod(lambda *a, **k: (str(small_csv), "")))
    monkeypatch.setattr(QFileDialog, "getSaveFileName", staticmethod(lambda *a, **k: (str(out_csv), "")))
    qtbot.mouseClick(find(window, "predictCsvButton", QPushButton), Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: "Wrote 60 predictions" in find(window, "csvStatus").text(), timeout=60_000)
    with open(out_csv, newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 60 and {r["predicted_label"] for r in rows} <= {"negative", "positive"}


def test_train_pressed_before_the_model_is_read_waits_for_it_and_fits_the_settings(qtbot, window, small_csv, tmp_path):
    from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification

    from studio.core.modeling import builtin_model_path

    # A model that reads at most 64 tokens, while the Train page still asks for 128.
    short = tmp_path / "short-bert"
    config = BertConfig(
        vocab_size=30522,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=37,
        max_position_embeddings=64,
    )
    BertForSequenceClassification(config).save_pretrained(short)
    AutoTokenizer.from_pretrained(builtin_model_path()).save_pretrained(short)

    find(window, "modelSource", QComboBox).setEditText(str(short))
    find(window, "trainCsv", QLineEdit).setText(str(small_csv))
    find(window, "epochs").setValue(1)
    find(window, "batchSize").setValue(16)
    assert find(window, "maxLength").value() == 128
    train = find(window, "trainButton", QPushButton)
    finished = collect(window.training, ev.Finished)
    qtbot.mouseClick(train, Qt.MouseButton.LeftButton)
    assert not train.isEnabled(), "accepted at once, even before the model is read"
    qtbot.waitUntil(window.training.is_running, timeout=60_000)
    with qtbot.waitSignal(window.training.idle, timeout=TRAIN_TIMEOUT_MS):
        pass
    assert finished and not finished[0].stopped, find(window, "trainStatus").text()
    assert find(window, "maxLength").value() == 64
    assert "Max length set to 64 tokens" in find(window, "settingsProblem").text()
    assert train.isEnabled()


def test_train_pressed_with_a_bad_model_folder_says_why_and_stays_usable(qtbot, window, tmp_path):
    empty = tmp_path / "no-model-here"
    empty.mkdir()
    find(window, "modelSource", QComboBox).setEditText(str(empty))
    train = find(window, "trainButton", QPushButton)
    qtbot.mouseClick(train, Qt.MouseButton.LeftButton)
    status = find(window, "trainStatus")
    qtbot.waitUntil(lambda: "is empty" in status.text(), timeout=60_000)
    assert train.isEnabled() and not window.training.is_running()
    assert "is empty" in find(window, "modelStatus").text()
