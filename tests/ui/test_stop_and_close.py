"""Stop ends a run at the next step and keeps it resumable; closing the window during training waits for it."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox, QPushButton

from studio.core import events as ev
from studio.core.runs import list_runs
from tests.ui.conftest import find, wait_for_data
from tests.ui.events import collect

TIMEOUT_MS = 120_000


def _start_long_run(qtbot, window, model_dir, csv_path):
    """A run of many short steps, long enough to be stopped in the middle."""
    window.model_page.source.setEditText(str(model_dir))
    window.data_page.load_train(str(csv_path))
    wait_for_data(qtbot, window, csv_path)
    find(window, "epochs").setValue(60)
    find(window, "batchSize").setValue(8)
    find(window, "maxLength").setValue(32)
    steps = collect(window.training, ev.Progress)
    qtbot.mouseClick(find(window, "trainButton", QPushButton), Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: bool(steps) and steps[-1].step >= 3, timeout=TIMEOUT_MS)
    return steps


def test_stop_ends_the_run_at_the_next_step_and_resume_carries_it_on(qtbot, window, tiny_model_dir, small_csv):
    steps = _start_long_run(qtbot, window, tiny_model_dir, small_csv)
    finished = collect(window.training, ev.Finished)
    with qtbot.waitSignal(window.training.idle, timeout=TIMEOUT_MS):
        qtbot.mouseClick(find(window, "stopButton", QPushButton), Qt.MouseButton.LeftButton)
        assert not find(window, "stopButton", QPushButton).isEnabled()
    assert finished and finished[0].stopped
    assert finished[0].metrics["epochs_completed"] < 60 and steps[-1].step < steps[-1].total_steps
    assert "Stopped early" in find(window, "trainStatus").text()
    assert find(window, "exportButton", QPushButton).isEnabled()

    (run,) = list_runs()
    assert run.status == "stopped" and run.resumable
    runs = window.train_page.runs
    qtbot.waitUntil(lambda: runs.tree.topLevelItemCount() == 1)
    runs.tree.topLevelItem(0).setSelected(True)
    assert runs.resume_button.isEnabled()
    qtbot.mouseClick(runs.results_button, Qt.MouseButton.LeftButton)
    assert window.stack.currentWidget() is window.evaluate_page
    assert run.path.name in find(window, "evaluateRun").text() and "stopped early" in find(window, "evaluateRun").text()
    started = collect(window.training, ev.RunStarted)
    qtbot.mouseClick(runs.resume_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: bool(started), timeout=TIMEOUT_MS)
    assert started[0].resumed_from_step >= 3
    assert len(window.train_page.curves.train_loss.series) > 0, "the earlier points are back on the curves"
    with qtbot.waitSignal(window.training.idle, timeout=TIMEOUT_MS):
        window.training.stop()


def test_closing_during_training_asks_stops_and_waits(qtbot, window, tiny_model_dir, small_csv, monkeypatch):
    asked = []

    def answer(*args, **kwargs):
        asked.append(args[1])
        return QMessageBox.StandardButton.No if len(asked) == 1 else QMessageBox.StandardButton.Yes

    monkeypatch.setattr(QMessageBox, "question", staticmethod(answer))
    _start_long_run(qtbot, window, tiny_model_dir, small_csv)
    assert window.close() is False, "No keeps the window open and the training going"
    assert window.training.is_running()

    assert window.close() is True
    assert asked == ["Training is running", "Training is running"]
    assert not window.training.is_running(), "close returns once the training thread has ended"
    (run,) = list_runs()
    assert run.status == "stopped" and run.resumable
