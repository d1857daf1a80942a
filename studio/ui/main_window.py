"""MainWindow: the pages in a sidebar, the controllers that connect them, and a clean shutdown."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QByteArray, QSettings, QThreadPool, QTimer, Signal, Slot
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QLayout,
    QListWidget,
    QMainWindow,
    QMessageBox,
    QStackedWidget,
    QWidget,
)

from studio.core import events as ev
from studio.core.config import TrainConfig
from studio.core.errors import StudioError
from studio.core.paths import config_dir
from studio.ui.collector import GuiThreadCollector
from studio.ui.pages.model_page import ModelPage
from studio.ui.settings import load_settings, save_settings
from studio.ui.settings_files import SettingsFiles
from studio.ui.tasks import TaskError, TaskRunner
from studio.ui.training_controller import TrainingController
from studio.ui.warmup import ensure_libraries

if TYPE_CHECKING:  # imported in _build_pages, after the first paint
    from studio.ui.pages.adapt_page import AdaptPage
    from studio.ui.pages.data_page import DataPage
    from studio.ui.pages.evaluate_page import EvaluatePage
    from studio.ui.pages.inference_page import InferencePage
    from studio.ui.pages.search_page import SearchPage
    from studio.ui.pages.train_page import TrainPage

log = logging.getLogger(__name__)

# The heavy libraries start loading this long after the window is up, so that it paints first.
HEAVY_START_MS = 800
# A deferred window (the app's) builds its other pages once it has painted, or after this long at the latest.
BUILD_PAGES_LATEST_MS = 1000
PAGES = ("Model", "Data", "Adapt", "Train", "Search", "Evaluate", "Inference")


@dataclass(frozen=True)
class BuiltPages:
    """The pages after the Model page, all built at once by MainWindow._build_pages, in the sidebar's order."""

    data: DataPage
    adapt: AdaptPage
    train: TrainPage
    search: SearchPage
    evaluate: EvaluatePage
    inference: InferencePage

    def in_order(self) -> tuple[QWidget, ...]:
        return (self.data, self.adapt, self.train, self.search, self.evaluate, self.inference)


class MainWindow(QMainWindow):
    """Model → Data → Adapt → Train → Search → Evaluate → Inference, in one window that never waits on the engine."""

    first_painted = Signal()  # once, just after the window's first paint pass

    def __init__(self, parent: QWidget | None = None, *, deferred: bool = False):
        """Build the window; with deferred=True (the app) only the Model page comes at once, the rest
        (and with them numpy and pyqtgraph) just after the first paint, so that the window shows sooner."""
        super().__init__(parent)
        # While the window is open, garbage is collected on this thread only (collector.py says why).
        GuiThreadCollector.hold()
        self._holds_collector = True
        self.setObjectName("mainWindow")
        self.setWindowTitle("Fine-Tuning Studio")
        self.settings = load_settings()
        self.tasks = TaskRunner(self)
        self.training = TrainingController(self)
        self._closing = False
        self._waiting_for_model = False  # Train was pressed before the model had been read

        self.model_page = ModelPage(self.tasks, self.settings)
        self.model_page.setObjectName("modelPage")
        self._pages: BuiltPages | None = None  # until _build_pages
        self.sidebar = QListWidget()
        self.sidebar.setObjectName("sidebar")
        self.stack = QStackedWidget()
        self.stack.setObjectName("pages")
        self.stack.addWidget(self.model_page)
        for name in PAGES:
            self.sidebar.addItem(name)
        for _ in PAGES[1:]:
            self.stack.addWidget(QWidget())  # placeholders until _build_pages
        self.sidebar.setFixedWidth(150)
        central = QWidget()
        layout = QHBoxLayout(central)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self.sidebar)
        layout.addWidget(self.stack, 1)
        self.setCentralWidget(central)
        # A fixed minimum, set before the window exists, instead of one the layout recomputes whenever a label
        # changes: that would resend size hints to the window system each time (and offscreen Qt warns of it).
        window_layout = self.layout()
        if window_layout is not None:  # a QMainWindow always has its own layout; the stubs allow for a widget without
            window_layout.setSizeConstraint(QLayout.SizeConstraint.SetNoConstraint)
        self.setMinimumSize(960, 640)
        self.run_state = QLabel("")
        self.run_state.setObjectName("runState")
        self.statusBar().addPermanentWidget(self.run_state)
        self.settings_files = SettingsFiles(self)  # File > Save settings…, Load settings…
        self.sidebar.currentRowChanged.connect(self.stack.setCurrentIndex)
        self._restore_window()
        self._build_after_paint = deferred
        self._painted = False
        if deferred:
            QTimer.singleShot(BUILD_PAGES_LATEST_MS, self._build_pages)  # in case it is never painted
        else:
            self._build_pages()

    # The pages after the Model page ---------------------------------------------------------------------

    @property
    def pages(self) -> BuiltPages:
        """The Data, Train, Evaluate and Inference pages; only for code that runs once they are built."""
        if self._pages is None:
            raise RuntimeError("The window's pages are used before they were built (see MainWindow._build_pages).")
        return self._pages

    @property
    def data_page(self) -> DataPage | None:
        """None until the pages are built (a deferred window builds them just after its first paint)."""
        return self._pages.data if self._pages is not None else None

    @property
    def train_page(self) -> TrainPage | None:
        return self._pages.train if self._pages is not None else None

    @property
    def evaluate_page(self) -> EvaluatePage | None:
        return self._pages.evaluate if self._pages is not None else None

    @property
    def inference_page(self) -> InferencePage | None:
        return self._pages.inference if self._pages is not None else None

    def paintEvent(self, event) -> None:
        super().paintEvent(event)
        if not self._painted:
            self._painted = True
            QTimer.singleShot(0, self.first_painted.emit)
        if self._build_after_paint:
            # A 0 ms timer runs after this paint pass is flushed: the user sees the window, then the pages fill.
            self._build_after_paint = False
            QTimer.singleShot(0, self._build_pages)

    @Slot()
    def _build_pages(self) -> None:
        """The pages after the Model page, in place of their placeholders."""
        if self._closing or self._pages is not None:
            return
        from studio.ui.pages.adapt_page import AdaptPage
        from studio.ui.pages.data_page import DataPage
        from studio.ui.pages.evaluate_page import EvaluatePage
        from studio.ui.pages.inference_page import InferencePage
        from studio.ui.pages.search_page import SearchPage
        from studio.ui.pages.train_page import TrainPage

        pages = self._pages = BuiltPages(
            data=DataPage(self.tasks, self.settings),
            adapt=AdaptPage(model_spec=self.model_page.spec),
            train=TrainPage(self.tasks, self.settings),
            search=SearchPage(base_config=self.current_config, tasks=self.tasks),
            evaluate=EvaluatePage(self.tasks, self.settings),
            inference=InferencePage(self.tasks, self.settings),
        )
        for index, (name, page) in enumerate(zip(PAGES[1:], pages.in_order(), strict=True), start=1):
            page.setObjectName(f"{name.lower()}Page")
            placeholder = self.stack.widget(index)
            self.stack.insertWidget(index, page)
            if placeholder is not None:  # always there: __init__ put one at each of these indexes
                self.stack.removeWidget(placeholder)
                placeholder.deleteLater()
        self.stack.setCurrentIndex(self.sidebar.currentRow())
        self._connect(pages)
        pages.data.load_initial()
        pages.train.runs.refresh()
        QTimer.singleShot(HEAVY_START_MS, self._on_heavy_start)

    def _connect(self, pages: BuiltPages) -> None:
        self.model_page.model_changed.connect(self._on_model_changed)
        self.model_page.model_inspected.connect(self._on_model_inspected)
        self.model_page.model_failed.connect(self._on_model_failed)
        pages.data.task_changed.connect(pages.train.form.set_task)
        pages.data.rare_classes_requested.connect(self._on_rare_classes_requested)
        pages.train.train_requested.connect(self._on_train_requested)
        pages.train.stop_requested.connect(self.training.stop)
        pages.train.retry_requested.connect(self._on_retry_requested)
        pages.train.runs.resume_requested.connect(self._on_resume_requested)
        pages.train.runs.results_requested.connect(self._on_results_requested)
        pages.evaluate.exported.connect(self._on_exported)
        pages.data.table_loaded.connect(self._on_table_loaded)
        pages.evaluate.open_in_inference.connect(self._on_open_in_inference)
        pages.evaluate.threshold_view.threshold_saved.connect(self._on_threshold_saved)
        pages.evaluate.mislabels_view.copies_saved.connect(self._on_corrected_copies)
        # The pre-flight check counts tokens with the chosen model's tokenizer against the Train page's max length.
        pages.train.form.max_length.valueChanged.connect(self._on_check_options_changed)
        self.model_page.model_inspected.connect(self._on_check_options_changed)
        pages.adapt.model_ready.connect(self._on_adapted_model)
        pages.search.settings_chosen.connect(self._on_search_settings_chosen)
        pages.adapt.running_changed.connect(self._on_any_running_changed)
        pages.search.running_changed.connect(self._on_any_running_changed)
        self.training.running_changed.connect(self._on_any_running_changed)
        self.training.event.connect(pages.train.on_event)
        self.training.event.connect(self._on_training_event)
        self.training.stopping.connect(pages.train.on_stopping)
        self.training.running_changed.connect(self._on_running_changed)
        # What the window itself does with the run's events (the Train page has its own table).
        self._event_handlers: dict[type[ev.Event], Callable] = {
            ev.Progress: self._on_progressed,
            ev.Finished: self._on_run_finished,
            ev.Failed: self._on_run_failed,
        }

    def show_page(self, name: str) -> None:
        self.sidebar.setCurrentRow(PAGES.index(name))

    # Startup --------------------------------------------------------------------------------------------

    @Slot()
    def _on_heavy_start(self) -> None:
        if self._closing:
            return
        self.model_page.inspect()
        # The training libraries too, now rather than when Train is pressed (see warmup.py).
        self.tasks.submit(ensure_libraries, failed=self._on_preload_failed)
        self.pages.train.probe_devices()

    def _on_preload_failed(self, error: TaskError) -> None:
        log.warning("Preloading the training libraries failed: %s", error.message)

    # Training -------------------------------------------------------------------------------------------

    def current_config(self) -> TrainConfig:
        data, train = self.pages.data, self.pages.train
        text_column, label_column = data.columns()
        return TrainConfig(
            train_csv=data.train_csv(),
            validation_csv=data.validation_csv(),
            model=self.model_page.spec(),
            text_column=text_column,
            label_column=label_column,
            task=data.chosen_task(),
            pair_column=data.chosen_pair_column(),
            validation_share=data.validation_share(),
            allow_pickle=self.model_page.allows_pickle(),
            **train.form.values(),
            **train.hardware.values(),
        )

    @Slot()
    def _on_train_requested(self) -> None:
        if self.training.is_running() or self._waiting_for_model:
            return
        train = self.pages.train
        problem = train.form.first_problem()
        if problem:
            train.refuse(problem)
            return
        if self.model_page.current_info() is None:
            # The model's layer count and longest input bound the settings: read it first, then train.
            self._waiting_for_model = True
            train.set_waiting("Reading the model before training…")
            self.model_page.ensure_inspected()
            return
        self._start_training()

    def _busy_elsewhere(self, starting: str) -> str | None:
        """Why `starting` ("train", "adapt" or "search") must wait: one job uses the machine at a time."""
        pages = self.pages
        running = {
            "train": self.training.is_running(),
            "adapt": pages.adapt.is_running(),
            "search": pages.search.is_running(),
        }
        names = {"train": "A training run", "adapt": "A domain adaptation", "search": "A search"}
        for job, on in running.items():
            if on and job != starting:
                return f"{names[job]} is running; stop it or let it finish first."
        return None

    @Slot(bool)
    def _on_any_running_changed(self, _running: bool) -> None:
        """Only one of training, adaptation and search at a time: the others' start buttons wait."""
        pages = self.pages
        for job, page in (("adapt", pages.adapt), ("search", pages.search)):
            reason = self._busy_elsewhere(job)
            if not page.is_running():
                page.start_button.setEnabled(reason is None)
                page.start_button.setToolTip(reason or "")

    def _on_check_options_changed(self, *_) -> None:
        self.pages.data.set_check_options(self.model_page.spec(), self.pages.train.form.max_length.value())

    @Slot(object)
    def _on_table_loaded(self, _loaded) -> None:
        data = self.pages.data
        self.pages.adapt.set_training_data(data.train_csv(), data.columns()[0])

    @Slot(str)
    def _on_open_in_inference(self, text: str) -> None:
        self.show_page("Inference")
        self.pages.inference.show_text(text)

    @Slot(float)
    def _on_threshold_saved(self, _threshold: float) -> None:
        """The model folder's decisions changed: the Inference tab must not keep predicting with the old ones."""
        if self.pages.evaluate.model_dir:
            self.pages.inference.model_changed_on_disk(self.pages.evaluate.model_dir)

    @Slot(object)
    def _on_corrected_copies(self, copies: list) -> None:
        """The Data page takes the corrected copies of the run's files, so that the next run trains on them."""
        from studio.core.corrections import is_corrected_copy
        from studio.core.runs import load_run

        data = self.pages.data
        model_dir = self.pages.evaluate.model_dir
        try:
            config = load_run(Path(model_dir).parent).config if model_dir else None
        except StudioError:
            config = None  # the run was moved or deleted since: the copies are saved, the Data page stays
        if config is None:
            return
        loaded = []
        for copy in copies:
            for source, load in ((config.train_csv, data.load_train), (config.validation_csv, data.load_validation)):
                if source and is_corrected_copy(copy.path, source):
                    load(str(copy.path))
                    loaded.append(copy.path.name)
        if loaded:
            self.statusBar().showMessage(f"The Data page now uses {' and '.join(loaded)}: train again on it.", 15000)

    @Slot(str)
    def _on_adapted_model(self, folder: str) -> None:
        """The adapted model is the one to train next: the Model page reads it."""
        self.model_page.use_model(folder)

    @Slot(dict)
    def _on_search_settings_chosen(self, chosen: dict) -> None:
        train = self.pages.train
        train.form.store(self.settings.hyperparameters)
        for name, value in chosen.items():
            if hasattr(self.settings.hyperparameters, name):
                setattr(self.settings.hyperparameters, name, value)
        train.form.set_values(self.settings.hyperparameters)
        self.show_page("Train")
        self.statusBar().showMessage("The best trial's settings are on the Train page.", 10000)

    def _start_training(self) -> None:
        train = self.pages.train
        problem = train.form.first_problem() or train.hardware.problem() or self._busy_elsewhere("train")
        config = self.current_config()
        problem = problem or next(iter(config.problems().values()), None)
        if problem:
            train.refuse(problem)
            return
        train.form.store(self.settings.hyperparameters)
        self.settings.device, self.settings.precision = train.hardware.chosen()
        self.settings.hyperparameters.validation_share = config.validation_share
        self.settings.model = config.model
        save_settings(self.settings)
        self.training.start(config, train.hardware.launch())

    @Slot(str)
    def _on_rare_classes_requested(self, choice: str) -> None:
        self.pages.train.use_rare_classes(choice)
        self.show_page("Train")

    @Slot(object)
    def _on_retry_requested(self, config: TrainConfig) -> None:
        if not self.training.is_running():
            self.pages.train.form.batch_size.setValue(config.batch_size)
            self.training.start(config, self.pages.train.hardware.launch())

    @Slot(str)
    def _on_resume_requested(self, run_dir: str) -> None:
        if not self.training.is_running():
            self.show_page("Train")
            # On the device chosen now: a run begun on all GPUs carries on under torchrun when that is chosen.
            self.training.resume(run_dir, self.pages.train.hardware.launch())

    @Slot(bool)
    def _on_running_changed(self, running: bool) -> None:
        self.pages.train.set_running(running)
        self.run_state.setText("Training…" if running else "")

    @Slot(object)
    def _on_training_event(self, event: ev.Event) -> None:
        handler = self._event_handlers.get(type(event))
        if handler is not None:
            handler(event)

    def _on_progressed(self, event: ev.Progress) -> None:
        self.run_state.setText(f"Training: step {event.step} of {event.total_steps}")

    def _on_run_finished(self, event: ev.Finished) -> None:
        self.pages.evaluate.show_results(event.model_dir, event.metrics, event.stopped)
        from studio.ui.pages.inference_page import JUST_TRAINED

        run = Path(event.run_dir).name
        self.pages.inference.set_model_folder(event.model_dir, f"{JUST_TRAINED} ({run})")
        from studio.ui.figures import headline

        self.statusBar().showMessage(
            ("Training stopped" if event.stopped else "Training finished") + f": {headline(event.metrics)}", 10000
        )

    def _on_run_failed(self, event: ev.Failed) -> None:
        self.statusBar().showMessage("Training failed; the Train page says why.", 10000)

    @Slot(str)
    def _on_results_requested(self, run_dir: str) -> None:
        from studio.core.runs import MODEL, load_run

        try:
            run = load_run(run_dir)
        except StudioError as exc:
            self.pages.train.refuse(str(exc))
            return
        if not run.metrics:
            self.pages.train.refuse(f"The run in {run.path} has no trained model to show.")
            return
        model_dir = str(run.path / MODEL)
        self.pages.evaluate.show_results(model_dir, run.metrics, run.status == "stopped")
        self.pages.inference.set_model_folder(model_dir, f"Run {run.path.name}")
        self.show_page("Evaluate")

    @Slot(str)
    def _on_exported(self, folder: str) -> None:
        self.pages.inference.set_model_folder(folder)
        save_settings(self.settings)

    # The model sets the limits of the frozen layers and the maximum length ---------------------------------

    @Slot(str)
    def _on_model_changed(self, spec: str) -> None:
        self.pages.train.form.set_model_info(None)

    @Slot(object)
    def _on_model_inspected(self, info) -> None:
        self.pages.train.form.set_model_info(info)
        if self._waiting_for_model:
            self._waiting_for_model = False
            if not self._closing:
                self._start_training()

    @Slot(str)
    def _on_model_failed(self, message: str) -> None:
        if self._waiting_for_model:
            self._waiting_for_model = False
            self.pages.train.refuse(message)

    # Window state and shutdown ----------------------------------------------------------------------------

    def _window_settings(self) -> QSettings:
        # Under the studio's config folder (STUDIO_HOME in tests), not the platform's QSettings location.
        return QSettings(str(config_dir() / "window.ini"), QSettings.Format.IniFormat)

    def _restore_window(self) -> None:
        stored = self._window_settings()
        geometry = stored.value("geometry")
        if isinstance(geometry, QByteArray) and not geometry.isEmpty():
            self.restoreGeometry(geometry)
        else:
            self.resize(1280, 820)
        self.sidebar.setCurrentRow(_page_index(stored.value("page", 0)))

    def _save_window(self) -> None:
        stored = self._window_settings()
        stored.setValue("geometry", self.saveGeometry())
        stored.setValue("page", self.sidebar.currentRow())
        stored.sync()

    def closeEvent(self, event) -> None:
        if self._closing:
            event.ignore()  # already stopping the training; the window closes when it has
            return
        pages = self._pages
        if pages is not None and (pages.adapt.is_running() or pages.search.is_running()):
            answer = QMessageBox.question(
                self,
                "A search or adaptation is running",
                "Stop it and close? Its run so far is kept and can be resumed from its page.",
                QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
                QMessageBox.StandardButton.No,
            )
            if answer != QMessageBox.StandardButton.Yes:
                event.ignore()
                return
        if self.training.is_running():
            answer = QMessageBox.question(
                self,
                "Training is running",
                "Stop the training and close? The best checkpoint so far is kept, and the run can be resumed "
                "from the Runs tab.",
                QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
                QMessageBox.StandardButton.No,
            )
            if answer != QMessageBox.StandardButton.Yes:
                event.ignore()
                return
            self._closing = True
            self.statusBar().showMessage("Stopping the training after this step…")
            self.training.stop()
            self.training.wait_until_idle()
        self._closing = True
        # Gone from the screen at once; a model still being read or libraries still loading are waited for.
        self.hide()
        self.shutdown()
        event.accept()
        super().closeEvent(event)

    @Slot()
    def shutdown(self) -> None:
        """Stop and wait for every thread, then save the settings; safe to call more than once."""
        self.training.shutdown()
        pages = self._pages  # None when a deferred window is closed before its pages were built
        if pages is not None:
            pages.data.shutdown()  # a running pre-flight check
            pages.adapt.shutdown()
            pages.search.shutdown()
            pages.train.shutdown()
            pages.inference.shutdown()
        self.tasks.wait()
        QThreadPool.globalInstance().waitForDone()
        if pages is not None:
            pages.train.form.store(self.settings.hyperparameters)
            self.settings.device, self.settings.precision = pages.train.hardware.chosen()
            self.settings.hyperparameters.validation_share = pages.data.validation_share()
        # settings.model is the last model that was read or trained, not whatever is typed at the moment.
        save_settings(self.settings)
        self._save_window()
        if self._holds_collector:
            self._holds_collector = False
            GuiThreadCollector.release()


def _page_index(stored: object) -> int:
    """The sidebar row window.ini keeps (a string there), within the pages; 0 for anything else."""
    if not isinstance(stored, str | int | float):  # an edited file can give a list, or nothing
        return 0
    try:
        return min(max(int(stored), 0), len(PAGES) - 1)
    except ValueError:
        return 0
