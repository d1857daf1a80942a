"""TrainPage: the settings, Train and Stop, progress with ETA, live loss, score and rate plots, the layer map, the log
and the runs."""

from __future__ import annotations

import html
import math
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import (
    QHBoxLayout,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSplitter,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from studio.core import events as ev
from studio.ui import figures, formatting
from studio.ui.layer_map import LayerMap
from studio.ui.pages.device_choice import DeviceChoice
from studio.ui.pages.runs_panel import RunsPanel
from studio.ui.pages.train_settings import HyperparameterForm
from studio.ui.plots import LiveCurves
from studio.ui.settings import Settings
from studio.ui.tasks import TaskError, TaskRunner
from studio.ui.widgets import MessageLabel, page_header

if TYPE_CHECKING:
    from studio.core.config import TrainConfig

LOG_LINES = 5000


class TrainPage(QWidget):
    """Where training is started, watched and stopped; slots take the worker's events on the GUI thread."""

    train_requested = Signal()
    stop_requested = Signal()
    retry_requested = Signal(object)  # the TrainConfig the engine suggested after running out of memory

    def __init__(self, tasks: TaskRunner, settings: Settings, parent: QWidget | None = None):
        super().__init__(parent)
        self.form = HyperparameterForm(settings.hyperparameters)
        self.hardware = DeviceChoice()
        self.hardware.restore(settings.device, settings.precision)
        self._tasks = tasks
        self.train_button = QPushButton("Train")
        self.train_button.setObjectName("trainButton")
        self.train_button.setProperty("primary", True)
        self.train_button.setToolTip("Fine-tune the model on the data with these settings")
        self.stop_button = QPushButton("Stop")
        self.stop_button.setObjectName("stopButton")
        self.stop_button.setToolTip(
            "Stop after the current step; the best checkpoint is kept and the run can be resumed"
        )
        self.stop_button.setEnabled(False)
        self.progress = QProgressBar()
        self.progress.setObjectName("progressBar")
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        self.progress.setFormat("Not started")
        self.progress.setTextVisible(True)
        self.status = MessageLabel()
        self.status.setObjectName("trainStatus")
        self.retry_button = QPushButton()
        self.retry_button.setObjectName("retryButton")
        self.retry_button.setVisible(False)
        self._retry: TrainConfig | None = None
        self.curves = LiveCurves(self)
        self.log = QPlainTextEdit()
        self.log.setObjectName("trainLog")
        self.log.setReadOnly(True)
        self.log.setMaximumBlockCount(LOG_LINES)
        self.log.setPlaceholderText("What the training does appears here.")
        self.runs = RunsPanel(tasks)
        self.layer_map = LayerMap(tasks)
        self._total_steps = 0
        self._task = figures.task_of("single")  # the running task: its figures go on the plot and in the log

        left = QWidget()
        left.setObjectName("trainControls")
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 6, 0)
        left_layout.addWidget(self.form)
        left_layout.addWidget(self.hardware)
        buttons = QHBoxLayout()
        buttons.addWidget(self.train_button, 1)
        buttons.addWidget(self.stop_button)
        left_layout.addLayout(buttons)
        left_layout.addWidget(self.progress)
        left_layout.addWidget(self.status)
        left_layout.addWidget(self.retry_button)
        left_layout.addStretch(1)
        scroll = QScrollArea()
        scroll.setObjectName("trainControlsScroll")
        scroll.setWidget(left)
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setMinimumWidth(360)
        scroll.setMaximumWidth(420)

        plots = QSplitter(Qt.Orientation.Horizontal)
        plots.addWidget(self.curves.loss_plot)
        plots.addWidget(self.curves.f1_plot)
        plots.addWidget(self.curves.lr_plot)
        plots.setSizes([5, 5, 4])  # shares: one curve needs less room than two with a legend
        self.tabs = QTabWidget()
        self.tabs.addTab(self.log, "Log")
        self.tabs.addTab(self.runs, "Runs")
        # The smoothing control sits under the loss plot it acts on, leaving both plots the same height.
        plots_box = QWidget()
        plots_layout = QVBoxLayout(plots_box)
        plots_layout.setContentsMargins(0, 0, 0, 0)
        plots_layout.setSpacing(2)
        plots_layout.addWidget(plots, 1)
        plots_layout.addWidget(self.curves.smoothing, 0, Qt.AlignmentFlag.AlignLeft)
        # The layer map beside the log: tall enough for a 12-layer model's 14 rows at the default size.
        below = QSplitter(Qt.Orientation.Horizontal)
        below.setObjectName("trainBelowPlots")
        below.addWidget(self.layer_map)
        below.addWidget(self.tabs)
        below.setStretchFactor(0, 1)
        below.setStretchFactor(1, 1)
        self.layer_map.setMinimumWidth(340)
        right = QSplitter(Qt.Orientation.Vertical)
        right.addWidget(plots_box)
        right.addWidget(below)
        right.setStretchFactor(0, 1)
        right.setStretchFactor(1, 1)
        # Given their first sizes when the page first shows.
        self._splitters: tuple[QSplitter, ...] = (right, below)

        body = QHBoxLayout()
        body.addWidget(scroll)
        body.addWidget(right, 1)
        layout = QVBoxLayout(self)
        layout.addWidget(
            page_header(
                "Train",
                "Fine-tune the model on the data. The curves show how it learns; Stop keeps the best "
                "checkpoint so far.",
            )
        )
        layout.addLayout(body, 1)

        self.train_button.clicked.connect(self._on_train_clicked)
        self.stop_button.clicked.connect(self._on_stop_clicked)
        self.retry_button.clicked.connect(self._on_retry_clicked)
        self.form.settings_changed.connect(self._on_form_settings_changed)
        # What the page shows of each event: a new event type needs only an entry here (and its handler).
        self._handlers: dict[type[ev.Event], Callable] = {
            ev.RunCreated: self._on_run_created,
            ev.RunStarted: self._on_run_started,
            ev.LayersPlanned: self._on_layers_planned,
            ev.BlocksUnfrozen: self._on_blocks_unfrozen,
            ev.Progress: self._on_progress,
            ev.LossLogged: self._on_loss_logged,
            ev.Evaluated: self._on_evaluated,
            ev.Message: self._on_message,
            ev.Finished: self._on_finished,
            ev.Failed: self._on_failed,
            ev.RetrySuggested: self._on_retry_suggested,
        }

    def showEvent(self, event) -> None:
        super().showEvent(event)
        if self._splitters:
            # Once, when their sizes are known: at the default window size the plots keep ~330 px of height and
            # the layer map gets ~360, enough for a 12-layer model's 14 rows; the map and the log share the width.
            right, below = self._splitters
            self._splitters = ()
            height, width = sum(right.sizes()), sum(below.sizes())
            if height > 0 and width > 0:
                right.setSizes([round(height * 0.48), height - round(height * 0.48)])
                below.setSizes([width // 2, width - width // 2])

    # Driven by the main window -------------------------------------------------------------------------

    def set_running(self, running: bool) -> None:
        self.train_button.setEnabled(not running)
        self.stop_button.setEnabled(running)
        self.form.setEnabled(not running)
        self.hardware.setEnabled(not running)
        self.runs.set_training(running)
        if running:
            self.retry_button.setVisible(False)
            self.status.show_message("Starting: reading the data and loading the model…", "info")
            # Not Qt's busy range (0, 0), where value() == maximum() would read as finished to code that polls.
            self.progress.setRange(0, 1)
            self.progress.setValue(0)
            self.progress.setFormat("Starting…")

    def shutdown(self) -> None:
        """The window closes: the layer map starts no more previews."""
        self.layer_map.shutdown()

    def probe_devices(self) -> None:
        """Find the devices in the background (it imports torch) and offer them."""
        from studio.core.devices import list_devices

        self._tasks.submit(list_devices, done=self._on_devices_listed, failed=self._on_devices_failed)

    def _on_devices_listed(self, options: list) -> None:
        self.hardware.set_options(options)

    def _on_devices_failed(self, error: TaskError) -> None:
        self.hardware.summary.show_error(f"The devices could not be listed: {error.message}")

    def set_waiting(self, message: str) -> None:
        """Train was pressed and is accepted, but something must be ready first."""
        self.train_button.setEnabled(False)
        self.status.show_message(message, "info")

    def refuse(self, message: str) -> None:
        """A run that cannot start: say why here, where the user pressed Train."""
        self.train_button.setEnabled(True)
        self.status.show_error(message)

    def append_log(self, text: str, level: str = "info") -> None:
        if level in ("warning", "error"):
            color = "#b00020" if level == "error" else "#8a5a00"
            self.log.appendHtml(f'<span style="color:{color}">{html.escape(level)}: {html.escape(text)}</span>')
        else:
            self.log.appendPlainText(text)

    def replay(self, events: list[dict]) -> None:
        """Put the points of a resumed run's earlier steps back on the curves."""
        for event in events:
            kind = event.get("kind")
            if kind == "LossLogged":
                self.curves.add_loss(event["step"], event["loss"])
                if isinstance(event.get("learning_rate"), (int, float)):
                    self.curves.add_learning_rate(event["step"], event["learning_rate"])
            elif kind == "Evaluated":
                # Written by this version (main and scores) or by one before it (f1 and accuracy).
                scores = event.get("scores") or {}
                main = figures.number(event.get("main", scores.get(self._task.main_metric, event.get("f1"))))
                accuracy = figures.number(scores.get("accuracy", event.get("accuracy")))
                self.curves.add_evaluation(event["step"], event["loss"], main, accuracy)
        self.curves.redraw()

    # The run's events, on the GUI thread -------------------------------------------------------------

    @Slot(object)
    def on_event(self, event: ev.Event) -> None:
        """Every event of the run arrives here and goes to its handler in _handlers; others are not shown."""
        handler = self._handlers.get(type(event))
        if handler is not None:
            handler(event)

    def _on_run_created(self, event: ev.RunCreated) -> None:
        self.curves.reset()
        self.layer_map.start_run()
        self.append_log(("Resuming the run in " if event.resumed else "Run folder: ") + event.run_dir)

    def _on_run_started(self, event: ev.RunStarted) -> None:
        self._total_steps = event.total_steps
        self._task = task = figures.task_of(event.task)
        self.curves.set_task(task.main_metric_title, "accuracy" in task.shown_scalars)
        self.progress.setRange(0, event.total_steps)
        self.progress.setValue(event.resumed_from_step)
        self.progress.setFormat(f"Step {event.resumed_from_step} of {event.total_steps}")
        self.status.show_message(
            f"Training on {event.device.upper()} ({event.precision}): {event.train_rows:,} training and "
            f"{event.validation_rows:,} validation rows, {event.total_steps:,} steps.",
            "info",
        )
        self.append_log(
            f"Training on {event.device} ({event.precision}), {event.total_steps} steps; "
            f"{formatting.count(event.trainable_parameters)} of {formatting.count(event.total_parameters)} "
            f"parameters train; {task.title.lower()}" + (f", labels: {', '.join(event.labels)}" if event.labels else "")
        )
        self.curves.start(event.total_steps)
        self.layer_map.set_total_steps(event.total_steps)
        if event.resumed_from_step:
            from studio.core.runs import read_events

            # This run's earlier lives, up to the step it resumes from, back on the curves.
            earlier = read_events(Path(event.run_dir))
            last_start = max((i for i, e in enumerate(earlier) if e.get("kind") == "RunCreated"), default=0)
            self.replay([e for e in earlier[:last_start] if e.get("step", 0) <= event.resumed_from_step])

    def _on_progress(self, event: ev.Progress) -> None:
        if self.progress.maximum() != event.total_steps:
            self.progress.setRange(0, event.total_steps)
        self.progress.setValue(event.step)
        left = "estimating the time left" if event.eta_s is None else f"about {formatting.duration(event.eta_s)} left"
        self.progress.setFormat(f"Step {event.step} of {event.total_steps} · epoch {event.epoch:.2f} · {left}")

    def _on_loss_logged(self, event: ev.LossLogged) -> None:
        self.curves.add_loss(event.step, event.loss)
        self.curves.add_learning_rate(event.step, event.learning_rate)

    def _on_layers_planned(self, event: ev.LayersPlanned) -> None:
        self.layer_map.show_plan(event.blocks)

    def _on_blocks_unfrozen(self, event: ev.BlocksUnfrozen) -> None:
        self.layer_map.unfreeze(event.step, event.blocks, event.trainable_parameters)
        self.append_log(
            f"Step {event.step} (epoch {event.epoch:.2f}): {', '.join(event.blocks)} "
            f"{'trains' if len(event.blocks) == 1 else 'train'} from now on; "
            f"{formatting.count(event.trainable_parameters)} parameters train."
        )

    def _on_evaluated(self, event: ev.Evaluated) -> None:
        task = self._task
        scores = dict(event.scores)
        self.curves.add_evaluation(event.step, event.loss, event.main, figures.number(scores.get("accuracy")))
        shown = [
            f"{figures.scalar_title(task, key)} {scores[key]:.4f}"
            for key in task.shown_scalars
            if isinstance(scores.get(key), (int, float)) and math.isfinite(scores[key])
        ]
        self.append_log(
            f"Step {event.step} (epoch {event.epoch:.2f}): validation loss {event.loss:.4f}"
            + "".join(f", {text}" for text in shown)
        )

    def _on_message(self, event: ev.Message) -> None:
        self.append_log(event.text, event.level)

    def _on_finished(self, event: ev.Finished) -> None:
        self.curves.stop()
        self.layer_map.end_run()
        m = event.metrics
        if not event.stopped:
            self.progress.setValue(self.progress.maximum())
        summary = f"{figures.headline(m)} after {formatting.duration(m.get('train_seconds'))} of training"
        if event.stopped:
            self.progress.setFormat("Stopped")
            self.status.show_message(
                f"Stopped early; the best model so far has {summary}. Resume the run from the Runs tab, or look "
                "at it on the Evaluate page.",
                "ok",
            )
        else:
            self.progress.setFormat("Done")
            self.status.show_message(
                f"Done: {summary}. See the Evaluate page, export the model, or try it on the Inference page.", "ok"
            )
        if event.export_error:
            self.status.show_error(event.export_error)
        self.append_log(f"{'Stopped' if event.stopped else 'Finished'}: {summary}. Model: {event.model_dir}")
        self.runs.refresh()

    def _on_failed(self, event: ev.Failed) -> None:
        self.curves.stop()
        self.layer_map.end_run()
        self.progress.setFormat("Failed")
        self.status.show_error(event.message)
        self.append_log(event.message, "error")
        self.runs.refresh()

    def _on_retry_suggested(self, event: ev.RetrySuggested) -> None:
        config = self._retry = event.config
        self.retry_button.setText(
            f"Retry with batch size {config.batch_size} and gradient accumulation {config.gradient_accumulation}"
        )
        self.retry_button.setVisible(True)

    @Slot()
    def _on_form_settings_changed(self) -> None:
        self.layer_map.show_settings(self.form.layer_config(), self.form.info)

    @Slot(str)
    def use_rare_classes(self, choice: str) -> None:
        """The Data page's suggestion taken: "balanced" class weights, or "oversample"; their section opens."""
        methods = self.form.methods
        if choice == "oversample":
            methods.oversample.setChecked(True)
            text = "Rare classes are oversampled"
        else:
            methods.set_class_weights(choice, methods.oversample.isChecked())
            text = f"Class weights set to {choice}"
        methods.rare_section.set_expanded(True)
        self.status.show_message(f"{text} (Rare classes, under the settings).", "info")

    @Slot()
    def on_stopping(self) -> None:
        self.stop_button.setEnabled(False)
        self.status.show_message("Stopping after this step; the model is evaluated and saved first…", "info")

    @Slot()
    def _on_train_clicked(self) -> None:
        self.train_requested.emit()

    @Slot()
    def _on_stop_clicked(self) -> None:
        self.stop_requested.emit()

    @Slot()
    def _on_retry_clicked(self) -> None:
        if self._retry is not None:
            self.retry_requested.emit(self._retry)
