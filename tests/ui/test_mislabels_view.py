"""The "Possible label errors" view: find a run's candidates, keep / relabel / drop rows, save a corrected copy."""

from __future__ import annotations

import csv

import pytest
from PySide6.QtCore import QItemSelectionModel, Qt

from tests.conftest import train_tiny

# The offscreen platform says so when a shown top-level widget's size hints change (the progress bar appears).
pytestmark = pytest.mark.qt_log_ignore("propagateSizeHints")


@pytest.fixture
def trained_run(tmp_path, tiny_model_dir):
    rows = [(f"good fine nice {i}", "yes") for i in range(12)] + [(f"bad poor awful {i}", "no") for i in range(12)]
    validation = [("good nice", "yes"), ("bad awful", "no"), ("good fine", "no"), ("poor bad", "no"), ("nice", "yes")]
    result = train_tiny(tmp_path, tiny_model_dir, rows, validation)
    return result.run_dir, tmp_path / "validation.csv"


@pytest.fixture
def view(qtbot):
    from studio.ui.pages.mislabels_view import MislabelsView
    from studio.ui.tasks import TaskRunner

    tasks = TaskRunner()
    widget = MislabelsView(tasks)
    widget._test_tasks = tasks  # keep the runner alive as long as the view
    qtbot.addWidget(widget)
    widget.show()
    yield widget
    tasks.wait(30_000)


def _select(view, rows: list[int]) -> None:
    selection = view.table.selectionModel()
    selection.clearSelection()
    for row in rows:
        selection.select(
            view.model.index(row, 0),
            QItemSelectionModel.SelectionFlag.Select | QItemSelectionModel.SelectionFlag.Rows,
        )


def test_find_then_decide_then_save_a_corrected_copy(qtbot, view, trained_run):
    run_dir, validation = trained_run
    assert not view.find_button.isEnabled()
    view.set_run(run_dir)
    assert view.find_button.isEnabled() and not view.save_button.isEnabled()
    with qtbot.waitSignal(view.search_finished, timeout=60_000) as finished:
        qtbot.mouseClick(view.find_button, Qt.MouseButton.LeftButton)
    report = finished.args[0]
    assert view.model.rowCount() == 5
    shown = [
        (view.model.index(r, 0).data(), int(view.model.index(r, 1).data()), view.model.index(r, 2).data())
        for r in range(5)
    ]
    assert shown == [(c.split, c.row, c.text) for c in report.candidates]
    assert "look mislabelled" in view.status.text()
    assert view.save_button.isEnabled()

    by_row = {c.row: i for i, c in enumerate(report.candidates)}
    # Row 3 of validation.csv ("good fine", labelled no): relabel to yes; row 4: drop; row 1: drop, then keep.
    _select(view, [by_row[3]])
    view.relabel_choice.setCurrentText("yes")
    qtbot.mouseClick(view.relabel_button, Qt.MouseButton.LeftButton)
    _select(view, [by_row[4], by_row[1]])
    qtbot.mouseClick(view.drop_button, Qt.MouseButton.LeftButton)
    _select(view, [by_row[1]])
    qtbot.mouseClick(view.keep_button, Qt.MouseButton.LeftButton)
    assert view.model.index(by_row[3], 7).data() == "relabel to yes"
    assert view.model.index(by_row[4], 7).data() == "drop"
    assert view.model.index(by_row[1], 7).data() == "keep"
    assert view.status.text() == "To relabel: 1 row; to drop: 1 row."

    with qtbot.waitSignal(view.copies_saved, timeout=10_000) as saved:
        qtbot.mouseClick(view.save_button, Qt.MouseButton.LeftButton)
    (copy,) = saved.args[0]
    assert copy.path == validation.with_name("validation-corrected.csv")
    with open(copy.path, encoding="utf-8", newline="") as handle:
        assert list(csv.reader(handle)) == [
            ["text", "label"],
            ["good nice", "yes"],
            ["bad awful", "no"],
            ["good fine", "yes"],
            ["nice", "yes"],
        ]
    assert "validation-corrected.csv (1 relabelled, 1 dropped, 4 rows)" in view.status.text()
    assert validation.read_text(encoding="utf-8").count("\n") == 6  # the original is untouched


def test_a_failure_is_one_sentence_in_the_view(qtbot, view, tmp_path):
    view.set_run(tmp_path)
    qtbot.mouseClick(view.find_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: "not a training run folder" in view.status.text(), timeout=10_000)
    assert view.find_button.isEnabled() and not view.stop_button.isEnabled()
