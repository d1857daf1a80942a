"""The Search page: a bad space is said where it is typed, a real search fills the table and plots, Stop resumes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFileDialog

from studio.core.config import TrainConfig
from studio.core.search import SEARCH_FILE
from studio.ui.pages.search_page import SearchPage

SEARCH_TIMEOUT_MS = 300_000
# The page shown on its own is a top-level window, whose size hints the offscreen platform cannot pass on.
pytestmark = pytest.mark.qt_log_ignore("propagateSizeHints")


@pytest.fixture
def make_page(qtbot):
    pages = []

    def make(base: TrainConfig) -> SearchPage:
        page = SearchPage(base_config=lambda: base)
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


def _cell(page: SearchPage, row: int, column: int) -> str:
    item = page.results.table.item(row, column)
    return item.text() if item is not None else ""


def _tiny_base(csv: Path, model: Path, epochs: float = 1) -> TrainConfig:
    return TrainConfig(train_csv=str(csv), model=str(model), epochs=epochs, batch_size=8, max_length=32)


def test_a_bad_range_is_said_in_its_row_and_start_is_refused(qtbot, make_page, small_csv, tmp_path):
    page = make_page(TrainConfig(train_csv=str(small_csv)))
    row = page.space.rows[0]
    assert row.setting() == "learning_rate" and not row.message.isVisible()
    _type(qtbot, row.low, "1e-3")
    _type(qtbot, row.high, "1e-5")
    assert row.message.isVisible() and "The range for learning_rate is empty" in row.message.text()
    page.folder.setText(str(tmp_path / "search"))
    qtbot.mouseClick(page.start_button, Qt.MouseButton.LeftButton)
    assert not page.is_running()
    assert page.status.has_error() and "is empty" in page.status.text()
    assert not (tmp_path / "search").exists()

    # A list with a negative learning rate: the engine's own sentence, in the row.
    page.space.rows[0].kind_box.setCurrentIndex(page.space.rows[0].kind_box.findData("list"))
    _type(qtbot, row.values, "-0.1, 1e-4")
    assert "learning rate must be above 0" in row.message.text()
    _type(qtbot, row.values, "1e-4, 3e-4")
    assert not row.message.isVisible()

    # A grid with more points than trials is refused with both numbers.
    qtbot.mouseClick(page.space.add_button, Qt.MouseButton.LeftButton)
    batch = page.space.rows[1]
    assert batch.setting() == "batch_size"
    _type(qtbot, batch.values, "8, 16, 32")
    page.method.setCurrentIndex(page.method.findData("grid"))
    page.trials.setValue(4)
    assert "6 settings" in page.grid_note.text()
    qtbot.mouseClick(page.start_button, Qt.MouseButton.LeftButton)
    assert not page.is_running() and "raise Trials to 6" in page.status.text()

    # The same setting twice.
    batch.name_box.setCurrentIndex(batch.name_box.findData("learning_rate"))
    qtbot.mouseClick(page.start_button, Qt.MouseButton.LeftButton)
    assert "searched twice" in page.status.text() and not page.is_running()

    # A storage that cannot be reached: found in the search's thread, said on the page, nothing left behind.
    qtbot.mouseClick(batch.remove_button, Qt.MouseButton.LeftButton)
    assert len(page.space.rows) == 1 and not page.space.message.isVisible()
    page.method.setCurrentIndex(page.method.findData("random"))
    _type(qtbot, page.form.storage, "postgresql://nobody@127.0.0.1:1/none")
    with qtbot.waitSignal(page.controller.idle, timeout=SEARCH_TIMEOUT_MS):
        qtbot.mouseClick(page.start_button, Qt.MouseButton.LeftButton)
    assert page.status.has_error() and "Could not open the study storage" in page.status.text()
    assert "Traceback" not in page.log.toPlainText() and not (tmp_path / "search").exists()


def test_a_real_search_fills_the_table_and_plots_and_offers_the_best(
    qtbot, make_page, small_csv, tiny_model_dir, tmp_path, monkeypatch
):
    page = make_page(_tiny_base(small_csv, tiny_model_dir))
    row = page.space.rows[0]
    _type(qtbot, row.low, "1e-4")
    _type(qtbot, row.high, "1e-2")
    page.method.setCurrentIndex(page.method.findData("random"))
    page.trials.setValue(2)
    folder = tmp_path / "search"
    page.folder.setText(str(folder))
    with qtbot.waitSignal(page.controller.idle, timeout=SEARCH_TIMEOUT_MS):
        qtbot.mouseClick(page.start_button, Qt.MouseButton.LeftButton)
        assert page.is_running() and not page.start_button.isEnabled() and page.stop_button.isEnabled()

    assert not page.status.has_error(), page.status.text()
    assert page.results.table.rowCount() == 2
    assert [_cell(page, r, 2) for r in range(2)] == ["complete", "complete"]
    assert all(_cell(page, r, 3) not in ("", "–") and "learning rate" in _cell(page, r, 1) for r in range(2))
    xs, ys = page.results.complete_points.getData()
    assert len(xs) == 2 and len(ys) == 2
    rates, _ = page.results.lr_points.getData()
    assert len(rates) == 2 and page.results.lr_plot.isVisible()
    summary = json.loads((folder / SEARCH_FILE).read_text())
    assert summary["finished"] and "Best: trial" in page.results.best_label.text()
    assert page.progress.format() == "Done"

    with qtbot.waitSignal(page.settings_chosen, timeout=2000) as chosen:
        qtbot.mouseClick(page.results.use_button, Qt.MouseButton.LeftButton)
    assert chosen.args == [summary["best"]["settings"]]

    dest = tmp_path / "exported"
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", staticmethod(lambda *a, **k: str(dest)))
    assert page.results.export_button.isEnabled()
    qtbot.mouseClick(page.results.export_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: "exported to" in page.results.message.text(), timeout=30_000)
    assert (dest / "config.json").is_file()


def test_stop_marks_the_trial_and_resume_finishes_the_search(
    qtbot, make_page, small_csv, tiny_model_dir, tmp_path, monkeypatch
):
    page = make_page(_tiny_base(small_csv, tiny_model_dir, epochs=6))
    page.space.rows[0].kind_box.setCurrentIndex(page.space.rows[0].kind_box.findData("list"))
    _type(qtbot, page.space.rows[0].values, "1e-3")
    page.method.setCurrentIndex(page.method.findData("random"))
    page.trials.setValue(1)
    folder = tmp_path / "search"
    page.folder.setText(str(folder))
    with qtbot.waitSignal(page.controller.idle, timeout=SEARCH_TIMEOUT_MS):
        qtbot.mouseClick(page.start_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: "step" in page.progress.format(), timeout=SEARCH_TIMEOUT_MS)
        qtbot.mouseClick(page.stop_button, Qt.MouseButton.LeftButton)

    assert _cell(page, 0, 2) == "stopped"
    assert "Resume" in page.status.text() and not page.status.has_error()
    summary = json.loads((folder / SEARCH_FILE).read_text())
    assert not summary["finished"] and [t["state"] for t in summary["trials"]] == ["failed"]
    stopped_run = summary["trials"][0]["run"]

    monkeypatch.setattr(QFileDialog, "getExistingDirectory", staticmethod(lambda *a, **k: str(folder)))
    with qtbot.waitSignal(page.controller.idle, timeout=SEARCH_TIMEOUT_MS):
        qtbot.mouseClick(page.resume_button, Qt.MouseButton.LeftButton)
    assert not page.status.has_error(), page.status.text()
    states = [_cell(page, r, 2) for r in range(page.results.table.rowCount())]
    assert states == ["stopped", "complete"]
    summary = json.loads((folder / SEARCH_FILE).read_text())
    assert summary["finished"] and summary["best"]["run"] == stopped_run  # the stopped run was carried on
    assert (folder / "best" / "config.json").is_file()


def test_trials_other_processes_run_appear_from_the_search_file(qtbot, make_page, small_csv, tmp_path):
    # With Workers above 1 (or a study shared with other machines) some trials run elsewhere: the page reads them
    # from search.json while the search runs. Here the file is written by hand and the page's poll is called.
    page = make_page(TrainConfig(train_csv=str(small_csv)))
    folder = tmp_path / "search"
    folder.mkdir()
    trials = [
        {"number": 0, "settings": {"learning_rate": 1e-4}, "state": "complete", "metric": 0.8, "run": "/runs/a"},
        {"number": 1, "settings": {"learning_rate": 1e-3}, "state": "running", "metric": None, "run": None},
        {"number": 2, "settings": {"learning_rate": 1e-2}, "state": "failed", "metric": None, "run": "/runs/c"},
    ]
    (folder / SEARCH_FILE).write_text(json.dumps({"trials": trials}))
    page._folder = str(folder)
    page._on_poll_timeout()
    assert [(r["number"], r["state"]) for r in page.trial_rows()] == [(0, "complete"), (1, "running"), (2, "stopped")]
    assert "Best: trial 0" in page.results.best_label.text() and len(page.results.complete_points.getData()[0]) == 1

    trials[1].update(state="complete", metric=0.9, run="/runs/b")
    (folder / SEARCH_FILE).write_text(json.dumps({"trials": trials}))
    page._on_poll_timeout()
    assert _cell(page, 1, 2) == "complete" and "Best: trial 1" in page.results.best_label.text()
