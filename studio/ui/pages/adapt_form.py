"""AdaptForm: the text to adapt on (a file, a CSV column), the masked-LM settings and the adapted model's folder."""

from __future__ import annotations

import csv
import time
from pathlib import Path

from PySide6.QtCore import Slot
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from studio.core.config import BUILTIN_MODEL
from studio.ui.widgets import PathEdit, ScientificSpinBox

CORPUS_FILTER = "Text or CSV files (*.txt *.text *.csv *.tsv);;All files (*)"


class AdaptForm(QWidget):
    """The adaptation's settings in three boxes, with AdaptConfig's defaults; config() reads them."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.corpus = PathEdit(suffixes=(".txt", ".text", ".csv", ".tsv"))
        self.corpus.setObjectName("adaptCorpus")
        self.corpus.setPlaceholderText("a text file (one passage a line) or a CSV file")
        self.corpus_button = QPushButton("Choose…")
        self.corpus_button.setObjectName("adaptChooseCorpus")
        self.text_column = QComboBox()
        self.text_column.setObjectName("adaptTextColumn")
        self.text_column.setEditable(True)
        self.text_column.setToolTip("The CSV column holding the text; empty: inferred")
        self.model_label = QLabel()
        self.model_label.setObjectName("adaptModel")
        self.model_label.setWordWrap(True)
        self.mlm_probability = QDoubleSpinBox()
        self.mlm_probability.setObjectName("adaptMaskingProbability")
        self.mlm_probability.setRange(0.01, 0.9)
        self.mlm_probability.setSingleStep(0.01)
        self.mlm_probability.setValue(0.15)
        self.mlm_probability.setToolTip("Share of the tokens (or words) masked and predicted; BERT used 0.15")
        self.whole_word = QCheckBox("Mask whole words")
        self.whole_word.setObjectName("adaptWholeWord")
        self.whole_word.setToolTip("Mask every piece of a chosen word together, not single word pieces")
        self.max_length = QSpinBox()
        self.max_length.setObjectName("adaptMaxLength")
        self.max_length.setRange(8, 8192)
        self.max_length.setValue(128)
        self.max_length.setToolTip("Tokens per block; short lines are packed together, so nothing is padded")
        self.length_kind = QComboBox()
        self.length_kind.setObjectName("adaptLengthKind")
        self.length_kind.addItem("Epochs", "epochs")
        self.length_kind.addItem("Steps", "steps")
        self.epochs = QDoubleSpinBox()
        self.epochs.setObjectName("adaptEpochs")
        # 0 shows as "auto": AdaptConfig's own length (3 epochs, more on a small corpus so that 150 steps run).
        self.epochs.setRange(0, 1000)
        self.epochs.setSpecialValueText("auto")
        self.epochs.setValue(0)
        self.epochs.setToolTip("Passes over the text; auto: 3, or more where 3 make fewer than 150 steps")
        self.steps = QSpinBox()
        self.steps.setObjectName("adaptSteps")
        self.steps.setRange(1, 10_000_000)
        self.steps.setValue(1000)
        self.steps.setVisible(False)
        self.learning_rate = ScientificSpinBox()
        self.learning_rate.setObjectName("adaptLearningRate")
        self.learning_rate.setValue(1e-4)
        self.batch_size = QSpinBox()
        self.batch_size.setObjectName("adaptBatchSize")
        self.batch_size.setRange(1, 4096)
        self.batch_size.setValue(16)
        self.output = PathEdit()
        self.output.setObjectName("adaptOutput")
        self.output.setPlaceholderText("a new folder for the adapted model")
        self.output_button = QPushButton("Choose…")
        self.output_button.setObjectName("adaptChooseOutput")

        text = QGroupBox("Text of your domain")
        text_form = QFormLayout(text)
        corpus_row = QHBoxLayout()
        corpus_row.addWidget(self.corpus, 1)
        corpus_row.addWidget(self.corpus_button)
        text_form.addRow("File", corpus_row)
        text_form.addRow("Text column", self.text_column)
        text_form.addRow("", self.model_label)
        how = QGroupBox("Masked-language-model training")
        form = QFormLayout(how)
        form.addRow("Masking probability", self.mlm_probability)
        form.addRow("", self.whole_word)
        form.addRow("Maximum length", self.max_length)
        length_row = QHBoxLayout()
        length_row.addWidget(self.length_kind)
        length_row.addWidget(self.epochs, 1)
        length_row.addWidget(self.steps, 1)
        form.addRow("Length", length_row)
        form.addRow("Learning rate", self.learning_rate)
        form.addRow("Batch size", self.batch_size)
        where = QGroupBox("Adapted model folder")
        where_row = QHBoxLayout(where)
        where_row.addWidget(self.output, 1)
        where_row.addWidget(self.output_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        for box in (text, how, where):
            layout.addWidget(box)

        self.corpus_button.clicked.connect(self._on_corpus_clicked)
        self.corpus.editingFinished.connect(self._on_corpus_changed)
        self.corpus.file_dropped.connect(self._on_corpus_changed)
        self.output_button.clicked.connect(self._on_output_clicked)
        self.length_kind.currentIndexChanged.connect(self._on_length_kind_changed)
        self.show_model(BUILTIN_MODEL)

    def show_model(self, spec: str) -> None:
        name = "the built-in MiniLM" if spec.startswith("builtin:") else Path(spec).name or spec
        self.model_label.setText(f"Adapts {name}, the model chosen on the Model page.")

    def set_corpus(self, path: str, text_column: str | None = None) -> None:
        self.corpus.setText(path)
        self._on_corpus_changed()
        if text_column:
            self.text_column.setCurrentText(text_column)

    def config(self, model: str):
        """The AdaptConfig these settings describe, for `model` (checked by the page's Start)."""
        from studio.core.adapt import AdaptConfig

        by_steps = self.length_kind.currentData() == "steps"
        return AdaptConfig(
            corpus=self.corpus.text().strip(),
            text_column=self.text_column.currentText().strip() or None,
            model=model,
            epochs=float(self.epochs.value()) or None,
            steps=int(self.steps.value()) if by_steps else None,
            mlm_probability=round(float(self.mlm_probability.value()), 4),
            whole_word=self.whole_word.isChecked(),
            max_length=int(self.max_length.value()),
            learning_rate=float(self.learning_rate.value()),
            batch_size=int(self.batch_size.value()),
            output_dir=self._output_folder(),
        )

    def _output_folder(self) -> str:
        text = self.output.text().strip()
        if text:
            return str(Path(text).expanduser().absolute())
        from studio.core.paths import data_dir

        stem = Path(self.corpus.text().strip()).stem or "corpus"
        return str(data_dir() / "adapted" / f"{stem}-{time.strftime('%Y%m%d-%H%M%S')}")

    @Slot()
    def _on_corpus_clicked(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Choose the text to adapt on", self.corpus.text(), CORPUS_FILTER)
        if path:
            self.set_corpus(path)

    @Slot()
    def _on_corpus_changed(self) -> None:
        """A CSV's columns in the column chooser (its header only: quick); a text file has none."""
        current = self.text_column.currentText()
        columns = _csv_header(Path(self.corpus.text().strip()).expanduser())
        self.text_column.clear()
        self.text_column.addItems(columns)
        self.text_column.setEnabled(bool(columns))
        self.text_column.setCurrentText(current if current in columns else "")

    @Slot()
    def _on_output_clicked(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Choose the folder for the adapted model", self.output.text())
        if folder:
            self.output.setText(folder)

    @Slot()
    def _on_length_kind_changed(self) -> None:
        by_steps = self.length_kind.currentData() == "steps"
        self.steps.setVisible(by_steps)
        self.epochs.setVisible(not by_steps)


def _csv_header(path: Path) -> list[str]:
    if path.suffix.lower() not in (".csv", ".tsv") or not path.is_file():
        return []
    try:
        with open(path, encoding="utf-8-sig", errors="replace", newline="") as handle:
            first = handle.readline()
    except OSError:
        return []
    delimiter = "\t" if path.suffix.lower() == ".tsv" else ","
    return [c.strip() for c in next(csv.reader([first], delimiter=delimiter), []) if c.strip()]
