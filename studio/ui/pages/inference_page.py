"""InferencePage: try a model on a typed text, or label a whole CSV file in the background."""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from PySide6.QtCore import Qt, Slot
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QSizePolicy,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from studio.ui.settings import Settings
from studio.ui.tasks import TaskError, TaskRunner
from studio.ui.widgets import MessageLabel, OutputLabel, combo_edit, page_header, row

log = logging.getLogger(__name__)

JUST_TRAINED = "The model just trained"


def _predictor_for(folder: str, current):
    """The loaded Predictor for folder: the one in hand, or a new one (slow the first time: torch loads)."""
    from studio.core.inference import Predictor
    from studio.ui.warmup import ensure_libraries

    if current is not None and str(current.folder) == str(Path(folder).expanduser()):
        return current
    ensure_libraries()
    return Predictor(folder)


def predict_text(folder: str, current, text: str):
    predictor = _predictor_for(folder, current)
    return predictor, predictor.predict([text])[0]


def predict_csv(folder: str, current, source: str, dest: str, stop: threading.Event, report):
    predictor = _predictor_for(folder, current)
    rows = predictor.predict_csv(source, dest, progress=report, stop=stop)
    return predictor, rows


class InferencePage(QWidget):
    """A model folder (the one just trained, or any export), a text box, and the labels it predicts."""

    def __init__(self, tasks: TaskRunner, settings: Settings, parent: QWidget | None = None):
        super().__init__(parent)
        self._tasks = tasks
        self._settings = settings
        self._predictor = None
        self._busy = False
        self._csv_stop: threading.Event | None = None

        self.model = QComboBox()
        self.model.setObjectName("inferenceModel")
        self.model.setEditable(True)
        self.model.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
        combo_edit(self.model).setPlaceholderText("Train a model, or choose an exported model folder")
        for folder in settings.recent_exports:
            self.model.addItem(folder, folder)
        self.folder_button = QPushButton("Folder…")
        self.folder_button.setObjectName("inferenceFolderButton")
        self.model_status = MessageLabel()
        self.model_status.setObjectName("inferenceStatus")

        self.input = QPlainTextEdit()
        self.input.setObjectName("inferenceInput")
        self.input.setPlaceholderText("Type or paste a text to classify")
        self.input.setMaximumHeight(120)
        self.predict_button = QPushButton("Predict")
        self.predict_button.setObjectName("predictButton")
        self.predict_button.setProperty("primary", True)
        self.output = OutputLabel("")
        self.output.setObjectName("predictionOutput")
        self.output.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.score = QLabel("")
        self.score.setObjectName("predictionScore")
        self.probabilities = QTableWidget(0, 2)
        self.probabilities.setObjectName("probabilityTable")
        self.probabilities.setHorizontalHeaderLabels(["Label", "Probability"])
        self.probabilities.verticalHeader().setVisible(False)
        self.probabilities.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.probabilities.setSelectionMode(QTableWidget.SelectionMode.NoSelection)
        self.probabilities.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        self.probabilities.horizontalHeader().setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        # As tall as its rows (see _fit_probabilities), taking the page's spare height before anything else
        # does; it scrolls only when the labels outnumber the room.
        self.probabilities.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.probabilities.setMinimumHeight(80)
        self._fit_probabilities()

        self.csv_button = QPushButton("Label a CSV file…")
        self.csv_button.setObjectName("predictCsvButton")
        self.csv_cancel = QPushButton("Cancel")
        self.csv_cancel.setObjectName("cancelCsvButton")
        self.csv_cancel.setEnabled(False)
        self.csv_progress = QProgressBar()
        self.csv_progress.setObjectName("csvProgress")
        self.csv_progress.setRange(0, 1)
        self.csv_progress.setValue(0)
        self.csv_progress.setFormat("No file labelled yet")
        self.csv_status = MessageLabel()
        self.csv_status.setObjectName("csvStatus")

        result = QHBoxLayout()
        result.addWidget(QLabel("Predicted label:"))
        result.addWidget(self.output)
        result.addWidget(self.score)
        result.addStretch(1)
        csv_box = QGroupBox("A whole file")
        csv_layout = QVBoxLayout(csv_box)
        csv_layout.addWidget(
            QLabel(
                "Writes a copy of a CSV file with the predicted label, its probability and "
                "each label's probability added as columns."
            )
        )
        csv_layout.addLayout(row(self.csv_progress, self.csv_button, self.csv_cancel))
        csv_layout.addWidget(self.csv_status)
        layout = QVBoxLayout(self)
        layout.addWidget(
            page_header("Inference", "Try the model: type a text and see the label it predicts and how sure it is.")
        )
        layout.addLayout(row(self.model, self.folder_button))
        layout.addWidget(self.model_status)
        layout.addWidget(self.input)
        layout.addLayout(row(QWidget(), self.predict_button))
        layout.addLayout(result)
        layout.addWidget(self.probabilities, 1)
        layout.addStretch(0)  # what the table's rows do not need, below it rather than inside it
        layout.addWidget(csv_box)

        self.folder_button.clicked.connect(self._on_folder_clicked)
        self.predict_button.clicked.connect(self._on_predict_clicked)
        self.csv_button.clicked.connect(self._on_csv_clicked)
        self.csv_cancel.clicked.connect(self._on_csv_cancel_clicked)

    def folder(self) -> str:
        text = self.model.currentText().strip()
        index = self.model.findText(text)
        data = self.model.itemData(index) if index >= 0 else None
        return str(data) if data else text

    def set_model_folder(self, folder: str, title: str | None = None) -> None:
        """Offer a model folder first in the list and choose it (the model just trained, an export)."""
        if self._predictor is not None and str(self._predictor.folder) == str(Path(folder).expanduser()):
            self._predictor = None  # the folder may hold new weights now (an export written over an older one)
        index = self.model.findData(folder)
        if index >= 0:
            self.model.removeItem(index)
        if title and title.startswith(JUST_TRAINED):
            # Only the newest run is "just trained"; earlier ones go by their run's name.
            for i in range(self.model.count()):
                if self.model.itemText(i).startswith(JUST_TRAINED):
                    self.model.setItemText(i, f"Run {Path(self.model.itemData(i)).parent.name}")
        self.model.insertItem(0, title or folder, folder)
        self.model.setCurrentIndex(0)
        self.model_status.clear_message()

    def shutdown(self) -> None:
        if self._csv_stop is not None:
            self._csv_stop.set()

    def _set_busy(self, busy: bool) -> None:
        # One job at a time uses the loaded model.
        self._busy = busy
        self.predict_button.setEnabled(not busy)
        self.csv_button.setEnabled(not busy)

    def _keep(self, predictor) -> None:
        self._predictor = predictor

    # One text ------------------------------------------------------------------------------------------

    @Slot()
    def _on_predict_clicked(self) -> None:
        folder, text = self.folder(), self.input.toPlainText().strip()
        if not folder:
            self.model_status.show_error("Choose a model: train one, or choose an exported model folder.")
            return
        if not text:
            self.model_status.show_error("Type a text to classify.")
            return
        self._set_busy(True)
        if self._predictor is None or str(self._predictor.folder) != str(Path(folder).expanduser()):
            self.model_status.show_message(f"Loading the model in {folder}…", "info")
        self._tasks.submit(
            predict_text,
            folder,
            self._predictor,
            text,
            done=self._on_predicted,
            failed=self._on_predict_failed,
            context=folder,
        )

    def _on_predicted(self, result, folder: str) -> None:
        predictor, prediction = result
        self._keep(predictor)
        self._set_busy(False)
        self.model_status.clear_message()
        self.output.setText(prediction.label)
        self.score.setText(f"({prediction.score * 100:.1f}% sure)")
        ranked = sorted(prediction.probabilities.items(), key=lambda p: -p[1])
        self.probabilities.setRowCount(len(ranked))
        for r, (label, p) in enumerate(ranked):
            self.probabilities.setItem(r, 0, QTableWidgetItem(label))
            bar = QProgressBar()
            bar.setRange(0, 1000)
            bar.setValue(round(p * 1000))
            bar.setFormat(f"{p * 100:.1f}%")
            bar.setTextVisible(True)
            self.probabilities.setCellWidget(r, 1, bar)
        self._fit_probabilities()

    def _fit_probabilities(self) -> None:
        """Let the table grow to show every row (and no more than them), so the page's room goes to it."""
        table = self.probabilities
        rows = table.rowCount()
        height = table.horizontalHeader().height() + 2 * table.frameWidth()
        height += table.verticalHeader().length() if rows else table.verticalHeader().defaultSectionSize()
        table.setMaximumHeight(max(height, table.minimumHeight()))

    def _on_predict_failed(self, error: TaskError, folder: str) -> None:
        self._set_busy(False)
        self.output.setText("")
        self.score.setText("")
        self.probabilities.setRowCount(0)
        self._fit_probabilities()
        self.model_status.show_error(error.message)

    # A whole CSV ---------------------------------------------------------------------------------------

    @Slot()
    def _on_csv_clicked(self) -> None:
        folder = self.folder()
        if not folder:
            self.csv_status.show_error("Choose a model first: train one, or choose an exported model folder.")
            return
        source, _ = QFileDialog.getOpenFileName(
            self, "Choose the CSV file to label", str(Path.home()), "CSV files (*.csv *.tsv *.txt);;All files (*)"
        )
        if not source:
            return
        suggested = str(Path(source).with_name(f"{Path(source).stem}_predictions.csv"))
        dest, _ = QFileDialog.getSaveFileName(self, "Save the predictions as", suggested, "CSV files (*.csv)")
        if not dest:
            return
        self._set_busy(True)
        self._csv_stop = threading.Event()
        self.csv_cancel.setEnabled(True)
        self.csv_progress.setRange(0, 0)
        self.csv_progress.setFormat("Loading the model…")
        self.csv_status.show_message(f"Labelling {Path(source).name}…", "info")
        self._tasks.submit(
            predict_csv,
            folder,
            self._predictor,
            source,
            dest,
            self._csv_stop,
            done=self._on_csv_done,
            failed=self._on_csv_failed,
            progress=self._on_csv_progress,
            context=dest,
        )

    def _on_csv_progress(self, done: int, total: int) -> None:
        self.csv_progress.setRange(0, max(total, 1))
        self.csv_progress.setValue(done)
        self.csv_progress.setFormat(f"{done:,} of {total:,} rows")

    def _on_csv_done(self, result, dest: str) -> None:
        predictor, rows = result
        self._keep(predictor)
        self._end_csv()
        self.csv_progress.setRange(0, 1)
        self.csv_progress.setValue(1)
        self.csv_progress.setFormat(f"{rows:,} rows")
        self.csv_status.show_message(f"Wrote {rows:,} predictions to {dest}", "ok")

    def _on_csv_failed(self, error: TaskError, dest: str) -> None:
        self._end_csv()
        self.csv_progress.setRange(0, 1)
        self.csv_progress.setValue(0)
        self.csv_progress.setFormat("Not written")
        self.csv_status.show_error(error.message)

    def _end_csv(self) -> None:
        self._csv_stop = None
        self.csv_cancel.setEnabled(False)
        self._set_busy(False)

    @Slot()
    def _on_csv_cancel_clicked(self) -> None:
        if self._csv_stop is not None:
            self._csv_stop.set()
            self.csv_status.show_message("Cancelling…", "info")

    @Slot()
    def _on_folder_clicked(self) -> None:
        start = self.folder() if Path(self.folder()).is_dir() else str(Path.home())
        folder = QFileDialog.getExistingDirectory(self, "Choose an exported model folder", start)
        if folder:
            self.set_model_folder(folder)
