"""InferencePage: try a model on a typed text (or pair of texts), or label a whole CSV file in the background.

What a prediction shows depends on the model's task: the class and every class's probability, the labels above
their thresholds, the predicted value, or the text with its entities highlighted.
"""

from __future__ import annotations

import json
import logging
import threading
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QInputDialog,
    QLabel,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QSizePolicy,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from studio.ui import figures
from studio.ui.attribution_view import AttentionView, AttributionView
from studio.ui.settings import Settings
from studio.ui.tasks import TaskError, TaskRunner
from studio.ui.widgets import MessageLabel, OutputLabel, combo_edit, page_header, row

log = logging.getLogger(__name__)

JUST_TRAINED = "The model just trained"
# What the CSV box says it writes, per task.
CSV_DESCRIPTIONS = {
    "single": "Writes a copy of a CSV file with the predicted label, its probability and each label's probability "
    "added as columns.",
    "multi": "Writes a copy of a CSV file with the labels above their thresholds and each label's probability added "
    "as columns.",
    "regression": "Writes a copy of a CSV file with the predicted value added as a column.",
    "token": "Writes a copy of a CSV file with the entities found in each row's text added as a column of JSON "
    "(type, words, character offsets and score of each).",
}
CAPTIONS = {
    "single": "Predicted label:",
    "multi": "Labels above their thresholds:",
    "regression": "Predicted value:",
    "token": "Entities:",
}


@dataclass(frozen=True)
class ModelOutline:
    """What the page shows before a model is loaded: its task and the second text it reads (from config.json)."""

    task: str = "single"
    pair_column: str | None = None


def read_outline(folder: str) -> ModelOutline | None:
    """The task and pair column a model folder's config.json names, without loading the model; None when it
    cannot be read (the folder is not there yet, or typed halfway)."""
    from studio.core.inference import task_of

    path = Path(folder).expanduser() / "config.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict):
        return None
    pair = data.get("studio_pair_column")
    return ModelOutline(task_of(SimpleNamespace(**data)), pair if isinstance(pair, str) and pair else None)


def csv_columns(path: str) -> list[str]:
    """The header of a CSV file (read on a pool thread), to ask which column holds the second texts."""
    from studio.core.csvio import read_table

    return list(read_table(path).columns)


# Why the Explain views are off for an ONNX export: integrated gradients and attention read the PyTorch model.
ONNX_NO_EXPLAIN = (
    "This is an ONNX export, which predicts without PyTorch; explanations need the PyTorch model: choose the "
    "run's model folder to see them."
)


def is_onnx(predictor) -> bool:
    """Whether a loaded predictor serves an ONNX export (on onnxruntime, so without gradients or attention)."""
    return str(getattr(predictor, "format", "")).startswith("onnx")


def _predictor_for(folder: str, current):
    """The loaded predictor for folder: the one in hand, or a new one (slow the first time: torch loads); an ONNX
    export (model.onnx) is served on onnxruntime, without torch."""
    from studio.core.onnx_predict import is_onnx_export, load_predictor

    if current is not None and str(current.folder) == str(Path(folder).expanduser()):
        return current
    if not is_onnx_export(folder):
        from studio.ui.warmup import ensure_libraries

        ensure_libraries()
    return load_predictor(folder)


def predict_text(folder: str, current, text: str, pair: str | None = None):
    """(predictor, prediction), or (predictor, None) when the model reads pairs and no second text was given."""
    predictor = _predictor_for(folder, current)
    if predictor.takes_pairs and not pair:
        return predictor, None
    return predictor, predictor.predict([text], [pair] if predictor.takes_pairs else None)[0]


def explain_text(folder: str, current, text: str):
    """(predictor, attributions, attention) for a text: integrated gradients per explained label or entity, and
    every layer's attention (regression has no attributions per label: its value's)."""
    from studio.core.attributions import attention, explain

    predictor = _predictor_for(folder, current)
    if is_onnx(predictor):
        from studio.core.errors import ModelError

        raise ModelError(ONNX_NO_EXPLAIN)
    return predictor, explain(predictor, text), attention(predictor, text)


def predict_csv(
    folder: str, current, source: str, dest: str, stop: threading.Event, report, pair_column: str | None = None
):
    predictor = _predictor_for(folder, current)
    rows = predictor.predict_csv(source, dest, progress=report, stop=stop, pair_column=pair_column)
    return predictor, rows


class InferencePage(QWidget):
    """A model folder (the one just trained, or any export), a text box, and the labels it predicts."""

    explained = Signal()  # the attributions and attention of the text tried are shown

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
        self.pair_input = QPlainTextEdit()
        self.pair_input.setObjectName("inferencePairInput")
        self.pair_input.setPlaceholderText("The second text of the pair")
        self.pair_input.setMaximumHeight(90)
        self.pair_input.setVisible(False)
        self.predict_button = QPushButton("Predict")
        self.predict_button.setObjectName("predictButton")
        self.predict_button.setProperty("primary", True)
        self.output = OutputLabel("")
        self.output.setObjectName("predictionOutput")
        self.output.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.score = QLabel("")
        self.score.setObjectName("predictionScore")
        self.caption = QLabel(CAPTIONS["single"])
        self.caption.setObjectName("predictionCaption")
        self.entities = QTextBrowser()
        self.entities.setObjectName("entityView")
        self.entities.setOpenLinks(False)
        self.entities.setVisible(False)
        font = self.entities.font()
        font.setPointSizeF(font.pointSizeF() * 1.25)
        self.entities.setFont(font)
        self.entities.setMinimumHeight(70)
        self.entities.setMaximumHeight(160)
        self.input_caption = QLabel("Text")
        self.input_caption.setObjectName("inferenceInputCaption")
        self.pair_caption = QLabel("Second text")
        self.pair_caption.setObjectName("inferencePairCaption")
        for caption in (self.input_caption, self.pair_caption):
            caption.setVisible(False)
        self.outline = ModelOutline()
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

        # Why this prediction: on demand, in the background (integrated gradients take seconds on a CPU).
        self.explain_button = QPushButton("Explain")
        self.explain_button.setObjectName("explainButton")
        self.explain_button.setToolTip("Which words pushed this prediction, and where the model's attention goes")
        self.explain_button.setEnabled(False)
        self.attribution = AttributionView()
        self.attribution.setObjectName("attributionView")
        self.attention = AttentionView()
        self.attention.setObjectName("attentionView")
        self.explain_tabs = QTabWidget()
        self.explain_tabs.setObjectName("explainTabs")
        self.explain_tabs.addTab(self.attribution, "Why this prediction")
        self.explain_tabs.addTab(self.attention, "Attention")
        self.explain_tabs.setMinimumHeight(220)
        self._explained_text = ""

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
        result.addWidget(self.caption)
        result.addWidget(self.output)
        result.addWidget(self.score)
        result.addStretch(1)
        result.addWidget(self.explain_button)
        csv_box = QGroupBox("A whole file")
        csv_layout = QVBoxLayout(csv_box)
        self.csv_description = QLabel(CSV_DESCRIPTIONS["single"])
        self.csv_description.setObjectName("csvDescription")
        self.csv_description.setWordWrap(True)
        csv_layout.addWidget(self.csv_description)
        csv_layout.addLayout(row(self.csv_progress, self.csv_button, self.csv_cancel))
        csv_layout.addWidget(self.csv_status)
        layout = QVBoxLayout(self)
        layout.addWidget(
            page_header("Inference", "Try the model: type a text and see the label it predicts and how sure it is.")
        )
        layout.addLayout(row(self.model, self.folder_button))
        layout.addWidget(self.model_status)
        layout.addWidget(self.input_caption)
        layout.addWidget(self.input)
        layout.addWidget(self.pair_caption)
        layout.addWidget(self.pair_input)
        layout.addLayout(row(QWidget(), self.predict_button))
        layout.addLayout(result)
        layout.addWidget(self.entities)
        results = QHBoxLayout()
        left = QVBoxLayout()
        left.addWidget(self.probabilities, 1)
        left.addStretch(0)  # what the table's rows do not need, below it rather than inside it
        results.addLayout(left, 2)
        results.addWidget(self.explain_tabs, 3)
        layout.addLayout(results, 1)
        layout.addWidget(csv_box)

        self.folder_button.clicked.connect(self._on_folder_clicked)
        self.predict_button.clicked.connect(self._on_predict_clicked)
        self.explain_button.clicked.connect(self._on_explain_clicked)
        self.csv_button.clicked.connect(self._on_csv_clicked)
        self.csv_cancel.clicked.connect(self._on_csv_cancel_clicked)
        self.model.currentIndexChanged.connect(self._on_model_index_changed)
        combo_edit(self.model).editingFinished.connect(self._on_model_editing_finished)
        self._show_outline(read_outline(self.folder()) if self.folder() else None)

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
        self._show_outline(read_outline(folder))

    def model_changed_on_disk(self, folder: str) -> None:
        """A model folder was rewritten (a threshold saved into it): the next prediction loads it again rather than
        keep deciding with what was loaded before."""
        if self._predictor is not None and str(self._predictor.folder) == str(Path(folder).expanduser()):
            self._predictor = None

    # The model's task decides what the page asks for and shows ------------------------------------------

    def _show_outline(self, outline: ModelOutline | None) -> None:
        """Ask for what the model reads (a second text for a pair model) and say what it will show."""
        outline = outline or ModelOutline()
        changed = outline != self.outline
        self.outline = outline
        task = outline.task if outline.task in CAPTIONS else "single"
        pairs = outline.pair_column is not None
        for widget in (self.pair_input, self.pair_caption, self.input_caption):
            widget.setVisible(pairs)
        if outline.pair_column:
            self.pair_caption.setText(f"Second text (the column {outline.pair_column!r} in training)")
            self.pair_input.setPlaceholderText("Type or paste the second text of the pair")
        self.input.setPlaceholderText(
            "Type or paste a text to find its entities"
            if task == "token"
            else "Type or paste the first text of the pair"
            if outline.pair_column
            else "Type or paste a text to score"
            if task == "regression"
            else "Type or paste a text to classify"
        )
        self.caption.setText(CAPTIONS[task])
        self.csv_description.setText(
            CSV_DESCRIPTIONS[task]
            + (" The model reads the text and the second-text column of each row." if outline.pair_column else "")
        )
        if changed:
            self._clear_prediction()

    def _clear_prediction(self) -> None:
        self.explain_button.setEnabled(False)
        self.explain_tabs.setEnabled(True)
        self._explained_text = ""
        self.attribution.clear("Predict a text, then press “Explain” to see which words pushed the prediction.")
        self.attention.clear("Predict a text, then press “Explain” to see where the model looks.")
        self.output.setText("")
        self.score.setText("")
        self.entities.clear()
        self.entities.setVisible(False)
        self.probabilities.setRowCount(0)
        self.probabilities.setVisible(self.outline.task != "regression")
        self._fit_probabilities()

    @Slot(int)
    def _on_model_index_changed(self, index: int) -> None:
        self._show_outline(read_outline(self.folder()) if self.folder() else None)

    @Slot()
    def _on_model_editing_finished(self) -> None:
        self._show_outline(read_outline(self.folder()) if self.folder() else None)

    def shutdown(self) -> None:
        if self._csv_stop is not None:
            self._csv_stop.set()

    def _set_busy(self, busy: bool) -> None:
        # One job at a time uses the loaded model (captum hooks its embeddings while it explains).
        self._busy = busy
        self.predict_button.setEnabled(not busy)
        self.csv_button.setEnabled(not busy)
        self.explain_button.setEnabled(not busy and bool(self._explained_text))

    def show_text(self, text: str) -> None:
        """Put a text (a validation row from the Evaluate page) in the box and predict it with the chosen model."""
        self.input.setPlainText(text)
        self.pair_input.clear()
        if not self._busy and self.folder() and not self.outline.pair_column:
            self._on_predict_clicked()

    def _keep(self, predictor) -> None:
        self._predictor = predictor

    # One text ------------------------------------------------------------------------------------------

    @Slot()
    def _on_predict_clicked(self) -> None:
        folder, text = self.folder(), self.input.toPlainText().strip()
        pair = self.pair_input.toPlainText().strip() if self.outline.pair_column else None
        if not folder:
            self.model_status.show_error("Choose a model: train one, or choose an exported model folder.")
            return
        if not text:
            self.model_status.show_error("Type a text to classify.")
            return
        if self.outline.pair_column and not pair:
            self.model_status.show_error("This model reads pairs of texts: type the second text too.")
            return
        self._set_busy(True)
        if self._predictor is None or str(self._predictor.folder) != str(Path(folder).expanduser()):
            self.model_status.show_message(f"Loading the model in {folder}…", "info")
        self._tasks.submit(
            predict_text,
            folder,
            self._predictor,
            text,
            pair,
            done=self._on_predicted,
            failed=self._on_predict_failed,
            context=folder,
        )

    def _on_predicted(self, result, folder: str) -> None:
        predictor, prediction = result
        self._keep(predictor)
        self._set_busy(False)
        # The loaded model has the last word on what it is (config.json may have been changed since).
        self._show_outline(ModelOutline(predictor.task.name, predictor.pair_column if predictor.takes_pairs else None))
        if prediction is None:
            self._clear_prediction()
            self.model_status.show_error("This model reads pairs of texts: type the second text too.")
            return
        self.model_status.clear_message()
        task = predictor.task.name
        # What Explain explains: the text just predicted (models that read pairs are not explained yet, nor ONNX
        # exports, which have no gradients or attention to read).
        onnx = is_onnx(predictor)
        self._explained_text = "" if predictor.takes_pairs or onnx else self.input.toPlainText().strip()
        self.explain_button.setEnabled(bool(self._explained_text))
        self.explain_tabs.setEnabled(not onnx)
        self.explain_button.setToolTip(
            ONNX_NO_EXPLAIN if onnx else "Which words pushed this prediction, and where the model's attention goes"
        )
        why = "Press “Explain” to see which words pushed this prediction."
        self.attribution.clear(ONNX_NO_EXPLAIN if onnx else why)
        self.attention.clear(ONNX_NO_EXPLAIN if onnx else "Press “Explain” to see where the model looks.")
        if task == "regression":
            self._show_value(prediction)
        elif task == "token":
            self._show_entities(prediction, predictor.labels)
        elif task == "multi":
            self._show_chosen(prediction)
        else:
            self._show_class(prediction, predictor.threshold, predictor.threshold_label)

    def _show_class(self, prediction, threshold: float | None, threshold_label: str | None) -> None:
        self.output.setText(prediction.label)
        sure = f"{prediction.score * 100:.1f}% sure"
        if threshold is not None and abs(threshold - 0.5) > 5e-4:
            # A tuned threshold can choose the less likely class (spam at 47 %): say what decided it.
            sure += f"; {threshold_label} from {threshold * 100:.1f}%, the model's tuned threshold"
        self.score.setText(f"({sure})")
        ranked = sorted(prediction.probabilities.items(), key=lambda p: -p[1])
        self._fill_probabilities(ranked, chosen=None)

    def _show_chosen(self, prediction) -> None:
        chosen = list(prediction.chosen)
        self.output.setText(", ".join(chosen) if chosen else "none")
        total = len(prediction.probabilities)
        self.score.setText(
            f"({len(chosen)} of {total} labels)" if chosen else f"(none of the {total} labels is above its threshold)"
        )
        # The labels above their thresholds first (most probable first), then the rest.
        ranked = sorted(prediction.probabilities.items(), key=lambda p: (p[0] not in chosen, -p[1]))
        self._fill_probabilities(ranked, chosen=set(chosen))

    def _show_value(self, prediction) -> None:
        value = prediction.value if prediction.value is not None else prediction.score
        self.output.setText(figures.value(value))
        self.score.setText("")
        self.probabilities.setRowCount(0)
        self.probabilities.setVisible(False)
        self.entities.setVisible(False)

    def _show_entities(self, prediction, labels: list[str]) -> None:
        entities = list(prediction.entities)
        types = sorted({figures.entity_type(str(e.get("entity", ""))) for e in entities})
        self.output.setText(f"{len(entities)} found" if entities else "none found")
        self.score.setText(f"({', '.join(types)})" if types else "")
        text = self.input.toPlainText().strip()
        colours = figures.entity_colours(labels)
        self.entities.setHtml(figures.highlighted_text(text, entities, colours))
        # Each entity with how sure the model is of it, in the order of the text.
        self._fill_probabilities(
            [
                (f"{e.get('word', '')}  ·  {figures.entity_type(str(e.get('entity', '')))}", e.get("score", 0.0))
                for e in entities
            ],
            chosen=None,
            header=("Entity", "Score"),
        )
        self.entities.setVisible(True)

    def _fill_probabilities(
        self,
        ranked: list[tuple[str, float]],
        chosen: set[str] | None,
        header: tuple[str, str] = ("Label", "Probability"),
    ) -> None:
        """Every label with its probability as a bar; with `chosen` (multi-label), those above threshold ticked."""
        self.entities.setVisible(False)
        self.probabilities.setVisible(True)
        self.probabilities.setHorizontalHeaderLabels(list(header))
        self.probabilities.setRowCount(len(ranked))
        for r, (label, p) in enumerate(ranked):
            above = chosen is not None and label in chosen
            item = QTableWidgetItem(f"✓ {label}" if above else label)
            if chosen is not None:
                font = item.font()
                font.setBold(above)
                item.setFont(font)
                item.setToolTip("above its threshold" if above else "below its threshold")
            self.probabilities.setItem(r, 0, item)
            bar = QProgressBar()
            bar.setRange(0, 1000)
            bar.setValue(round(p * 1000))
            bar.setFormat(f"{p * 100:.1f}%")
            bar.setTextVisible(True)
            if chosen is not None and not above:
                bar.setEnabled(False)  # greyed: below the label's threshold
            self.probabilities.setCellWidget(r, 1, bar)
        self._fit_probabilities()

    def _fit_probabilities(self) -> None:
        """Let the table grow to show every row (and no more than them), so the page's room goes to it."""
        table = self.probabilities
        rows = table.rowCount()
        height = table.horizontalHeader().height() + 2 * table.frameWidth()
        height += table.verticalHeader().length() if rows else table.verticalHeader().defaultSectionSize()
        table.setMaximumHeight(max(height, table.minimumHeight()))

    # Why this prediction --------------------------------------------------------------------------------

    @Slot()
    def _on_explain_clicked(self) -> None:
        text, folder = self._explained_text, self.folder()
        if not text or not folder or self._busy:
            return
        self._set_busy(True)
        self.explain_button.setEnabled(False)
        self.attribution.clear("Working out which words pushed the prediction (integrated gradients)…")
        self.attention.clear("Reading the model's attention…")
        self._tasks.submit(
            explain_text,
            folder,
            self._predictor,
            text,
            done=self._on_explained,
            failed=self._on_explain_failed,
            context=(folder, text),
        )

    def _on_explained(self, result, context: tuple[str, str]) -> None:
        predictor, attributions, attention = result
        self._keep(predictor)
        self._set_busy(False)
        if context != (self.folder(), self._explained_text):
            return  # another model or text since
        self.attribution.show_attributions(context[1], attributions)
        self.attention.show_attention(attention)
        self.explained.emit()

    def _on_explain_failed(self, error: TaskError, context: tuple[str, str]) -> None:
        self._set_busy(False)
        self.attribution.clear(error.message)
        self.attention.clear(error.message)

    def _on_predict_failed(self, error: TaskError, folder: str) -> None:
        self._set_busy(False)
        self._clear_prediction()
        self.model_status.show_error(error.message)

    # A whole CSV ---------------------------------------------------------------------------------------

    @Slot()
    def _on_csv_clicked(self) -> None:
        folder = self.folder()
        if not folder:
            self.csv_status.show_error("Choose a model first: train one, or choose an exported model folder.")
            return
        source, _ = QFileDialog.getOpenFileName(
            self,
            "Choose the CSV file to label",
            str(Path.home()),
            "Data files (*.csv *.tsv *.txt *.conll);;All files (*)",
        )
        if not source:
            return
        if self.outline.pair_column:
            # Which column holds the second texts: the one named as in training, else the user says.
            self.csv_status.show_message(f"Reading the columns of {Path(source).name}…", "info")
            self._tasks.submit(
                csv_columns, source, done=self._on_csv_columns_read, failed=self._on_csv_failed, context=source
            )
            return
        self._choose_csv_output(folder, source, None)

    def _on_csv_columns_read(self, columns: list[str], source: str) -> None:
        pair = self.outline.pair_column
        if pair in columns:
            self._choose_csv_output(self.folder(), source, pair)
            return
        from studio.core.data import PAIR_NAMES

        guess = next((i for i, c in enumerate(columns) if c.lower() in PAIR_NAMES), 0)
        chosen, ok = QInputDialog.getItem(
            self,
            "Second text column",
            f"The model was trained with the second text in {pair!r}, which {Path(source).name} does not have. "
            "Which column holds the second text of each row?",
            columns,
            guess,
            False,
        )
        if not ok or not chosen:
            self.csv_status.clear_message()
            return
        self._choose_csv_output(self.folder(), source, chosen)

    def _choose_csv_output(self, folder: str, source: str, pair_column: str | None) -> None:
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
            pair_column=pair_column,
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

    def _on_csv_failed(self, error: TaskError, context: str) -> None:
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
