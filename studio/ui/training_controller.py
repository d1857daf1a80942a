"""TrainingController: owns the one training thread; starts, resumes and stops runs, and waits at shutdown."""

from __future__ import annotations

import gc
import logging
import threading

from PySide6.QtCore import QEventLoop, QObject, QThread, Signal, Slot

from studio.core.config import TrainConfig
from studio.core.launch import IN_PROCESS, Launch
from studio.ui.worker import TrainingWorker

log = logging.getLogger(__name__)


class TrainingController(QObject):
    """One run at a time, in a QThread; the worker's one `event` signal is re-emitted from here, on the GUI thread.

    A run trains in this process, or in a child process (TrainingWorker or ProcessTrainingWorker, as the
    Launch says); both emit the same events, so the pages never know which.
    """

    # Every event of the run: the engine's frozen dataclasses, Failed, RetrySuggested. The name hides
    # QObject.event(QEvent) on the Python side, as in TrainingWorker (the pages connect to it by this name).
    event = Signal(object)  # type: ignore[assignment]
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

    def start(self, config: TrainConfig, launch: Launch = IN_PROCESS) -> None:
        self._launch(_worker(launch, config=config))

    def resume(self, run_dir: str, launch: Launch = IN_PROCESS) -> None:
        self._launch(_worker(launch, resume_dir=str(run_dir)))

    def _launch(self, worker: TrainingWorker) -> None:
        if self._thread is not None:
            raise RuntimeError("a run is already training")
        # The Trainer calls gc.collect() on the training thread. Qt wrappers freed there deadlock with the GUI
        # thread (~QObject holds a pooled Qt mutex and waits for the GIL; py-spy caught it), so the garbage there
        # that exists now is collected here, on the GUI thread, before the training thread exists.
        gc.collect()
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
        worker.event.connect(self.event)  # queued to this (the GUI) thread, then re-emitted
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


def _worker(launch: Launch, config: TrainConfig | None = None, resume_dir: str | None = None) -> TrainingWorker:
    if launch.in_process:
        return TrainingWorker(config=config, resume_dir=resume_dir, stop=threading.Event())
    from studio.ui.process_worker import ProcessTrainingWorker

    return ProcessTrainingWorker(launch, config=config, resume_dir=resume_dir, stop=threading.Event())
