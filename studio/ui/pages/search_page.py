"""SearchPage: the search space, method and budget; Start, Stop, Resume; live trials table and plots; the best."""

from __future__ import annotations

import html
import json
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, QTimer, Signal, Slot
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QPlainTextEdit,
    QProgressBar,
    QScrollArea,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from studio.core import events as ev
from studio.core.errors import ConfigError
from studio.ui import figures, formatting
from studio.ui.pages.search_form import SearchForm, default_folder
from studio.ui.pages.search_space_editor import LABELS
from studio.ui.pages.search_trials import TrialsView, read_trials, settings_text, summary_state
from studio.ui.search_worker import SearchController, SearchEnded, SearchStarted
from studio.ui.tasks import TaskError, TaskRunner
from studio.ui.widgets import MessageLabel, RunButtons, page_header

if TYPE_CHECKING:
    from studio.core.config import TrainConfig
    from studio.core.search import SearchSettings

LOG_LINES = 2000
# How often a running search's search.json is read for the trials other processes run (--workers, a shared study).
POLL_MS = 3000


class SearchPage(QWidget):
    """Searches the Train page's settings: every trial an ordinary run, in the app's training thread.

    The fixed settings (data, model and the Train page's values) come from `base_config()` given at
    construction, or from set_base_config(). `settings_chosen` carries the best trial's settings
    ({field: value}) when the user asks to train with them; `running_changed` says when a search runs.
    """

    settings_chosen = Signal(dict)
    running_changed = Signal(bool)

    def __init__(
        self,
        base_config: Callable[[], TrainConfig] | None = None,
        tasks: TaskRunner | None = None,
        parent: QWidget | None = None,
    ):
        super().__init__(parent)
        self._base_config = base_config
        self._base: TrainConfig | None = None
        self._tasks = tasks or TaskRunner(self)
        self.controller = SearchController(self)
        self._folder: str | None = None
        self._settings: SearchSettings | None = None  # of the search shown
        self._trial_steps = ""

        self.form = SearchForm()
        # The form's controls, by the names the window and the tests use.
        self.space, self.method, self.trials = self.form.space, self.form.method, self.form.trials
        self.prune, self.workers, self.folder = self.form.prune, self.form.workers, self.form.folder
        self.grid_note = self.form.grid_note
        self.run_buttons = RunButtons(
            "search",
            "Start search",
            stop_tip="Stop after this step; the trial's run is kept and Resume carries it on",
            resume_tip="Carry on a search that was stopped: choose its folder",
        )
        self.start_button = self.run_buttons.start
        self.stop_button = self.run_buttons.stop
        self.resume_button = self.run_buttons.resume
        self.progress = QProgressBar()
        self.progress.setObjectName("searchProgress")
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        self.progress.setFormat("Not started")
        self.status = MessageLabel()
        self.status.setObjectName("searchStatus")

        self.results = TrialsView()
        self.log = QPlainTextEdit()
        self.log.setObjectName("searchLog")
        self.log.setReadOnly(True)
        self.log.setMaximumBlockCount(LOG_LINES)
        self.log.setPlaceholderText("What the search does appears here.")
        self._poll = QTimer(self)
        self._poll.setInterval(POLL_MS)
        self._poll.timeout.connect(self._on_poll_timeout)
        self._build_layout()

        self.space.changed.connect(self._on_space_changed)
        self.start_button.clicked.connect(self._on_start_clicked)
        self.stop_button.clicked.connect(self._on_stop_clicked)
        self.resume_button.clicked.connect(self._on_resume_clicked)
        self.results.export_button.clicked.connect(self._on_export_clicked)
        self.results.use_button.clicked.connect(self._on_use_clicked)
        self.controller.event.connect(self._on_event)
        self.controller.running_changed.connect(self._on_running_changed)
        self.controller.stopping.connect(self._on_stopping)
        self._handlers: dict[type, Callable] = {
            SearchStarted: self._on_search_started,
            SearchEnded: self._on_search_ended,
            ev.TrialUpdated: self._on_trial_updated,
            ev.RunStarted: self._on_run_started,
            ev.Progress: self._on_progress,
            ev.Message: self._on_message,
            ev.Failed: self._on_failed,
        }
        self._on_space_changed()

    def _build_layout(self) -> None:
        buttons = self.run_buttons.layout
        left = QWidget()
        left.setObjectName("searchControls")
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 6, 0)
        left_layout.addWidget(self.form)
        left_layout.addLayout(buttons)
        left_layout.addWidget(self.progress)
        left_layout.addWidget(self.status)
        left_layout.addStretch(1)
        scroll = QScrollArea()
        scroll.setWidget(left)
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setMinimumWidth(380)
        scroll.setMaximumWidth(460)

        right = QSplitter(Qt.Orientation.Vertical)
        right.addWidget(self.results.plots)
        right.addWidget(self.results.table_box)
        right.addWidget(self.log)
        right.setStretchFactor(0, 4)
        right.setStretchFactor(1, 4)
        right.setStretchFactor(2, 1)
        body = QHBoxLayout()
        body.addWidget(scroll)
        body.addWidget(right, 1)
        layout = QVBoxLayout(self)
        layout.addWidget(
            page_header(
                "Search",
                "Find the best training settings: each trial is an ordinary run with its own folder, and a stopped "
                "search carries on where it was.",
            )
        )
        layout.addLayout(body, 1)

    # Driven by the main window ---------------------------------------------------------------------------

    def set_base_config(self, config: TrainConfig) -> None:
        """The fixed settings of the next search: the data, the model and the Train page's values."""
        self._base = config
        self.form.show_base(config)

    def is_running(self) -> bool:
        return self.controller.is_running()

    def shutdown(self) -> None:
        """At exit: stop the search and wait for its thread (the trial's run stays resumable)."""
        self.controller.shutdown()

    def trial_rows(self) -> list[dict]:
        """The trials as the table shows them, in trial order (for the window and the tests)."""
        return self.results.rows()

    def best(self) -> dict | None:
        return self.results.best

    # Starting --------------------------------------------------------------------------------------------

    def _current_base(self) -> TrainConfig | None:
        if self._base_config is not None:
            self._base = self._base_config()
            self.form.show_base(self._base)
        return self._base

    @Slot()
    def _on_start_clicked(self) -> None:
        if self.controller.is_running():
            return
        problem = self.form.problem()
        base = None
        if problem is None:
            try:
                base = self._current_base()
            except Exception as exc:  # the window's own reading of its pages: a sentence, never a traceback
                problem = f"The settings could not be read from the other pages ({exc})."
        if problem is None and (base is None or not base.train_csv):
            problem = "Choose the training data on the Data page first; the search trains on it."
        if problem is not None or base is None:
            self.status.show_error(problem or "")
            return
        settings = self.form.settings(base)
        self._reset(self.form.folder_path())
        self.status.show_message("Starting: reading the data and creating the study…", "info")
        self.controller.start_search(settings, self._folder or "", self.workers.value())

    @Slot()
    def _on_resume_clicked(self) -> None:
        if self.controller.is_running():
            return
        start = self.folder.text().strip() or str(default_folder().parent)
        folder = QFileDialog.getExistingDirectory(self, "Choose the search's folder", start)
        if folder:
            self.resume(folder)

    def resume(self, folder: str) -> None:
        """Carry on the search in `folder`: its trials so far come back on the table and plots first."""
        from studio.core.search import SEARCH_FILE, load_search

        if self.controller.is_running():
            return
        try:
            settings = load_search(folder)
        except ConfigError as exc:
            self.status.show_error(str(exc))
            return
        self._reset(str(Path(folder).expanduser().absolute()))
        self._show_settings(settings)
        for trial in read_trials(Path(folder) / SEARCH_FILE):
            self.results.set_summary_trial(trial, summary_state(trial))
        self.status.show_message("Resuming the search…", "info")
        self.controller.resume_search(self._folder or folder, self.workers.value())

    def _reset(self, folder: str) -> None:
        self._folder = folder
        self.results.clear()
        self.log.clear()

    def _show_settings(self, settings: SearchSettings) -> None:
        """Show the search's own space, method and budget (a resumed one, or as prepare_search adjusted it)."""
        self._settings = settings
        self.form.show_settings(settings, self._folder or "")
        title = figures.task_of(settings.base.task).main_metric_title
        self.results.set_metric(title, "learning_rate" in self.space.searched())
        self.progress.setRange(0, settings.trials)

    # Events, on the GUI thread ---------------------------------------------------------------------------

    @Slot(object)
    def _on_event(self, event) -> None:
        handler = self._handlers.get(type(event))
        if handler is not None:
            handler(event)

    def _on_search_started(self, event: SearchStarted) -> None:
        self._folder = event.folder
        self._show_settings(event.settings)
        self.append_log(("Resuming the search in " if event.resumed else "Search folder: ") + event.folder)
        self.append_log(f"Study: {event.settings.storage}")
        searched = ", ".join(LABELS.get(d.split("=")[0], d.split("=")[0]).lower() for d in event.settings.space)
        self.status.show_message(
            f"Searching {searched}: {event.settings.trials} trials, {self.method.currentText().split(' (')[0]}"
            + (", with pruning." if event.settings.prune else "."),
            "info",
        )
        self._show_count("Running")

    def _on_trial_updated(self, event: ev.TrialUpdated) -> None:
        state = "stopped" if event.state == "failed" and event.message == "stopped" else event.state
        self.results.set_trial(event.number, dict(event.settings), state, event.metric, event.run, event.message)
        self._show_best()
        text = f"Trial {event.number} {state}: {settings_text(event.settings)}"
        if event.metric is not None:
            text += f" → {self.results.metric_title} {formatting.metric(event.metric)}"
        if event.message and state == "failed":
            text += f" ({event.message})"
        self.append_log(text, "warning" if state == "failed" else "info")
        if state == "running":
            self._trial_steps = ""
            self._show_count(f"Trial {event.number}")

    def _on_run_started(self, event: ev.RunStarted) -> None:
        self._trial_steps = f" · {event.total_steps} steps on {event.device.upper()}"

    def _on_progress(self, event: ev.Progress) -> None:
        running = self.results.running()
        label = f"Trial {running[-1]}" if running else "Running"
        self._show_count(f"{label}: step {event.step} of {event.total_steps}")

    def _on_message(self, event: ev.Message) -> None:
        self.append_log(event.text, event.level)

    def _on_failed(self, event: ev.Failed) -> None:
        self.status.show_error(event.message)
        self.append_log(event.message, "error")
        self.progress.setFormat("Failed")

    def _on_search_ended(self, event: SearchEnded) -> None:
        result = event.result
        for trial in result.trials:
            known = self.results.trials.get(trial["number"])
            if known is None or known["state"] == "running":
                self.results.set_summary_trial(trial, summary_state(trial))
        self.results.set_best(result.best)
        self._show_best()
        finished = sum(1 for t in result.trials if t["state"] in ("complete", "pruned"))
        budget = self._settings.trials if self._settings is not None else finished
        self.progress.setRange(0, max(1, budget))
        self.progress.setValue(min(finished, budget))
        if result.finished:
            self.progress.setFormat("Done")
            self.status.show_message(f"Done: {finished} trials finished.", "ok")
        else:
            self.progress.setFormat(f"Stopped: {finished} of {budget} trials")
            self.status.show_message(
                f"Stopped after {finished} of {budget} trials; Resume… carries the search on from its folder.", "ok"
            )

    def append_log(self, text: str, level: str = "info") -> None:
        if level in ("warning", "error"):
            color = "#b00020" if level == "error" else "#8a5a00"
            self.log.appendHtml(f'<span style="color:{color}">{html.escape(level)}: {html.escape(text)}</span>')
        else:
            self.log.appendPlainText(text)

    # The best ----------------------------------------------------------------------------------------------

    def _show_best(self) -> None:
        """The best trial's buttons: its settings at any time, its model once no trial is training."""
        self.results.export_button.setEnabled(not self.controller.is_running() and bool(self._best_model()))

    def _best_model(self) -> str | None:
        """The best model's folder: the search's exported best/, or the best trial's run's model."""
        from studio.core.runs import MODEL
        from studio.core.search import BEST

        if self._folder and (Path(self._folder) / BEST / "config.json").is_file() and self._best_is_exported():
            return str(Path(self._folder) / BEST)
        run = (self.results.best or {}).get("run")
        if run and (Path(run) / MODEL / "config.json").is_file():
            return str(Path(run) / MODEL)
        return None

    def _best_is_exported(self) -> bool:
        from studio.core.search import SEARCH_FILE

        try:
            summary = json.loads((Path(self._folder or "") / SEARCH_FILE).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return False
        best = summary.get("best") or {}
        return bool(best.get("model")) and best.get("number") == (self.results.best or {}).get("number")

    def _show_count(self, text: str) -> None:
        finished = self.results.finished()
        budget = self._settings.trials if self._settings is not None else max(1, finished)
        self.progress.setRange(0, max(1, budget))
        self.progress.setValue(min(finished, budget))
        self.progress.setFormat(f"{finished} of {budget} trials finished · {text}{self._trial_steps}")

    # The buttons -------------------------------------------------------------------------------------------

    @Slot()
    def _on_poll_timeout(self) -> None:
        """Trials other processes run on this study appear as search.json lists them; this one's come as events."""
        from studio.core.search import SEARCH_FILE

        if not self._folder:
            return
        for trial in read_trials(Path(self._folder) / SEARCH_FILE):
            known = self.results.trials.get(trial["number"])
            state = trial.get("state")
            ended = state in ("complete", "pruned", "failed")
            if known is None or (known["state"] == "running" and ended):
                self.results.set_summary_trial(trial, summary_state(trial) if ended else "running")
                self._show_best()

    @Slot(bool)
    def _on_running_changed(self, running: bool) -> None:
        if running:
            self._poll.start()
        else:
            self._poll.stop()
        self.form.setEnabled(not running)
        self.run_buttons.set_running(running)
        self._show_best()
        self.running_changed.emit(running)

    @Slot()
    def _on_stop_clicked(self) -> None:
        self.controller.stop()

    @Slot()
    def _on_stopping(self) -> None:
        self.stop_button.setEnabled(False)
        self.status.show_message("Stopping after this step; the trial's run is kept to carry on…", "info")

    @Slot()
    def _on_space_changed(self) -> None:
        self.results.lr_plot.setVisible(self.form.learning_rate_searched() or not self.space.rows)

    @Slot()
    def _on_use_clicked(self) -> None:
        best = self.results.best
        if best and best.get("settings"):
            self.settings_chosen.emit(dict(best["settings"]))
            self.results.message.show_message(f"The settings of trial {best['number']} are on the Train page.", "ok")

    @Slot()
    def _on_export_clicked(self) -> None:
        source = self._best_model()
        if source is None:
            self.results.message.show_error("The best trial's model is no longer there; it cannot be exported.")
            return
        dest = QFileDialog.getExistingDirectory(self, "Export the best model to", str(Path.home()))
        if not dest:
            return
        from studio.core.export import export_folder

        self.results.export_button.setEnabled(False)
        self.results.message.show_message(f"Exporting to {dest}…", "info")
        self._tasks.submit(export_folder, source, dest, done=self._on_exported, failed=self._on_export_failed)

    def _on_exported(self, folder) -> None:
        self._show_best()
        self.results.message.show_message(f"The best model is exported to {folder}.", "ok")

    def _on_export_failed(self, error: TaskError) -> None:
        self._show_best()
        self.results.message.show_error(error.message)
