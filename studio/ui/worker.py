"""TrainingWorker: runs the engine's training in a QThread and turns its events into Qt signals."""

from __future__ import annotations

import logging
import threading

from PySide6.QtCore import QCoreApplication, QObject, Signal, Slot

from studio.core import events as ev
from studio.core.config import TrainConfig

log = logging.getLogger(__name__)


class TrainingWorker(QObject):
    """Trains one run (a new config, or a run folder to resume); lives in its own QThread.

    The reporter runs on the training thread and only emits signals; each carries the engine's frozen
    event unchanged, and the GUI-side slots receive it queued, on the GUI thread.
    """

    run_created = Signal(object)  # RunCreated
    message_logged = Signal(object)  # Message
    run_started = Signal(object)  # RunStarted
    progressed = Signal(object)  # Progress
    loss_logged = Signal(object)  # LossLogged
    evaluated = Signal(object)  # Evaluated
    run_finished = Signal(object)  # Finished
    run_failed = Signal(str)  # the sentence to show
    retry_suggested = Signal(object)  # a TrainConfig that would fit in memory, after an out-of-memory error
    finished = Signal()  # the worker is done, whatever happened: quit the thread

    def __init__(
        self, config: TrainConfig | None = None, resume_dir: str | None = None, stop: threading.Event | None = None
    ):
        super().__init__()
        if (config is None) == (resume_dir is None):
            raise ValueError("give either a config or a run folder to resume")
        self.config = config
        self.resume_dir = resume_dir
        # Set directly from the GUI thread: a queued slot would never run while train() holds this thread.
        self.stop = stop or threading.Event()
        self._failure_reported = False
        self._engine_failure: str | None = None

    @Slot()
    def run(self) -> None:
        from studio.core.errors import OutOfMemoryError, StudioError

        try:
            from studio.core.quiet import quiet_libraries
            from studio.core.training import resume_training, run_training
            from studio.ui.warmup import ensure_libraries

            ensure_libraries()  # imported once, and frozen out of the Trainer's gc.collect(): see warmup.py
            quiet_libraries()
            if self.resume_dir is not None:
                resume_training(self.resume_dir, self.report, self.stop)
            else:
                run_training(self.config, self.report, self.stop)
        except StudioError as exc:
            self._fail(str(exc))
            if isinstance(exc, OutOfMemoryError) and exc.retry_config is not None:
                self.retry_suggested.emit(exc.retry_config)
        except BaseException as exc:
            from studio.core.logfile import log_file

            log.error("Training failed unexpectedly", exc_info=(type(exc), exc, exc.__traceback__))
            self._fail(f"Training failed unexpectedly ({type(exc).__name__}: {exc}); the details are in {log_file()}.")
        finally:
            if self._engine_failure is not None:
                self._fail(self._engine_failure)
            self._return_to_gui_thread()
            self.finished.emit()

    def _return_to_gui_thread(self) -> None:
        # The worker must be destroyed on the GUI thread. Destroyed on the training thread (deleteLater),
        # ~QObject holds one of Qt's pooled signal-slot mutexes while PySide waits there for the GIL; the
        # GUI thread, holding the GIL, could wait for the same pooled mutex in any connect(): a deadlock
        # that hung about one test run in ten. Only the object's own thread may move it, so it is done here.
        app = QCoreApplication.instance()
        if app is not None and self.thread() is not app.thread():
            self.moveToThread(app.thread())

    def _fail(self, message: str) -> None:
        # One sentence per run: the engine reports Failed and then raises, and errors before its run folder
        # exists come only as exceptions.
        if not self._failure_reported:
            self._failure_reported = True
            self.run_failed.emit(message)

    def report(self, event: ev.Event) -> None:
        """The engine's reporter: called on the training thread, so it only emits."""
        if isinstance(event, ev.Progress):
            self.progressed.emit(event)
        elif isinstance(event, ev.LossLogged):
            self.loss_logged.emit(event)
        elif isinstance(event, ev.Evaluated):
            self.evaluated.emit(event)
        elif isinstance(event, ev.Message):
            self.message_logged.emit(event)
        elif isinstance(event, ev.RunStarted):
            self.run_started.emit(event)
        elif isinstance(event, ev.RunCreated):
            self.run_created.emit(event)
        elif isinstance(event, ev.Finished):
            self.run_finished.emit(event)
        elif isinstance(event, ev.Failed):
            # Held until the exception that follows says whether it was a bug (then the log file is named).
            self._engine_failure = event.message
