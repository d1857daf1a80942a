"""SearchWorker and SearchController: a hyperparameter search (core.search.run_search) in the training QThread."""

from __future__ import annotations

import gc
import logging
import subprocess
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Signal, Slot

from studio.core import events as ev
from studio.ui.training_controller import TrainingController
from studio.ui.worker import TrainingWorker

if TYPE_CHECKING:
    from studio.core.search import SearchResult, SearchSettings

log = logging.getLogger(__name__)

# How long a trial waits for the GUI thread to collect garbage before it starts anyway.
COLLECT_WAIT_S = 2.0


@dataclass(frozen=True)
class SearchStarted:
    """The search's folder is ready (prepared, or reloaded to resume): its settings, as the study keeps them."""

    folder: str
    settings: SearchSettings
    resumed: bool


@dataclass(frozen=True)
class SearchEnded:
    """run_search returned: every trial, the best, and whether the budget is spent (False: stopped, resumable)."""

    result: SearchResult


class _GuiCollector(QObject):
    """Collects garbage on the GUI thread when a trial asks, then lets the trial go on (see SearchWorker)."""

    requested = Signal(object)  # the threading.Event to set once collected

    def __init__(self):
        super().__init__()
        self.requested.connect(self._on_requested)

    @Slot(object)
    def _on_requested(self, done: threading.Event) -> None:
        gc.collect()
        done.set()


class SearchWorker(TrainingWorker):
    """Prepares a new search (or reloads one to resume) and runs its trials, one after another, in this thread.

    Every trial is an ordinary in-process run, so the events are the training's (one `event` stream) plus
    TrialUpdated, SearchStarted and SearchEnded. With `workers` above 1, the other trials run in child processes
    on the same study, as `studio search --workers` starts them; they are ended when this worker ends.
    """

    def __init__(
        self,
        folder: str,
        settings: SearchSettings | None = None,
        workers: int = 1,
        stop: threading.Event | None = None,
    ):
        # The base class wants a config or a run folder; the search's folder stands in for the latter.
        super().__init__(resume_dir=str(folder), stop=stop)
        self.folder = str(folder)
        self.settings = settings
        self.workers = workers
        self._helpers: list[subprocess.Popen] = []
        # Made here, on the GUI thread, so that its slot runs there.
        self._collector = _GuiCollector()

    def _train(self) -> None:
        from studio.core.quiet import quiet_libraries
        from studio.core.search import load_search, prepare_search, run_search
        from studio.ui.warmup import ensure_libraries

        ensure_libraries()
        quiet_libraries()
        import optuna  # noqa: F401  (here, not in the first trial's events: it takes a second)

        resumed = self.settings is None
        settings = load_search(self.folder) if self.settings is None else prepare_search(self.settings, self.folder)
        self.event.emit(SearchStarted(folder=str(Path(self.folder).absolute()), settings=settings, resumed=resumed))
        if self.workers > 1:
            from studio.cli_search import _start_worker

            self._helpers = [_start_worker(self.folder, n, self.workers) for n in range(1, self.workers)]
        try:
            result = run_search(self.folder, self.report, self.stop)
        finally:
            self._end_helpers()
        self.event.emit(SearchEnded(result=result))

    def _end_helpers(self) -> None:
        for helper in self._helpers:
            if self.stop.is_set():
                # Its running trial is marked failed and run again when the search is resumed.
                helper.terminate()
            try:
                helper.wait(timeout=600)
            except subprocess.TimeoutExpired:
                helper.kill()
        self._helpers = []

    def report(self, event: ev.Event) -> None:
        if isinstance(event, ev.Failed):
            # A trial's failure: run_search marks the trial failed and goes on; its TrialUpdated carries the
            # sentence, so it is a line in the log here, not the end of the search.
            self.event.emit(ev.Message(f"A trial failed: {event.message}", "warning"))
            return
        if isinstance(event, ev.TrialUpdated) and event.state == "running":
            self._collect_on_gui_thread()
        self.event.emit(event)

    def _collect_on_gui_thread(self) -> None:
        # Each trial's Trainer calls gc.collect() on this thread; Qt wrappers the page let go of since the last
        # trial would be freed here and could deadlock (training_controller.py says how). So the GUI thread
        # collects first, as TrainingController does before the first run. Waited for in short slices and
        # never for long: the GUI thread may itself be waiting for this thread to end.
        done = threading.Event()
        self._collector.requested.emit(done)
        waited = 0.0
        while not done.wait(0.05) and not self.stop.is_set() and waited < COLLECT_WAIT_S:
            waited += 0.05


class SearchController(TrainingController):
    """One search at a time, in a QThread, with the training controller's start, stop, wait and shutdown."""

    def start_search(self, settings: SearchSettings, folder: str, workers: int = 1) -> None:
        """Prepare the search in `folder` (off this thread: it reads the data and opens the study) and run it."""
        self._launch(SearchWorker(folder, settings=settings, workers=workers, stop=threading.Event()))

    def resume_search(self, folder: str, workers: int = 1) -> None:
        self._launch(SearchWorker(folder, workers=workers, stop=threading.Event()))
