"""DataPage: the training and validation files, a preview, the task proposed for them, its columns and its chart."""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QItemSelection, QItemSelectionModel, Qt, QTimer, Signal, Slot
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QFormLayout,
    QHeaderView,
    QLabel,
    QMenu,
    QPushButton,
    QSpinBox,
    QSplitter,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from studio.core.csvio import Table, read_table
from studio.core.data import MAX_VALIDATION_ROWS, infer_columns
from studio.core.errors import DataError
from studio.core.preflight import PreflightReport, check_data
from studio.core.rare_classes import IMBALANCE_RATIO, imbalance_ratio
from studio.core.tasks import available_tasks, detect_task, get_task
from studio.core.tasks.base import Columns, Detection, Distribution
from studio.ui import assets
from studio.ui.charts import LabelBars
from studio.ui.findings import FindingsPanel
from studio.ui.settings import Settings
from studio.ui.table_model import CsvTableModel
from studio.ui.tasks import TaskError, TaskRunner
from studio.ui.widgets import MessageLabel, PathEdit, dropped_file, page_header, row

log = logging.getLogger(__name__)

CSV_FILTER = "Data files (*.csv *.tsv *.txt *.conll);;All files (*)"
CSV_SUFFIXES = (".csv", ".tsv", ".txt", ".conll")
RELEASE_DELAY_MS = 1000
NO_PAIR = "(none)"
# The pre-flight check waits this long after the last change of file, task or columns (each restarts it).
CHECK_DELAY_MS = 400
# Clicking a finding with more rows than this selects its first ones (a selection of 100,000 scattered rows
# would take the window seconds to build and says no more).
MAX_SELECTED_ROWS = 2000


@dataclass(frozen=True)
class TaskCheck:
    """A task for a table with the columns it uses and what its chart shows; `proposal` is the detection when
    the task was left to the file (None when the user chose it)."""

    task: str
    columns: Columns
    distribution: Distribution
    proposal: Detection | None = None


@dataclass(frozen=True)
class LoadedCsv:
    """A table read in the background, with the task proposed for it (or why none fits)."""

    table: Table
    check: TaskCheck | None
    problem: str | None = None

    @property
    def columns(self) -> Columns | None:
        """The columns proposed with the task when the file was read."""
        return self.check.columns if self.check is not None else None

    @property
    def distribution(self) -> list[tuple[str, int]]:
        """The proposed task's chart as (name, count) bars."""
        return list(self.check.distribution.bars) if self.check is not None else []


def check_task(
    table: Table,
    task: str | None = None,
    text: str | None = None,
    label: str | None = None,
    pair: str | None = None,
    refit: bool = False,
) -> TaskCheck:
    """The task (detected when None) with its columns and chart (runs on a pool thread).

    With `refit`, columns that do not fit the chosen task (those of the task before) are found again for it.
    """
    if task is None:
        detection = detect_task(table, text, label, pair)
        chosen = get_task(detection.task)
        return TaskCheck(chosen.name, detection.columns, chosen.distribution(table, detection.columns), detection)
    chosen = get_task(task)
    pair = pair if chosen.takes_pairs else None
    try:
        columns = chosen.columns(table, text, label, pair)
    except DataError:
        if not refit:
            raise
        columns = chosen.columns(table, None, None, None)
    return TaskCheck(chosen.name, columns, chosen.distribution(table, columns))


def load_csv(path: str) -> LoadedCsv:
    """Read a training file and propose its task (runs on a pool thread); a table no task fits still loads."""
    table = read_table(path)
    try:
        return LoadedCsv(table, check_task(table))
    except DataError as exc:
        return LoadedCsv(table, None, str(exc))


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def release_rows(rows: Sequence) -> None:
    """Free a table the page no longer shows (runs on a pool thread).

    Dropped on the GUI thread, the last reference to 500,000 rows would free them all in one call that holds
    the GIL for a few hundred milliseconds; Rows.release frees them a block at a time.
    """
    release = getattr(rows, "release", None)
    if release is not None:
        release()


class DataPage(QWidget):
    """Pick the files; check the task and what the engine will train on before training."""

    table_loaded = Signal(object)  # LoadedCsv of the training file
    task_changed = Signal(str)  # the task the page now shows (proposed or chosen)
    rare_classes_requested = Signal(str)  # the imbalance suggestion taken: "balanced" or "oversample"

    def __init__(self, tasks: TaskRunner, settings: Settings, parent: QWidget | None = None):
        super().__init__(parent)
        self._tasks = tasks
        self._settings = settings
        self._loaded: LoadedCsv | None = None
        self._loading: str | None = None
        self._check: TaskCheck | None = None  # what the page shows now
        self._proposal: Detection | None = None  # what the file looked like when it was read
        self._check_id = 0  # the newest question asked in the background; older answers are dropped
        self._shown_task = "single"
        self._pair_asked_none = False  # the user chose no second text, and the check has not answered yet
        self._releasing: list[Sequence] = []  # tables replaced, to be freed in the background
        self._preflight_id = 0  # the newest pre-flight check; older answers are dropped
        self._preflight_stop: threading.Event | None = None  # stops the check running now
        self._check_pending = False  # a check was due while the window was hidden
        # The model whose tokenizer counts the tokens and the max length; None: the saved settings' (see
        # set_check_options, for a window that follows the Train page's values as they change).
        self._check_model: str | None = None
        self._check_max_length: int | None = None
        self.setAcceptDrops(True)

        self.train_edit = PathEdit(suffixes=CSV_SUFFIXES)
        self.train_edit.setObjectName("trainCsv")
        self.train_edit.setPlaceholderText("The CSV (or CoNLL) file to learn from (drop it here, or Browse)")
        self.train_browse = QPushButton("Browse…")
        self.train_browse.setObjectName("trainCsvBrowse")
        self.recent_menu = QMenu(self)
        self.recent_button = QPushButton("Recent")
        self.recent_button.setObjectName("recentFiles")
        self.recent_button.setToolTip("Files used before")
        self.recent_button.setMenu(self.recent_menu)
        self.validation_edit = PathEdit(suffixes=CSV_SUFFIXES)
        self.validation_edit.setObjectName("validationCsv")
        self.validation_edit.setPlaceholderText("Optional: a file with the same columns, to measure the model on")
        self.validation_browse = QPushButton("Browse…")
        self.validation_browse.setObjectName("validationCsvBrowse")
        self.share = QSpinBox()
        self.share.setObjectName("validationShare")
        self.share.setRange(1, 50)
        self.share.setSuffix(" %")
        self.share.setValue(round(settings.hyperparameters.validation_share * 100))
        self.share.setToolTip(
            "Without a validation file, this share of the training rows is held out, in proportion to each label, "
            f"up to {MAX_VALIDATION_ROWS:,} rows"
        )
        self.task = QComboBox()
        self.task.setObjectName("taskChoice")
        for task in available_tasks():
            self.task.addItem(task.title, task.name)
        self.task.setToolTip("What the model learns; proposed from the file, yours to change")
        self.task_reason = QLabel("")
        self.task_reason.setObjectName("taskReason")
        self.task_reason.setWordWrap(True)
        self.task_reason.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.text_column = QComboBox()
        self.text_column.setObjectName("textColumn")
        self.label_column = QComboBox()
        self.label_column.setObjectName("labelColumn")
        self.pair_column = QComboBox()
        self.pair_column.setObjectName("pairColumn")
        self.pair_column.setToolTip(
            "The column with the second text of each pair (a hypothesis, an answer, a second sentence); "
            f"{NO_PAIR} for one text per row"
        )
        for combo in (self.text_column, self.label_column, self.pair_column):
            combo.setMinimumContentsLength(14)
            combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.label_caption = QLabel("   Label column")
        self.pair_caption = QLabel("   Second text")

        self.summary = QLabel("")
        self.summary.setObjectName("dataSummary")
        self.summary.setWordWrap(True)
        self.train_message = MessageLabel()
        self.train_message.setObjectName("dataError")
        self.validation_message = MessageLabel()
        self.validation_message.setObjectName("validationMessage")
        self.columns_message = MessageLabel()
        self.columns_message.setObjectName("columnsMessage")

        self.model = CsvTableModel(self)
        self.preview = QTableView()
        self.preview.setObjectName("dataPreview")
        self.preview.setModel(self.model)
        self.preview.setWordWrap(False)
        self.preview.setAlternatingRowColors(True)
        self.preview.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        self.preview.verticalHeader().setDefaultSectionSize(22)
        self.preview.horizontalHeader().setStretchLastSection(False)
        # Fitting a column to its contents measures this many rows, not the thousand Qt would.
        self.preview.horizontalHeader().setResizeContentsPrecision(200)
        self.chart = LabelBars()
        self.chart_note = QLabel("")
        self.chart_note.setObjectName("distributionNote")
        self.chart_note.setWordWrap(True)
        self.chart_note.setVisible(False)
        # Under the chart when the largest class is IMBALANCE_RATIO times the smallest: the Train page's help.
        self.imbalance = QWidget()
        self.imbalance.setObjectName("imbalanceSuggestion")
        self.imbalance_text = QLabel("")
        self.imbalance_text.setObjectName("imbalanceText")
        self.imbalance_text.setWordWrap(True)
        self.use_balanced = QPushButton("Use balanced class weights")
        self.use_balanced.setObjectName("useBalancedWeights")
        self.use_balanced.setToolTip("Rare classes count more in the loss (set on the Train page)")
        self.use_oversampling = QPushButton("Oversample")
        self.use_oversampling.setObjectName("useOversampling")
        self.use_oversampling.setToolTip("Repeat rows of rare classes in training (set on the Train page)")
        imbalance_layout = QVBoxLayout(self.imbalance)
        imbalance_layout.setContentsMargins(0, 2, 0, 0)
        imbalance_layout.setSpacing(2)
        imbalance_layout.addWidget(self.imbalance_text)
        buttons = row(self.use_balanced, self.use_oversampling, stretch_first=False)
        buttons.addStretch(1)
        imbalance_layout.addLayout(buttons)
        self.imbalance.setVisible(False)
        chart_box = QWidget()
        chart_box.setMinimumWidth(260)
        chart_layout = QVBoxLayout(chart_box)
        chart_layout.setContentsMargins(0, 0, 0, 0)
        chart_layout.setSpacing(2)
        chart_layout.addWidget(self.chart, 1)
        chart_layout.addWidget(self.chart_note)
        chart_layout.addWidget(self.imbalance)

        self.share.setFixedWidth(90)
        for combo in (self.text_column, self.label_column, self.pair_column):
            combo.setMinimumWidth(180)
        self.task.setMinimumWidth(240)
        share_row = row(
            self.share,
            QLabel(f"of the training rows (at most {MAX_VALIDATION_ROWS:,}), when there is no validation file"),
            stretch_first=False,
        )
        share_row.addStretch(1)
        task_row = row(self.task, stretch_first=False)
        task_row.addStretch(1)
        columns_row = row(
            self.text_column,
            self.label_caption,
            self.label_column,
            self.pair_caption,
            self.pair_column,
            stretch_first=False,
        )
        columns_row.addStretch(1)
        form = QFormLayout()
        form.addRow("Training file", row(self.train_edit, self.train_browse, self.recent_button))
        form.addRow(self.train_message)
        form.addRow("Validation file", row(self.validation_edit, self.validation_browse))
        form.addRow(self.validation_message)
        form.addRow("Hold out for validation", share_row)
        form.addRow("Task", task_row)
        form.addRow(self.task_reason)
        form.addRow("Text column", columns_row)
        form.addRow(self.columns_message)
        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(self.preview)
        splitter.addWidget(chart_box)
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 2)
        splitter.setSizes([600, 400])
        # Under the preview: the pre-flight check's findings; a click selects their rows in the preview.
        self.findings = FindingsPanel()
        self.preflight_timer = QTimer(self)
        self.preflight_timer.setSingleShot(True)
        self.preflight_timer.setInterval(CHECK_DELAY_MS)
        below = QSplitter(Qt.Orientation.Vertical)
        below.setObjectName("dataSplitter")
        below.addWidget(splitter)
        below.addWidget(self.findings)
        below.setStretchFactor(0, 3)
        below.setStretchFactor(1, 2)
        below.setChildrenCollapsible(False)
        below.setSizes([420, 260])

        layout = QVBoxLayout(self)
        layout.addWidget(
            page_header(
                "Data",
                "A CSV file with a column of texts and a column of labels (several per row, a number, or a tag per "
                "word), or a CoNLL file. The task and its columns are found for you; check them in the preview.",
            )
        )
        layout.addLayout(form)
        layout.addWidget(self.summary)
        layout.addWidget(below, 1)

        self.train_edit.returnPressed.connect(self._on_train_entered)
        self.train_edit.file_dropped.connect(self._on_train_dropped)
        self.train_browse.clicked.connect(self._on_train_browse_clicked)
        self.recent_menu.aboutToShow.connect(self._on_recent_menu_about_to_show)
        self.recent_menu.triggered.connect(self._on_recent_file_chosen)
        self.validation_edit.returnPressed.connect(self._on_validation_entered)
        self.validation_edit.file_dropped.connect(self._on_validation_dropped)
        self.validation_edit.textChanged.connect(self._on_validation_text_changed)
        self.validation_browse.clicked.connect(self._on_validation_browse_clicked)
        self.task.activated.connect(self._on_task_chosen)
        self.text_column.activated.connect(self._on_column_chosen)
        self.label_column.activated.connect(self._on_column_chosen)
        self.pair_column.activated.connect(self._on_pair_chosen)
        self.use_balanced.clicked.connect(self._on_use_balanced_clicked)
        self.use_oversampling.clicked.connect(self._on_use_oversampling_clicked)
        self.findings.rows_chosen.connect(self._on_findings_rows_chosen)
        self.findings.check_requested.connect(self._on_check_requested)
        self.preflight_timer.timeout.connect(self._on_preflight_timer)

        self._show_task_widgets("single")
        if settings.validation_csv:
            self.validation_edit.setText(settings.validation_csv)
        self._on_validation_text_changed(self.validation_edit.text())

    # What the Train button needs --------------------------------------------------------------------

    def train_csv(self) -> str:
        return self.train_edit.text().strip()

    def validation_csv(self) -> str | None:
        return self.validation_edit.text().strip() or None

    def validation_share(self) -> float:
        return self.share.value() / 100

    def _current_file(self) -> bool:
        return self._loaded is not None and str(self._loaded.table.path) == str(Path(self.train_csv()).expanduser())

    def columns(self) -> tuple[str | None, str | None]:
        """The chosen columns, when they belong to the file named in trainCsv; else None: the engine infers."""
        if not self._current_file():
            return None, None
        return self.text_column.currentText() or None, self.label_column.currentText() or None

    def chosen_task(self) -> str | None:
        """The task shown, when it belongs to the file named in trainCsv; else None: the engine detects it."""
        if not self._current_file():
            return None
        return self.task.currentData()

    def chosen_pair_column(self) -> str | None:
        """The second-text column, for a task that takes pairs and a file that has one chosen; else None."""
        if not self._current_file() or not get_task(self.task.currentData()).takes_pairs:
            return None
        return self._pair_value()

    def shown_task(self) -> str:
        """The task the page shows now (single-label before any file is read)."""
        return self._shown_task

    def loaded(self) -> LoadedCsv | None:
        return self._loaded

    def current_check(self) -> TaskCheck | None:
        """The task, columns and chart the page shows, once the background check has answered."""
        return self._check

    def choose(self, text: str | None, label: str | None, pair: str | None, task: str | None) -> list[str]:
        """Set the columns and the task as a settings file has them, and check them; the names the table lacks.

        A task left to None is detected again with those columns.
        """
        if self._loaded is None:
            return []
        table = self._loaded.table
        missing = [name for name in (text, label, pair) if name and name not in table.columns]
        for combo, name in ((self.text_column, text), (self.label_column, label)):
            if name and name in table.columns:
                combo.setCurrentText(name)
        if pair in table.columns:
            self.pair_column.setCurrentText(pair)
        elif pair is None:
            self.pair_column.setCurrentIndex(0)
        if task is not None:
            self._select_task(task)
        if not missing:
            self._update_roles()
            self._ask(None if task is None else self.task.currentData(), refit=False)
        return missing

    # Loading -----------------------------------------------------------------------------------------

    def load_initial(self) -> None:
        """The last training file, or on first run the sample dataset, so that a new user can train at once."""
        last = self._settings.train_csv
        path = last if last and Path(last).is_file() else assets.sample_csv()
        if path:
            self.load_train(str(path))

    def load_train(self, path: str) -> None:
        path = path.strip()
        self.train_edit.setText(path)
        if not path:
            self.train_message.show_error("Choose a training CSV file.")
            return
        self._loading = path
        self.train_message.show_message(f"Reading {Path(path).name}…", "info")
        self._tasks.submit(load_csv, path, done=self._on_train_loaded, failed=self._on_train_failed, context=path)

    def _set_loaded(self, loaded: LoadedCsv | None) -> None:
        # The page owns the table it read; a replaced one is freed in the background, not here.
        old = self._loaded
        self._loaded = loaded
        self._check = None
        self._proposal = None
        self._check_id += 1  # answers about the table before are no longer wanted
        self._stop_preflight()
        if loaded is None:
            self.findings.clear()
        else:
            self.findings.show_checking()
        self.model.set_table(loaded.table if loaded is not None else None)
        if old is not None and (loaded is None or old.table is not loaded.table):
            self._releasing.append(old.table.rows)
            # Once the new table is on screen: freeing meanwhile would compete with its first paint for the GIL.
            QTimer.singleShot(RELEASE_DELAY_MS, self._on_release_timer)

    @Slot()
    def _on_release_timer(self) -> None:
        while self._releasing:
            self._tasks.submit(release_rows, self._releasing.pop())

    def _on_train_loaded(self, loaded: LoadedCsv, path: str) -> None:
        if path != self._loading:
            self._tasks.submit(release_rows, loaded.table.rows)  # a file the user has moved on from
            return
        self._set_loaded(loaded)
        table = loaded.table
        self.train_message.clear_message()
        for combo in (self.text_column, self.label_column):
            combo.clear()
            combo.addItems(list(table.columns))
        self.pair_column.clear()
        self.pair_column.addItem(NO_PAIR)
        self.pair_column.addItems(list(table.columns))
        if loaded.check is not None:
            self._proposal = loaded.check.proposal
            self._show_check(loaded.check)
        else:
            # No task fits by itself: the user chooses one; the columns start where the engine would look.
            try:
                guess = infer_columns(table)
                self.text_column.setCurrentText(guess.text)
                self.label_column.setCurrentText(guess.label)
            except DataError:
                pass
            self.task_reason.setText("No task was recognised in this file; choose the task and its columns.")
            self._update_roles()
            self._show_distribution(None)
            self.columns_message.show_error(loaded.problem or "Choose the task and the columns.")
            self.findings.clear("Choose the task and its columns, and the data is checked.")
        kind = "CoNLL" if table.path.suffix.lower() == ".conll" or table.columns == ("tokens", "tags") else ""
        self.summary.setText(
            f"{table.path.name}: {len(table.rows):,} {'sentences' if kind else 'rows'}, {len(table.columns)} columns "
            f"({table.encoding.upper().replace('-SIG', ' with BOM')}, {table.delimiter_name}-separated)"
        )
        self._size_columns()
        self._settings.train_csv = str(table.path)
        self._settings.remember("recent_files", str(table.path))
        self.table_loaded.emit(loaded)

    def _on_train_failed(self, error: TaskError, path: str) -> None:
        if path != self._loading:
            return
        self._set_loaded(None)
        self.text_column.clear()
        self.label_column.clear()
        self.pair_column.clear()
        self._show_distribution(None)
        self.summary.setText("")
        self.task_reason.setText("")
        self.columns_message.clear_message()
        self.train_message.show_error(error.message)

    def _size_columns(self) -> None:
        # Fit the short columns to their contents and give the rest of the width to the text column.
        if self._loaded is None:
            return
        header = self.preview.horizontalHeader()
        table = self._loaded.table
        for i, name in enumerate(table.columns):
            if name == self.text_column.currentText():
                header.setSectionResizeMode(i, QHeaderView.ResizeMode.Stretch)
            else:
                header.setSectionResizeMode(i, QHeaderView.ResizeMode.Interactive)
                self.preview.resizeColumnToContents(i)
                header.resizeSection(i, min(header.sectionSize(i), 220))

    # The task, its columns and its chart -------------------------------------------------------------------

    def _pair_value(self) -> str | None:
        text = self.pair_column.currentText()
        return None if not text or text == NO_PAIR else text

    def _select_task(self, name: str) -> None:
        index = self.task.findData(name)
        if index >= 0:
            self.task.setCurrentIndex(index)

    def _ask(self, task: str | None, refit: bool) -> None:
        """Check the combos' task and columns in the background (reading a big file's labels takes a while)."""
        if self._loaded is None:
            return
        self._check_id += 1
        text, label = self.text_column.currentText() or None, self.label_column.currentText() or None
        title = self.task.currentText() if task is not None else "the task"
        self.columns_message.show_message(f"Checking the columns for {title}…", "info")
        self._tasks.submit(
            check_task,
            self._loaded.table,
            task,
            text,
            label,
            self._pair_value(),
            refit,
            done=self._on_task_checked,
            failed=self._on_task_check_failed,
            context=(self._loaded.table, self._check_id, self._pair_value()),
        )

    def _on_task_checked(self, check: TaskCheck, context) -> None:
        table, asked, pair = context
        if self._loaded is None or self._loaded.table is not table or asked != self._check_id:
            return  # the answer to a question no longer asked
        if check.proposal is not None:
            self._proposal = check.proposal
        self._show_check(check)
        self._size_columns()
        if pair is None and check.columns.pair and self._pair_asked_none:
            # The task found the second text by its column's name, which "(none)" cannot overrule.
            self.columns_message.show_message(
                f"{get_task(check.task).title} reads the second text from {check.columns.pair!r}, found by its "
                "name; to train on the texts alone, rename or remove that column.",
                "info",
            )
        self._pair_asked_none = False

    def _on_task_check_failed(self, error: TaskError, context) -> None:
        table, asked, _ = context
        self._pair_asked_none = False
        if self._loaded is None or self._loaded.table is not table or asked != self._check_id:
            return
        self._check = None
        self._update_roles()
        self._show_distribution(None)
        self._show_reason()
        self.columns_message.show_error(error.message)
        self._stop_preflight()
        self.findings.clear("Choose columns that fit the task, and the data is checked.")

    def _show_check(self, check: TaskCheck) -> None:
        self._check = check
        columns = check.columns
        self._select_task(check.task)
        self.text_column.setCurrentText(columns.text)
        self.label_column.setCurrentText(columns.label)
        if columns.pair:
            self.pair_column.setCurrentText(columns.pair)
        else:
            self.pair_column.setCurrentIndex(0)
        self._update_roles()
        self._show_reason()
        self._show_distribution(check.distribution)
        self._show_imbalance(check)
        self._show_columns_message(check)
        self._schedule_preflight()

    def _show_task_widgets(self, name: str) -> None:
        task = get_task(name)
        self.pair_caption.setVisible(task.takes_pairs)
        self.pair_column.setVisible(task.takes_pairs)
        caption = {"token": "Tags column", "regression": "Value column", "multi": "Labels column"}.get(
            name, "Label column"
        )
        self.label_caption.setText(f"   {caption}")
        self.label_column.setToolTip(
            "The column with the BIO tags of each word, space-joined"
            if name == "token"
            else "The column with the value to predict"
            if name == "regression"
            else "The column with each row's label (several joined by ';' for multi-label)"
        )
        if name != self._shown_task:
            self._shown_task = name
            self.task_changed.emit(name)

    def _update_roles(self) -> None:
        name = self.task.currentData() or "single"
        self._show_task_widgets(name)
        pair = self._pair_value() if get_task(name).takes_pairs else None
        label_role = {"token": "tags", "regression": "value", "multi": "labels"}.get(name, "label")
        self.model.set_roles(self.text_column.currentText(), self.label_column.currentText(), pair, label_role)

    def _show_reason(self) -> None:
        proposal = self._proposal
        if proposal is None:
            self.task_reason.setText("")
            return
        proposed = get_task(proposal.task)
        reason = proposal.reason
        if len(reason) > 1 and reason[0].isupper() and reason[1].islower():
            reason = reason[0].lower() + reason[1:]  # after the dash, not a new sentence ("CoNLL" stays)
        text = f"Proposed: {proposed.title} — {reason}"
        chosen = self.task.currentData()
        if chosen and chosen != proposal.task:
            text += f" You chose {get_task(chosen).title}."
        self.task_reason.setText(text)

    def _show_imbalance(self, check: TaskCheck | None) -> None:
        """Suggest class weights or oversampling when one class has IMBALANCE_RATIO times the rows of another."""
        bars = check.distribution.bars if check is not None and check.distribution.kind == "counts" else []
        counts = dict(bars)
        ratio = imbalance_ratio(counts) if check is not None and check.task in ("single", "pair") else 0.0
        if len(counts) < 2 or ratio < IMBALANCE_RATIO:
            self.imbalance.setVisible(False)
            return
        largest = max(counts, key=lambda k: counts[k])
        smallest = min(counts, key=lambda k: counts[k])
        self.imbalance_text.setText(
            f"{largest!r} has {ratio:.1f}x the rows of {smallest!r}: a model may learn to overlook the rare "
            f"{'class' if len(counts) == 2 else 'classes'}. Class weights or oversampling make "
            f"{'it' if len(counts) == 2 else 'them'} count:"
        )
        self.imbalance.setVisible(True)

    def _show_distribution(self, distribution: Distribution | None) -> None:
        if distribution is None:
            self.chart.show_counts([])
            self.chart_note.setVisible(False)
            self.imbalance.setVisible(False)
            return
        self.chart.show_distribution(distribution)
        self.chart_note.setText(distribution.note)
        self.chart_note.setVisible(bool(distribution.note))

    def _show_columns_message(self, check: TaskCheck) -> None:
        text, label = check.columns.text, check.columns.label
        bars = check.distribution.bars
        rows = len(self._loaded.table.rows) if self._loaded else 0
        if text and text == label:
            self.columns_message.show_error(
                f"The text and the label cannot both be the column {text!r}; choose two different columns."
            )
        elif check.distribution.kind != "counts" or not bars:
            self.columns_message.clear_message()
        elif check.task in ("single", "pair") and len(bars) < 2:
            self.columns_message.show_error(
                f"The column {label!r} has {len(bars)} label; a classifier needs at least two. "
                "Choose another label column."
            )
        elif check.task in ("single", "pair") and len(bars) > 20 and all(_is_number(name) for name, _ in bars):
            self.columns_message.show_message(
                f"The column {label!r} holds {len(bars):,} different numbers; to predict them as values rather "
                "than as classes, choose regression.",
                "info",
            )
        elif check.task in ("single", "pair") and len(bars) > 20 and len(bars) > rows / 2:
            self.columns_message.show_message(
                f"The column {label!r} has {len(bars):,} different values in {rows:,} rows; is it really "
                "the label? (Choose regression if it holds numbers to predict.)",
                "info",
            )
        else:
            smallest = min(bars, key=lambda p: p[1])
            kinds, unit = ("entity types", "entit") if check.task == "token" else ("labels", "row")
            plural = (
                ("ies" if smallest[1] != 1 else "y") if check.task == "token" else ("s" if smallest[1] != 1 else "")
            )
            self.columns_message.show_message(
                f"{len(bars)} {kinds}; the rarest, {smallest[0]!r}, has {smallest[1]:,} {unit}{plural}.", "info"
            )

    # Pre-flight check ------------------------------------------------------------------------------------

    def set_check_options(self, model: str | None, max_length: int) -> None:
        """The model whose tokenizer counts the tokens, and the max length the lengths are held against; the data
        is checked again when they change."""
        if (model, max_length) != (self._check_model, self._check_max_length):
            self._check_model, self._check_max_length = model, max_length
            self._schedule_preflight()

    def run_check(self) -> None:
        """Check the data now (in the background): the file, task and columns shown, and a readable validation file.

        Lengths are counted with the tokenizer of the model given to set_check_options (else the model last read on
        the Model page), against its max length (else the saved settings').
        """
        self.preflight_timer.stop()
        check = self._check
        if self._loaded is None or check is None:
            return
        if not self.window().isVisible():
            # A closing window (hidden first) must not start work that outlives its task runner; a window not
            # shown yet checks when it is.
            self._check_pending = True
            return
        self._check_pending = False
        self._stop_preflight()
        self._preflight_id += 1
        stop = threading.Event()
        self._preflight_stop = stop
        validation = self.validation_csv() if not self.validation_message.has_error() else None
        self.findings.show_checking()
        self._tasks.submit(
            check_data,
            self._loaded.table,
            validation,
            task=check.task,
            text_column=check.columns.text,
            label_column=check.columns.label,
            pair_column=check.columns.pair or "",
            model=self._check_model or self._settings.model,
            max_length=self._check_max_length or self._settings.hyperparameters.max_length,
            stop=stop,
            done=self._on_preflight_done,
            failed=self._on_preflight_failed,
            # Progress comes without the context; the check's number tells an old check's progress from the new one's.
            progress=functools.partial(self._on_preflight_progress, self._preflight_id),
            context=(self._loaded.table, self._preflight_id),
            libraries=True,  # the token count loads the model's tokenizer through transformers
        )

    def shutdown(self) -> None:
        """Stop a pre-flight check that is running (the window waits for background tasks when it closes)."""
        self._stop_preflight()

    def preflight_report(self) -> PreflightReport | None:
        """The findings shown, once the check has answered."""
        return self.findings.report()

    def select_rows(self, rows: Sequence[int]) -> None:
        """Select these 1-based data rows in the preview (its first MAX_SELECTED_ROWS) and scroll to the first."""
        if self._loaded is None or not rows:
            return
        wanted = sorted(set(rows))[:MAX_SELECTED_ROWS]
        model = self.model
        while model.rowCount() < wanted[-1] and model.canFetchMore():
            model.fetchMore()  # the preview holds the rows up to the last one chosen
        last_column = max(0, model.columnCount() - 1)
        selection = QItemSelection()
        start = previous = wanted[0]
        for number in [*wanted[1:], None]:
            if number is not None and number == previous + 1:
                previous = number
                continue
            selection.select(model.index(start - 1, 0), model.index(previous - 1, last_column))
            if number is not None:
                start = previous = number
        selected = self.preview.selectionModel()
        flags = QItemSelectionModel.SelectionFlag
        selected.select(selection, flags.ClearAndSelect | flags.Rows)
        first = model.index(wanted[0] - 1, 0)
        selected.setCurrentIndex(first, flags.NoUpdate)
        self.preview.scrollTo(first, QTableView.ScrollHint.PositionAtCenter)
        self.findings.show_selection(wanted, len(set(rows)))

    def _schedule_preflight(self) -> None:
        # Restarted by each change, so that picking a file, its task and its columns runs one check, not three.
        if self._loaded is not None and self._check is not None:
            self.findings.show_checking()
            self.preflight_timer.start()

    def _stop_preflight(self) -> None:
        self.preflight_timer.stop()
        if self._preflight_stop is not None:
            self._preflight_stop.set()
            self._preflight_stop = None
        self._preflight_id += 1

    def _current_preflight(self, context) -> bool:
        table, asked = context
        return self._loaded is not None and self._loaded.table is table and asked == self._preflight_id

    def _on_preflight_done(self, report: PreflightReport, context) -> None:
        if self._current_preflight(context):
            self._preflight_stop = None
            self.findings.show_report(report)

    def _on_preflight_failed(self, error: TaskError, context) -> None:
        if self._current_preflight(context):
            self._preflight_stop = None
            self.findings.show_error(error.message)

    def _on_preflight_progress(self, asked: int, done: int, total: int) -> None:
        if asked == self._preflight_id and total:
            self.findings.show_progress(round(100 * done / total))

    @Slot()
    def _on_preflight_timer(self) -> None:
        self.run_check()

    @Slot()
    def _on_check_requested(self) -> None:
        self.run_check()

    @Slot(object)
    def _on_findings_rows_chosen(self, rows: tuple[int, ...]) -> None:
        self.select_rows(rows)

    # Validation file -------------------------------------------------------------------------------------

    def load_validation(self, path: str) -> None:
        path = path.strip()
        self.validation_edit.setText(path)
        if not path:
            self.validation_message.clear_message()
            return
        self.validation_message.show_message(f"Reading {Path(path).name}…", "info")
        self._tasks.submit(
            read_table, path, done=self._on_validation_loaded, failed=self._on_validation_failed, context=path
        )

    def _on_validation_loaded(self, table: Table, path: str) -> None:
        if path != self.validation_csv():
            return
        self._settings.validation_csv = path
        self._settings.remember("recent_files", path)
        chosen = [*self.columns(), self.chosen_pair_column()]
        missing = [c for c in chosen if c and c not in table.columns]
        if missing:
            self.validation_message.show_error(
                f"{table.path.name} has no column {missing[0]!r}; its columns are "
                f"{', '.join(repr(c) for c in table.columns)}. Give it the training file's column names."
            )
        else:
            self.validation_message.show_message(f"{table.path.name}: {len(table.rows):,} rows.", "ok")
            self._schedule_preflight()

    def _on_validation_failed(self, error: TaskError, path: str) -> None:
        if path == self.validation_csv():
            self.validation_message.show_error(error.message)

    # Slots ---------------------------------------------------------------------------------------------

    @Slot()
    def _on_train_entered(self) -> None:
        self.load_train(self.train_edit.text())

    @Slot(str)
    def _on_train_dropped(self, path: str) -> None:
        self.load_train(path)

    @Slot()
    def _on_train_browse_clicked(self) -> None:
        start = self.train_csv() or str(Path.home())
        path, _ = QFileDialog.getOpenFileName(self, "Choose the training file", start, CSV_FILTER)
        if path:
            self.load_train(path)

    @Slot()
    def _on_recent_menu_about_to_show(self) -> None:
        self.recent_menu.clear()
        files = [f for f in self._settings.recent_files if Path(f).is_file()]
        for path in files:
            action = self.recent_menu.addAction(path)
            action.setData(path)
        if not files:
            self.recent_menu.addAction("No recent files").setEnabled(False)

    @Slot(QAction)
    def _on_recent_file_chosen(self, action: QAction) -> None:
        if action.data():
            self.load_train(str(action.data()))

    @Slot()
    def _on_validation_entered(self) -> None:
        self.load_validation(self.validation_edit.text())

    @Slot(str)
    def _on_validation_dropped(self, path: str) -> None:
        self.load_validation(path)

    @Slot()
    def _on_validation_browse_clicked(self) -> None:
        start = self.validation_csv() or self.train_csv() or str(Path.home())
        path, _ = QFileDialog.getOpenFileName(self, "Choose the validation file", start, CSV_FILTER)
        if path:
            self.load_validation(path)

    @Slot(str)
    def _on_validation_text_changed(self, text: str) -> None:
        # The share only matters when no validation file is given.
        self.share.setEnabled(not text.strip())
        if not text.strip():
            self._settings.validation_csv = None
            self.validation_message.clear_message()
            self._schedule_preflight()

    @Slot()
    def _on_use_balanced_clicked(self) -> None:
        self.rare_classes_requested.emit("balanced")

    @Slot()
    def _on_use_oversampling_clicked(self) -> None:
        self.rare_classes_requested.emit("oversample")

    @Slot(int)
    def _on_task_chosen(self, index: int) -> None:
        # Another task reads the columns its own way: those chosen are kept when they fit it, else found again.
        self._update_roles()
        self._ask(self.task.currentData(), refit=True)

    @Slot(int)
    def _on_column_chosen(self, index: int) -> None:
        if self._loaded is None:
            return
        self._update_roles()
        self._size_columns()
        self._ask(self.task.currentData(), refit=False)

    @Slot(int)
    def _on_pair_chosen(self, index: int) -> None:
        if self._loaded is None:
            return
        if self._pair_value() is None and self.task.currentData() == "pair":
            # Pairs without a second text are single texts: the same classes, one text per row.
            self._select_task("single")
        self._pair_asked_none = self._pair_value() is None
        self._update_roles()
        self._ask(self.task.currentData(), refit=False)

    def showEvent(self, event) -> None:
        super().showEvent(event)
        if self._check_pending:
            self._schedule_preflight()

    # Drag and drop onto the page: the training file ---------------------------------------------------

    def dragEnterEvent(self, event) -> None:
        if dropped_file(event.mimeData(), CSV_SUFFIXES):
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:
        path = dropped_file(event.mimeData(), CSV_SUFFIXES)
        if path:
            event.acceptProposedAction()
            self.load_train(path)
