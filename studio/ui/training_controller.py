"""TrainingController: owns the one training thread; starts, resumes and stops runs, and waits at shutdown."""

from __future__ import annotations

import logging
import threading

from PySide6.QtCore import QEventLoop, QObject, QThread, Signal, Slot

from studio.core.config import TrainConfig
from studio.ui.worker import TrainingWorker

log = logging.getLogger(__name__)

_RELAYED = (
    "run_created",
    "message_logged",
    "run_started",
    "progressed",
    "loss_logged",
    "evaluated",
    "run_finished",
    "run_failed",
    "retry_suggested",
)


class TrainingController(QObject):
    """One run at a time, in a QThread; the worker's signals are relayed from here, on the GUI thread."""

    run_created = Signal(object)
    message_logged = Signal(object)
    run_started = Signal(object)
    progressed = Signal(object)
    loss_logged = Signal(object)
    evaluated = Signal(object)
    run_finished = Signal(object)
    run_failed = Signal(str)
    retry_suggested = Signal(object)
    running_changed = Signal(bool)
    stopping = Signal()
    idle = Signal()  # the thread has ended

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        # References kept until the thread has finished, so that neither is collected while it runs.
        self._thread: QThread | None = None
        self._worker: TrainingWorker | None = None
        self._stop: threading.Event | None = None

    def is_running(self) -> bool:
        return self._thread is not None

    def start(self, config: TrainConfig) -> None:
        self._launch(TrainingWorker(config=config, stop=threading.Event()))

    def resume(self, run_dir: str) -> None:
        self._launch(TrainingWorker(resume_dir=str(run_dir), stop=threading.Event()))

    def _launch(self, worker: TrainingWorker) -> None:
        if self._thread is not None:
            raise RuntimeError("a run is already training")
        thread = QThread()
        thread.setObjectName("training")
        worker.moveToThread(thread)
        thread.started.connect(worker.run)
        worker.finished.connect(thread.quit)
        # No worker.deleteLater: the worker comes back to this thread and goes with our last reference to it
        # (see TrainingWorker._return_to_gui_thread). Ours first: it drops the references before deleteLater
        # destroys the thread object.
        thread.finished.connect(self._on_thread_finished)
        thread.finished.connect(thread.deleteLater)
        for name in _RELAYED:
            getattr(worker, name).connect(getattr(self, name))
        self._thread, self._worker, self._stop = thread, worker, worker.stop
        self.running_changed.emit(True)
        thread.start()

    @Slot()
    def stop(self) -> None:
        """Ask the run to stop after the current step; set from this thread, read by the training loop."""
        if self._stop is not None and not self._stop.is_set():
            self._stop.set()
            self.stopping.emit()

    def wait_until_idle(self) -> None:
        """Keep the GUI painting (a local event loop) until the training thread has ended."""
        if self._thread is None:
            return
        loop = QEventLoop()
        self.idle.connect(loop.quit)
        try:
            loop.exec()
        finally:
            self.idle.disconnect(loop.quit)

    def shutdown(self) -> None:
        """At exit: stop the run and block until its thread is gone (no event loop is left to wait in)."""
        thread = self._thread
        if thread is not None:
            self.stop()
            thread.wait()

    @Slot()
    def _on_thread_finished(self) -> None:
        # `finished` comes just before the thread ends: dropping our references (which deletes the worker)
        # while it still ran crashed about one test run in eight.
        if self._thread is not None:
            self._thread.wait()
        self._thread = self._worker = self._stop = None
        self.running_changed.emit(False)
        self.idle.emit()
