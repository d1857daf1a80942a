"""DataPage: the training and validation CSV files, a preview, the text and label columns, the label counts."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import Qt, QTimer, Signal, Slot
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
from studio.core.data import MAX_VALIDATION_ROWS, Columns, infer_columns, label_distribution
from studio.ui import assets
from studio.ui.charts import LabelBars
from studio.ui.settings import Settings
from studio.ui.table_model import CsvTableModel
from studio.ui.tasks import TaskError, TaskRunner
from studio.ui.widgets import MessageLabel, PathEdit, dropped_file, page_header, row

log = logging.getLogger(__name__)

CSV_FILTER = "CSV files (*.csv *.tsv *.txt);;All files (*)"
CSV_SUFFIXES = (".csv", ".tsv", ".txt")
RELEASE_DELAY_MS = 1000


@dataclass(frozen=True)
class LoadedCsv:
    """A table read in the background, with the columns the engine inferred and the label counts."""

    table: Table
    columns: Columns
    distribution: list[tuple[str, int]]


def load_csv(path: str) -> LoadedCsv:
    """Read a CSV and infer its columns (runs on a pool thread)."""
    table = read_table(path)
    columns = infer_columns(table)
    return LoadedCsv(table, columns, label_distribution(table, columns.label))


def release_rows(rows: Sequence) -> None:
    """Free a table the page no longer shows (runs on a pool thread).

    Dropped on the GUI thread, the last reference to 500,000 rows would free them all in one call that holds
    the GIL for a few hundred milliseconds; Rows.release frees them a block at a time.
    """
    release = getattr(rows, "release", None)
    if release is not None:
        release()


class DataPage(QWidget):
    """Pick the files; check what the engine will train on before training."""

    table_loaded = Signal(object)  # LoadedCsv of the training file

    def __init__(self, tasks: TaskRunner, settings: Settings, parent: QWidget | None = None):
        super().__init__(parent)
        self._tasks = tasks
        self._settings = settings
        self._loaded: LoadedCsv | None = None
        self._loading: str | None = None
        self._releasing: list[Sequence] = []  # tables replaced, to be freed in the background
        self.setAcceptDrops(True)

        self.train_edit = PathEdit(suffixes=CSV_SUFFIXES)
        self.train_edit.setObjectName("trainCsv")
        self.train_edit.setPlaceholderText("The CSV file to learn from (drop it here, or Browse)")
        self.train_browse = QPushButton("Browse…")
        self.train_browse.setObjectName("trainCsvBrowse")
        self.recent_menu = QMenu(self)
        self.recent_button = QPushButton("Recent")
        self.recent_button.setObjectName("recentFiles")
        self.recent_button.setToolTip("CSV files used before")
        self.recent_button.setMenu(self.recent_menu)
        self.validation_edit = PathEdit(suffixes=CSV_SUFFIXES)
        self.validation_edit.setObjectName("validationCsv")
        self.validation_edit.setPlaceholderText("Optional: a CSV with the same columns, to measure the model on")
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
        self.text_column = QComboBox()
        self.text_column.setObjectName("textColumn")
        self.label_column = QComboBox()
        self.label_column.setObjectName("labelColumn")
        for combo in (self.text_column, self.label_column):
            combo.setMinimumContentsLength(14)
            combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)

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
        self.chart.setMinimumWidth(260)

        self.share.setFixedWidth(90)
        self.text_column.setMinimumWidth(200)
        self.label_column.setMinimumWidth(200)
        share_row = row(
            self.share,
            QLabel(f"of the training rows (at most {MAX_VALIDATION_ROWS:,}), when there is no validation file"),
            stretch_first=False,
        )
        share_row.addStretch(1)
        columns_row = row(self.text_column, QLabel("   Label column"), self.label_column, stretch_first=False)
        columns_row.addStretch(1)
        form = QFormLayout()
        form.addRow("Training file", row(self.train_edit, self.train_browse, self.recent_button))
        form.addRow(self.train_message)
        form.addRow("Validation file", row(self.validation_edit, self.validation_browse))
        form.addRow(self.validation_message)
        form.addRow("Hold out for validation", share_row)
        form.addRow("Text column", columns_row)
        form.addRow(self.columns_message)
        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(self.preview)
        splitter.addWidget(self.chart)
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 2)
        splitter.setSizes([600, 400])

        layout = QVBoxLayout(self)
        layout.addWidget(
            page_header(
                "Data",
                "A CSV file with a column of texts and a column of labels. The columns are found for you; "
                "check them in the preview.",
            )
        )
        layout.addLayout(form)
        layout.addWidget(self.summary)
        layout.addWidget(splitter, 1)

        self.train_edit.returnPressed.connect(self._on_train_entered)
        self.train_edit.file_dropped.connect(self._on_train_dropped)
        self.train_browse.clicked.connect(self._on_train_browse_clicked)
        self.recent_menu.aboutToShow.connect(self._on_recent_menu_about_to_show)
        self.recent_menu.triggered.connect(self._on_recent_file_chosen)
        self.validation_edit.returnPressed.connect(self._on_validation_entered)
        self.validation_edit.file_dropped.connect(self._on_validation_dropped)
        self.validation_edit.textChanged.connect(self._on_validation_text_changed)
        self.validation_browse.clicked.connect(self._on_validation_browse_clicked)
        self.text_column.activated.connect(self._on_column_chosen)
        self.label_column.activated.connect(self._on_column_chosen)

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

    def columns(self) -> tuple[str | None, str | None]:
        """The chosen columns, when they belong to the file named in trainCsv; else None: the engine infers."""
        if self._loaded is None or str(self._loaded.table.path) != str(Path(self.train_csv()).expanduser()):
            return None, None
        return self.text_column.currentText() or None, self.label_column.currentText() or None

    def loaded(self) -> LoadedCsv | None:
        return self._loaded

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
        for combo, chosen in ((self.text_column, loaded.columns.text), (self.label_column, loaded.columns.label)):
            combo.clear()
            combo.addItems(list(table.columns))
            combo.setCurrentText(chosen)
        self._show_columns(loaded.distribution)
        self.summary.setText(
            f"{table.path.name}: {len(table.rows):,} rows, {len(table.columns)} columns "
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
        self.chart.show_counts([])
        self.summary.setText("")
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

    def _show_columns(self, distribution: list[tuple[str, int]]) -> None:
        text, label = self.text_column.currentText(), self.label_column.currentText()
        self.model.set_roles(text, label)
        self.chart.show_counts(distribution)
        if text and text == label:
            self.columns_message.show_error(
                f"The text and the label cannot both be the column {text!r}; choose two different columns."
            )
            return
        rows = len(self._loaded.table.rows) if self._loaded else 0
        if len(distribution) < 2:
            self.columns_message.show_error(
                f"The column {label!r} has {len(distribution)} label; a classifier needs at least two. "
                "Choose another label column."
            )
        elif len(distribution) > 20 and len(distribution) > rows / 2:
            self.columns_message.show_message(
                f"The column {label!r} has {len(distribution):,} different values in {rows:,} rows; is it really "
                "the label?",
                "info",
            )
        else:
            smallest = min(distribution, key=lambda p: p[1])
            self.columns_message.show_message(
                f"{len(distribution)} labels; the rarest, {smallest[0]!r}, has {smallest[1]:,} rows.", "info"
            )

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
        missing = [c for c in self.columns() if c and c not in table.columns]
        if missing:
            self.validation_message.show_error(
                f"{table.path.name} has no column {missing[0]!r}; its columns are "
                f"{', '.join(repr(c) for c in table.columns)}. Give it the training file's column names."
            )
        else:
            self.validation_message.show_message(f"{table.path.name}: {len(table.rows):,} rows.", "ok")

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
        path, _ = QFileDialog.getOpenFileName(self, "Choose the training CSV file", start, CSV_FILTER)
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
        path, _ = QFileDialog.getOpenFileName(self, "Choose the validation CSV file", start, CSV_FILTER)
        if path:
            self.load_validation(path)

    @Slot(str)
    def _on_validation_text_changed(self, text: str) -> None:
        # The share only matters when no validation file is given.
        self.share.setEnabled(not text.strip())
        if not text.strip():
            self._settings.validation_csv = None
            self.validation_message.clear_message()

    @Slot(int)
    def _on_column_chosen(self, index: int) -> None:
        if self._loaded is None:
            return
        label = self.label_column.currentText()
        self.model.set_roles(self.text_column.currentText(), label)
        self._size_columns()
        if not label:
            self._show_columns([])
            return
        # Counting a big file's labels takes longer than the GUI thread may be away.
        self.columns_message.show_message(f"Counting the labels of {label!r}…", "info")
        context = (self._loaded.table, label, self.text_column.currentText())
        self._tasks.submit(label_distribution, self._loaded.table, label, done=self._on_labels_counted, context=context)

    def _on_labels_counted(self, distribution: list[tuple[str, int]], context) -> None:
        table, label, text = context
        current = (self.text_column.currentText(), self.label_column.currentText())
        if self._loaded is None or self._loaded.table is not table or current != (text, label):
            return  # the answer to a question no longer asked
        self._show_columns(distribution)

    # Drag and drop onto the page: the training file ---------------------------------------------------

    def dragEnterEvent(self, event) -> None:
        if dropped_file(event.mimeData(), CSV_SUFFIXES):
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:
        path = dropped_file(event.mimeData(), CSV_SUFFIXES)
        if path:
            event.acceptProposedAction()
            self.load_train(path)
