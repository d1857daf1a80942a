"""TaskRunner: short background jobs (model inspection, CSV loading, prediction) with results on the GUI thread."""

from __future__ import annotations

import itertools
import logging
from collections.abc import Callable
from dataclasses import dataclass

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal, Slot

from studio.core.errors import StudioError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TaskError:
    """Why a task failed: a sentence for the user, and whether it was a bug rather than a bad input."""

    message: str
    unexpected: bool = False


def describe_error(exc: BaseException) -> TaskError:
    """The sentence to show for an exception raised by the engine (or by a bug)."""
    if isinstance(exc, StudioError):
        return TaskError(str(exc))
    from studio.core.logfile import log_file

    log.error("Unexpected error in a background task", exc_info=(type(exc), exc, exc.__traceback__))
    return TaskError(
        f"Something unexpected went wrong ({type(exc).__name__}: {exc}); the details are in {log_file()}.",
        unexpected=True,
    )


_NO_CONTEXT = object()


@dataclass
class _Callbacks:
    done: Callable | None
    failed: Callable | None
    progress: Callable | None
    context: object = _NO_CONTEXT

    def call(self, callback: Callable | None, value) -> None:
        if callback is None:
            return
        if self.context is _NO_CONTEXT:
            callback(value)
        else:
            callback(value, self.context)


class _Task(QRunnable):
    def __init__(self, runner: TaskRunner, task_id: int, fn: Callable, args, kwargs, libraries: bool = False):
        super().__init__()
        self.runner, self.task_id, self.fn, self.args, self.kwargs = runner, task_id, fn, args, kwargs
        self.libraries = libraries

    def run(self) -> None:
        try:
            if self.libraries:
                from studio.ui.warmup import ensure_libraries

                ensure_libraries()
            result, error = self.fn(*self.args, **self.kwargs), None
        except BaseException as exc:
            result, error = None, describe_error(exc)
        # Emitted from the pool thread; the runner lives on the GUI thread, so the slot runs there (queued).
        self.runner.task_finished.emit(self.task_id, result, error)


class TaskRunner(QObject):
    """Runs callables on a private thread pool and calls done(result) or failed(TaskError) on the GUI thread.

    Callbacks are bound methods of GUI objects; they are invoked from this object's slots, which run on the
    GUI thread, never from the pool thread.
    """

    task_finished = Signal(int, object, object)
    task_progressed = Signal(int, int, int)

    def __init__(self, parent: QObject | None = None, max_threads: int = 4):
        super().__init__(parent)
        self._pool = QThreadPool(self)
        # Enough that a CSV still loads at once while two jobs wait on the libraries' first import.
        self._pool.setMaxThreadCount(max_threads)
        self._ids = itertools.count(1)
        self._callbacks: dict[int, _Callbacks] = {}
        self.task_finished.connect(self._on_task_finished)
        self.task_progressed.connect(self._on_task_progressed)

    def submit(
        self,
        fn: Callable,
        *args,
        done: Callable | None = None,
        failed: Callable | None = None,
        progress: Callable | None = None,
        context: object = _NO_CONTEXT,
        libraries: bool = False,
        **kwargs,
    ) -> int:
        """Run fn(*args, **kwargs) in the background, then call done(result) or failed(TaskError).

        With `progress`, fn also gets report(done, total), which calls progress(done, total) here. With
        `context`, the callbacks get it as a second argument: what the result belongs to, so that a page
        can ignore the answer to a question it no longer asks. With `libraries`, fn runs once torch and
        transformers are imported (see warmup.ensure_libraries): two threads importing them at once break.
        """
        task_id = next(self._ids)
        self._callbacks[task_id] = _Callbacks(done, failed, progress, context)
        if progress is not None:
            kwargs["report"] = _Reporter(self, task_id)
        self._pool.start(_Task(self, task_id, fn, args, kwargs, libraries))
        return task_id

    def busy(self) -> bool:
        return bool(self._callbacks)

    def wait(self, msecs: int = -1) -> bool:
        """Block until every task has ended (at shutdown); True when none is left."""
        return self._pool.waitForDone(msecs)

    @Slot(int, object, object)
    def _on_task_finished(self, task_id: int, result, error) -> None:
        callbacks = self._callbacks.pop(task_id, None)
        if callbacks is None:
            return
        if error is None:
            callbacks.call(callbacks.done, result)
        elif callbacks.failed is not None:
            callbacks.call(callbacks.failed, error)
        else:
            log.warning("A background task failed with nobody to tell: %s", error.message)

    @Slot(int, int, int)
    def _on_task_progressed(self, task_id: int, done: int, total: int) -> None:
        callbacks = self._callbacks.get(task_id)
        if callbacks is not None and callbacks.progress is not None:
            callbacks.progress(done, total)


class _Reporter:
    """The report(done, total) a task calls from its thread; it becomes a queued signal."""

    def __init__(self, runner: TaskRunner, task_id: int):
        self.runner, self.task_id = runner, task_id

    def __call__(self, done: int, total: int) -> None:
        self.runner.task_progressed.emit(self.task_id, int(done), int(total))
