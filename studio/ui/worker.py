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

    The reporter runs on the training thread and only emits `event`, carrying the engine's frozen event
    unchanged; the GUI-side slots receive it queued, on the GUI thread.
    """

    # The engine's frozen events unchanged, plus the worker's own outcomes (Failed once, RetrySuggested): one
    # stream, so that a new event type needs no code here.
    # A signal named `event` hides QObject.event(QEvent) on the Python side, which mypy reports as an override;
    # Qt's own event handling is unaffected, and the controller and tests connect to the signal by this name.
    event = Signal(object)  # type: ignore[assignment]
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
        self._engine_failure: ev.Failed | None = None

    @Slot()
    def run(self) -> None:
        from studio.core.errors import OutOfMemoryError, StudioError

        try:
            self._train()
        except StudioError as exc:
            self._fail(str(exc))
            if isinstance(exc, OutOfMemoryError) and exc.retry_config is not None:
                self.event.emit(ev.RetrySuggested(config=exc.retry_config))
        except BaseException as exc:
            from studio.core.logfile import log_file

            log.error("Training failed unexpectedly", exc_info=(type(exc), exc, exc.__traceback__))
            self._fail(f"Training failed unexpectedly ({type(exc).__name__}: {exc}); the details are in {log_file()}.")
        finally:
            if self._engine_failure is not None:
                self._fail(self._engine_failure.message)
            self._return_to_gui_thread()
            self.finished.emit()

    def _train(self) -> None:
        """The run itself, on the training thread; its events go to self.report."""
        from studio.core.quiet import quiet_libraries
        from studio.core.training import resume_training, run_training
        from studio.ui.warmup import ensure_libraries

        ensure_libraries()  # imported once, and frozen out of the Trainer's gc.collect(): see warmup.py
        quiet_libraries()
        if self.resume_dir is not None:
            resume_training(self.resume_dir, self.report, self.stop)
        elif self.config is not None:  # __init__ saw to it that exactly one of the two is given
            run_training(self.config, self.report, self.stop)

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
            run_dir = self._engine_failure.run_dir if self._engine_failure is not None else None
            self.event.emit(ev.Failed(message=message, run_dir=run_dir))

    def report(self, event: ev.Event) -> None:
        """The engine's reporter: called on the training thread, so it only emits."""
        if isinstance(event, ev.Failed):
            # Held until the exception that follows says whether it was a bug (then the log file is named).
            self._engine_failure = event
        else:
            self.event.emit(event)
