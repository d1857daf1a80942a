"""The training worker passes the engine's events on as one signal, on the GUI thread; errors become sentences."""

from __future__ import annotations

import threading

import pytest
from PySide6.QtCore import Qt, QThread
from PySide6.QtWidgets import QApplication

from studio.core import events as ev
from studio.core.config import TrainConfig
from studio.core.errors import OutOfMemoryError
from studio.ui.training_controller import TrainingController
from tests.ui.events import collect


@pytest.fixture
def fake_engine(monkeypatch):
    """run_training replaced by a script; the libraries' import skipped."""
    import studio.core.training
    import studio.ui.warmup

    monkeypatch.setattr(studio.ui.warmup, "ensure_libraries", lambda: None)
    monkeypatch.setattr("studio.core.quiet.quiet_libraries", lambda: None)
    calls = []

    def install(script):
        def fake_run_training(config, reporter, stop):
            calls.append((config, threading.current_thread() is threading.main_thread()))
            return script(config, reporter, stop)

        monkeypatch.setattr(studio.core.training, "run_training", fake_run_training)
        return calls

    return install


def test_events_arrive_as_the_same_objects_on_the_gui_thread(qtbot, fake_engine):
    sent = [
        ev.RunCreated(run_dir="/runs/a"),
        ev.Message("hello"),
        ev.LossLogged(step=1, epoch=0.1, loss=0.7, learning_rate=1e-3),
        ev.Progress(step=1, total_steps=2, epoch=0.1, elapsed_s=1.0, eta_s=1.0),
    ]

    def script(config, reporter, stop):
        for event in sent:
            reporter(event)

    calls = fake_engine(script)
    controller = TrainingController()
    received, threads = [], []

    def record(event):
        received.append(event)
        threads.append(QThread.currentThread() is QApplication.instance().thread())

    controller.event.connect(record)
    with qtbot.waitSignal(controller.idle, timeout=10_000):
        controller.start(TrainConfig(train_csv="x.csv"))
    assert calls and calls[0][1] is False, "the engine ran on the training thread"
    assert received == sent and received[0] is sent[0]
    assert all(threads)
    assert not controller.is_running()


def test_an_unexpected_error_becomes_a_sentence_that_names_the_log(qtbot, fake_engine):
    def script(config, reporter, stop):
        raise RuntimeError("kaboom")

    fake_engine(script)
    controller = TrainingController()
    failed = collect(controller, ev.Failed)
    with qtbot.waitSignal(controller.idle, timeout=10_000):
        controller.start(TrainConfig(train_csv="x.csv"))
    (failure,) = failed
    assert "RuntimeError: kaboom" in failure.message and "studio.log" in failure.message


def test_a_bug_inside_a_run_still_names_the_log(qtbot, fake_engine):
    def script(config, reporter, stop):
        reporter(ev.Failed(message="Training failed unexpectedly: KeyError: 'x'", run_dir="/runs/a"))
        raise KeyError("x")

    fake_engine(script)
    controller = TrainingController()
    failed = collect(controller, ev.Failed)
    with qtbot.waitSignal(controller.idle, timeout=10_000):
        controller.start(TrainConfig(train_csv="x.csv"))
    (failure,) = failed
    assert "KeyError" in failure.message and "studio.log" in failure.message and failure.run_dir == "/runs/a"


def test_the_engine_failure_is_reported_once(qtbot, fake_engine):
    from studio.core.errors import DataError

    def script(config, reporter, stop):
        reporter(ev.Failed(message="The file is bad.", run_dir="/runs/a"))
        raise DataError("The file is bad.")

    fake_engine(script)
    controller = TrainingController()
    failed = collect(controller, ev.Failed)
    with qtbot.waitSignal(controller.idle, timeout=10_000):
        controller.start(TrainConfig(train_csv="x.csv"))
    assert [e.message for e in failed] == ["The file is bad."]


def test_out_of_memory_offers_a_retry_with_the_engine_settings(qtbot, window, fake_engine):
    def script(config, reporter, stop):
        if config.batch_size == 32:
            retry = config.with_changes(batch_size=16, gradient_accumulation=2)
            raise OutOfMemoryError("The GPU ran out of memory with a batch size of 32; try 16.", retry)

    calls = fake_engine(script)
    # Train waits for the model to be read first, which takes seconds on a busy machine.
    with qtbot.waitSignal(window.training.idle, timeout=60_000):
        qtbot.mouseClick(window.train_page.train_button, Qt.MouseButton.LeftButton)
    retry = window.findChild(type(window.train_page.train_button), "retryButton")
    assert retry.isVisibleTo(window.train_page) and "batch size 16" in retry.text()
    assert "ran out of memory" in window.train_page.status.text()
    with qtbot.waitSignal(window.training.idle, timeout=10_000):
        qtbot.mouseClick(retry, Qt.MouseButton.LeftButton)
    assert [c.batch_size for c, _ in calls] == [32, 16] and calls[1][0].gradient_accumulation == 2
    assert window.train_page.form.batch_size.value() == 16
