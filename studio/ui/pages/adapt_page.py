"""AdaptPage: adapt the model to the user's domain (masked-LM pre-training on their text) before training it."""

from __future__ import annotations

import html
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from studio.core import events as ev
from studio.core.config import BUILTIN_MODEL
from studio.ui import formatting
from studio.ui.adapt_worker import AdaptController
from studio.ui.pages.adapt_curves import AdaptCurves, perplexity_text
from studio.ui.pages.adapt_form import AdaptForm
from studio.ui.widgets import MessageLabel, RunButtons, page_header

LOG_LINES = 2000
NO_RESULT = "The held-out perplexity before and after appears here."


class AdaptPage(QWidget):
    """Continues the pre-training of the model on the user's unlabelled text, in the app's training thread.

    The model comes from `model_spec()` given at construction, or set_model(); set_training_data() offers the
    training file's text column as the corpus. `model_ready` carries the adapted model's folder when an
    adaptation finishes (and when the user asks to use it); `running_changed` says when one runs.
    """

    model_ready = Signal(str)
    running_changed = Signal(bool)

    def __init__(self, model_spec: Callable[[], str] | None = None, parent: QWidget | None = None):
        super().__init__(parent)
        self._model_spec = model_spec
        self._model = BUILTIN_MODEL
        self.controller = AdaptController(self)
        self._output: str | None = None  # the folder the running or last adaptation writes its model to
        self._adapted: str | None = None  # the last adapted model's folder
        self._run_dir: str | None = None  # the running or last adaptation's run folder (to resume it)

        self.form = AdaptForm()
        # The form's controls, by the names the window and the tests use.
        f = self.form
        self.corpus, self.text_column, self.output = f.corpus, f.text_column, f.output
        self.mlm_probability, self.whole_word, self.max_length = f.mlm_probability, f.whole_word, f.max_length
        self.length_kind, self.epochs, self.steps = f.length_kind, f.epochs, f.steps
        self.learning_rate, self.batch_size = f.learning_rate, f.batch_size
        self.run_buttons = RunButtons(
            "adapt",
            "Adapt",
            stop_tip="Stop after this step; the model so far is written and Resume carries it on",
            resume_tip="Carry on a stopped adaptation: choose its run folder",
        )
        self.start_button = self.run_buttons.start
        self.stop_button = self.run_buttons.stop
        self.resume_button = self.run_buttons.resume
        self.progress = QProgressBar()
        self.progress.setObjectName("adaptProgress")
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        self.progress.setFormat("Not started")
        self.status = MessageLabel()
        self.status.setObjectName("adaptStatus")
        self.curves = AdaptCurves(self)
        self.before_after = QLabel(NO_RESULT)
        self.before_after.setObjectName("adaptBeforeAfter")
        self.before_after.setWordWrap(True)
        self.use_button = QPushButton("Train with this model")
        self.use_button.setObjectName("adaptUseModel")
        self.use_button.setEnabled(False)
        self.use_button.setToolTip("Choose the adapted model on the Model page, to fine-tune it on the labelled data")
        self.log = QPlainTextEdit()
        self.log.setObjectName("adaptLog")
        self.log.setReadOnly(True)
        self.log.setMaximumBlockCount(LOG_LINES)
        self.log.setPlaceholderText("What the adaptation does appears here.")
        self._build_layout()

        self.start_button.clicked.connect(self._on_start_clicked)
        self.stop_button.clicked.connect(self._on_stop_clicked)
        self.resume_button.clicked.connect(self._on_resume_clicked)
        self.use_button.clicked.connect(self._on_use_clicked)
        self.controller.event.connect(self._on_event)
        self.controller.running_changed.connect(self._on_running_changed)
        self.controller.stopping.connect(self._on_stopping)
        self._handlers: dict[type, Callable] = {
            ev.RunCreated: self._on_run_created,
            ev.RunStarted: self._on_run_started,
            ev.Progress: self._on_progress,
            ev.LossLogged: self._on_loss_logged,
            ev.Message: self._on_message,
            ev.Finished: self._on_finished,
            ev.Failed: self._on_failed,
        }

    def _build_layout(self) -> None:
        buttons = self.run_buttons.layout
        left = QWidget()
        left.setObjectName("adaptControls")
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

        plots = QSplitter(Qt.Orientation.Horizontal)
        plots.addWidget(self.curves.loss_plot)
        plots.addWidget(self.curves.perplexity_plot)
        result = QWidget()
        result_row = QHBoxLayout(result)
        result_row.setContentsMargins(0, 0, 0, 0)
        result_row.addWidget(self.before_after, 1)
        result_row.addWidget(self.use_button)
        right = QSplitter(Qt.Orientation.Vertical)
        right.addWidget(plots)
        right.addWidget(result)
        right.addWidget(self.log)
        right.setStretchFactor(0, 3)
        right.setStretchFactor(1, 0)
        right.setStretchFactor(2, 1)
        body = QHBoxLayout()
        body.addWidget(scroll)
        body.addWidget(right, 1)
        layout = QVBoxLayout(self)
        layout.addWidget(
            page_header(
                "Adapt to my domain",
                "Before training on a few labelled rows, let the model read your own unlabelled text the way BERT "
                "was pre-trained (mask words, predict them). The perplexity on held-out text shows how much it learnt.",
            )
        )
        layout.addLayout(body, 1)

    # Driven by the main window ---------------------------------------------------------------------------

    def set_model(self, spec: str) -> None:
        """The model to adapt (the Model page's choice)."""
        self._model = spec or BUILTIN_MODEL
        self.form.show_model(self._model)

    def set_training_data(self, csv_path: str, text_column: str | None = None) -> None:
        """Offer the training file's text as the corpus, while the user has chosen no other."""
        if self.corpus.text().strip() or not csv_path or self.controller.is_running():
            return
        self.form.set_corpus(csv_path, text_column)

    def is_running(self) -> bool:
        return self.controller.is_running()

    def shutdown(self) -> None:
        """At exit: stop the adaptation and wait for its thread (it stays resumable)."""
        self.controller.shutdown()

    def adapted_model(self) -> str | None:
        return self._adapted

    def run_dir(self) -> str | None:
        """The running or last adaptation's run folder."""
        return self._run_dir

    def points(self) -> dict[str, int]:
        """How many points each curve holds: loss, heldout, perplexity."""
        return self.curves.counts()

    # Starting --------------------------------------------------------------------------------------------

    def _current_model(self) -> str:
        if self._model_spec is not None:
            self.set_model(self._model_spec())
        return self._model

    @Slot()
    def _on_start_clicked(self) -> None:
        if self.controller.is_running():
            return
        from studio.core.adapt import check_output
        from studio.core.errors import StudioError

        config = self.form.config(self._current_model())
        try:
            if not config.corpus:
                raise StudioError("Choose the text to adapt on: a text file (one passage a line) or a CSV file.")
            config.validate()
            check_output(config.output_dir or "")
        except StudioError as exc:
            self.status.show_error(str(exc))
            return
        self._reset(config.output_dir)
        self.status.show_message("Starting: reading the text and loading the model…", "info")
        self.controller.start_adapt(config)

    @Slot()
    def _on_resume_clicked(self) -> None:
        if self.controller.is_running():
            return
        from studio.core.paths import runs_dir

        folder = QFileDialog.getExistingDirectory(self, "Choose the adaptation's run folder", str(runs_dir()))
        if folder:
            self.resume(folder)

    def resume(self, run_dir: str) -> None:
        """Carry on the adaptation in `run_dir` with its own settings, writing the model where it did."""
        from studio.core.adapt import CONFIG_FILE, AdaptConfig
        from studio.core.errors import StudioError

        if not (Path(run_dir) / CONFIG_FILE).is_file():
            self.status.show_error(
                f"{run_dir} is not an adaptation run folder (it has no {CONFIG_FILE}); choose one from the runs folder."
            )
            return
        try:
            config = AdaptConfig.load(Path(run_dir) / CONFIG_FILE)
        except StudioError as exc:
            self.status.show_error(str(exc))
            return
        self._reset(config.output_dir)
        self.status.show_message("Resuming the adaptation…", "info")
        self.controller.resume_adapt(run_dir)

    def _reset(self, output: str | None) -> None:
        self._output = output
        self.curves.clear()
        self.log.clear()
        self.use_button.setEnabled(False)
        self.before_after.setText("Measuring the held-out perplexity before adapting…")

    # Events, on the GUI thread ---------------------------------------------------------------------------

    @Slot(object)
    def _on_event(self, event) -> None:
        if type(event).__name__ == "PerplexityEvaluated":
            # Defined in core.adapt, which the page does not import until a run starts: matched by name.
            self._on_perplexity(event)
            return
        handler = self._handlers.get(type(event))
        if handler is not None:
            handler(event)

    def _on_run_created(self, event: ev.RunCreated) -> None:
        self._run_dir = event.run_dir
        self.append_log(("Resuming the adaptation in " if event.resumed else "Run folder: ") + event.run_dir)

    def _on_run_started(self, event: ev.RunStarted) -> None:
        self.progress.setRange(0, max(1, event.total_steps))
        self.progress.setValue(event.resumed_from_step)
        self.progress.setFormat(f"Step {event.resumed_from_step} of {event.total_steps}")
        self.curves.set_total_steps(event.total_steps)
        self.status.show_message(
            f"Adapting on {event.device.upper()} ({event.precision}): {event.train_rows:,} blocks of text, "
            f"{event.validation_rows:,} held out, {event.total_steps:,} steps.",
            "info",
        )

    def _on_progress(self, event: ev.Progress) -> None:
        if self.progress.maximum() != event.total_steps:
            self.progress.setRange(0, event.total_steps)
        self.progress.setValue(event.step)
        left = "estimating the time left" if event.eta_s is None else f"about {formatting.duration(event.eta_s)} left"
        self.progress.setFormat(f"Step {event.step} of {event.total_steps} · {left}")

    def _on_loss_logged(self, event: ev.LossLogged) -> None:
        self.curves.loss.append(event.step, event.loss)

    def _on_perplexity(self, event) -> None:
        self.curves.add_perplexity(event.step, event.loss, event.perplexity)
        if event.phase == "before":
            # The engine's own message says it in the log.
            self.before_after.setText(f"Held-out perplexity before adapting: {perplexity_text(event.perplexity)}")
        else:
            self.append_log(
                f"Step {event.step}: held-out loss {event.loss:.4f}, perplexity {perplexity_text(event.perplexity)}"
            )

    def _on_message(self, event: ev.Message) -> None:
        self.append_log(event.text, event.level)

    def _on_finished(self, event: ev.Finished) -> None:
        self.curves.redraw()
        m = event.metrics
        before, after = m.get("perplexity_before"), m.get("perplexity_after")
        change = ""
        if isinstance(before, (int, float)) and isinstance(after, (int, float)) and before > 0:
            change = f" ({(after - before) / before:+.0%})"
        self.before_after.setText(
            f"Held-out perplexity: {perplexity_text(before)} before → {perplexity_text(after)} after{change}."
        )
        self._adapted = self._output if self._output and Path(self._output).is_dir() else event.model_dir
        self.use_button.setEnabled(True)
        if event.stopped:
            self.progress.setFormat("Stopped")
            self.status.show_message(
                f"Stopped early; the model so far is in {self._adapted}. Resume… carries it on from its run folder "
                f"({Path(event.run_dir).name}).",
                "ok",
            )
        else:
            self.progress.setValue(self.progress.maximum())
            self.progress.setFormat("Done")
            self.status.show_message(f"Done: the adapted model is in {self._adapted}; train it next.", "ok")
            self.model_ready.emit(self._adapted)
        self.append_log(f"{'Stopped' if event.stopped else 'Finished'}: model in {self._adapted}")

    def _on_failed(self, event: ev.Failed) -> None:
        self.progress.setFormat("Failed")
        self.status.show_error(event.message)
        self.append_log(event.message, "error")
        if self.before_after.text().startswith("Measuring"):
            self.before_after.setText(NO_RESULT)

    def append_log(self, text: str, level: str = "info") -> None:
        if level in ("warning", "error"):
            color = "#b00020" if level == "error" else "#8a5a00"
            self.log.appendHtml(f'<span style="color:{color}">{html.escape(level)}: {html.escape(text)}</span>')
        else:
            self.log.appendPlainText(text)

    # The buttons -------------------------------------------------------------------------------------------

    @Slot(bool)
    def _on_running_changed(self, running: bool) -> None:
        self.form.setEnabled(not running)
        self.run_buttons.set_running(running)
        if running:
            self.curves.start()
        else:
            self.curves.stop()
        self.running_changed.emit(running)

    @Slot()
    def _on_stop_clicked(self) -> None:
        self.controller.stop()

    @Slot()
    def _on_stopping(self) -> None:
        self.stop_button.setEnabled(False)
        self.status.show_message("Stopping after this step; the model so far is written first…", "info")

    @Slot()
    def _on_use_clicked(self) -> None:
        if self._adapted:
            self.model_ready.emit(self._adapted)
