"""What the user sees on Evaluate and Inference: whole label names, an export to a folder typed by name, and a
probability table that uses the page's room."""

from __future__ import annotations

import json
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QComboBox, QLineEdit, QPushButton, QTableWidget

from tests.conftest import make_tiny_model
from tests.ui.conftest import find

# Label names of the shared datasets (ag_news, trec, goemotions), and one too long for any column.
AG_NEWS = ["World", "Sports", "Business", "Sci/Tech"]
TREC = ["ABBR", "DESC", "ENTY", "HUM", "LOC", "NUM"]
GOEMOTIONS = ["admiration;approval", "disappointment", "embarrassment;nervousness", "gratitude", "neutral"]
TOO_LONG = "a label written as a whole sentence, far longer than any column could sensibly show"


def _metrics(labels: list[str]) -> dict:
    n = len(labels)
    return {
        "f1": 0.5,
        "accuracy": 0.6,
        "precision": 0.55,
        "recall": 0.5,
        "loss": 0.9,
        "labels": labels,
        "per_class": {name: {"precision": 0.5, "recall": 0.25, "f1": 0.3333, "support": 1234} for name in labels},
        "confusion": [[(r + c) % 5 for c in range(n)] for r in range(n)],
    }


def _model_folder(tmp_path: Path) -> Path:
    """A run's model/ folder as export_folder copies it (the copy does not look inside the weights)."""
    model = tmp_path / "runs" / "20260101-120000-sample" / "model"
    model.mkdir(parents=True)
    (model / "config.json").write_text(json.dumps({"id2label": {"0": "ham", "1": "spam"}}), encoding="utf-8")
    (model / "model.safetensors").write_bytes(b"\0" * 4096)
    return model


def test_the_per_class_table_shows_whole_label_names(qtbot, window, tmp_path):
    window.show_page("Evaluate")
    page = window.evaluate_page
    table = find(window, "perClassTable", QTableWidget)
    model = _model_folder(tmp_path)
    for labels in (AG_NEWS, TREC, [*GOEMOTIONS, TOO_LONG]):
        page.show_results(str(model), _metrics(labels))
        qtbot.waitUntil(lambda labels=labels: table.rowCount() == len(labels))
        metrics = table.fontMetrics()
        for row, name in enumerate(labels):
            item = table.item(row, 0)
            assert item.text() == name and item.toolTip() == name
            if name != TOO_LONG:
                assert table.columnWidth(0) >= metrics.horizontalAdvance(name), (name, table.columnWidth(0))
        # Numbers still whole beside the names, and the matrix keeps its room.
        assert table.columnWidth(4) >= metrics.horizontalAdvance("1,234")
        assert page.heatmap.width() >= page.heatmap.minimumWidth()
    assert table.columnWidth(0) < metrics.horizontalAdvance(TOO_LONG), "a sentence-long name is elided, not shown"
    assert table.textElideMode() == Qt.TextElideMode.ElideMiddle and not table.wordWrap()


def test_an_export_to_a_typed_new_folder_runs_in_the_background_and_creates_it(qtbot, window, tmp_path):
    window.show_page("Evaluate")
    page = window.evaluate_page
    page.show_results(str(_model_folder(tmp_path)), _metrics(AG_NEWS))
    path = find(window, "exportPath", QLineEdit)
    button = find(window, "exportButton", QPushButton)
    status = find(window, "exportStatus")
    assert path.text().endswith("20260101-120000-sample-model") and not Path(path.text()).exists()

    dest = tmp_path / "not yet" / "my ag_news model"
    path.selectAll()
    qtbot.keyClicks(path, str(dest))
    with qtbot.waitSignal(page.exported, timeout=20_000) as exported:
        qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
        # The click returns at once: the copy runs on the task runner, and Export waits its turn.
        assert not button.isEnabled() and not path.isEnabled()
        assert status.text() == f"Exporting to {dest}…"
    assert exported.args == [str(dest)]
    assert sorted(p.name for p in dest.iterdir()) == ["config.json", "model.safetensors"]
    assert button.isEnabled() and status.text() == f"Exported to {dest}"
    assert window.settings.recent_exports[0] == str(dest)
    assert window.inference_page.folder() == str(dest), "the export is offered on the Inference page"

    # A file where the folder should be: a sentence, the button back, nothing written beside it.
    a_file = tmp_path / "a_file"
    a_file.write_text("mine", encoding="utf-8")
    path.selectAll()
    qtbot.keyClicks(path, str(a_file))
    qtbot.keyClick(path, Qt.Key.Key_Return)
    qtbot.waitUntil(status.has_error, timeout=20_000)
    assert "is a file; choose a folder" in status.text() and button.isEnabled()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a_file", "not yet", "runs"]


def test_six_labels_fit_the_probability_table_without_scrolling(qtbot, window, tmp_path):
    folder = make_tiny_model(tmp_path / "trec-model", labels=TREC, layers=1)

    window.show_page("Inference")
    find(window, "inferenceModel", QComboBox).setEditText(str(folder))
    find(window, "inferenceInput").setPlainText("How far is it from Denver to Aspen ?")
    qtbot.mouseClick(find(window, "predictButton", QPushButton), Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: find(window, "predictionOutput").text() in TREC, timeout=60_000)
    table = find(window, "probabilityTable", QTableWidget)
    assert table.rowCount() == 6
    qtbot.waitUntil(lambda: table.viewport().height() >= table.verticalHeader().length())
    assert not table.verticalScrollBar().isVisible()
    assert {table.item(r, 0).text() for r in range(6)} == set(TREC)
