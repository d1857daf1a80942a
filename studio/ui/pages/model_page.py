"""ModelPage: choose the model to fine-tune (built-in, recent, a folder or a hub id) and see what it is."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QTimer, Signal, Slot
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from studio.core.config import BUILTIN_MODEL
from studio.ui import formatting
from studio.ui.settings import Settings
from studio.ui.tasks import TaskError, TaskRunner
from studio.ui.warmup import ensure_libraries
from studio.ui.widgets import MessageLabel, combo_edit, page_header, row

if TYPE_CHECKING:
    from studio.core.modeling import ModelInfo

log = logging.getLogger(__name__)

BUILTIN_LABEL = "all-MiniLM-L6-v2 (built-in)"
TYPING_PAUSE_MS = 600


def inspect_in_background(spec: str, allow_pickle: bool) -> ModelInfo:
    """What the model is (on a pool thread): the libraries first, then its config, without the weights."""
    ensure_libraries()
    from studio.core.modeling import inspect_model

    return inspect_model(spec, allow_pickle=allow_pickle)


def _looks_like_path(text: str) -> bool:
    return text.startswith(("/", "~", ".", "\\")) or (len(text) > 2 and text[1] == ":") or Path(text).exists()


class ModelPage(QWidget):
    """The model chooser and what it found: architecture, layers, size and maximum length."""

    model_changed = Signal(str)  # a new model spec was chosen; what it is is not known yet
    model_inspected = Signal(object)  # ModelInfo of the current spec
    model_failed = Signal(str)  # why the current spec cannot be used, as a sentence

    def __init__(self, tasks: TaskRunner, settings: Settings, parent: QWidget | None = None):
        super().__init__(parent)
        self._tasks = tasks
        self._settings = settings
        self._requested: tuple[str, bool] | None = None
        self._reading = False  # an answer for _requested is on its way
        self.info: ModelInfo | None = None

        self.source = QComboBox()
        self.source.setObjectName("modelSource")
        self.source.setEditable(True)
        self.source.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
        source_edit = combo_edit(self.source)
        source_edit.setObjectName("modelSourceEdit")
        source_edit.setPlaceholderText("A model folder, or a Hugging Face hub id such as org/model")
        self.source.addItem(BUILTIN_LABEL, BUILTIN_MODEL)
        for spec in settings.recent_models:
            if spec != BUILTIN_MODEL:
                self.source.addItem(spec, spec)
        if settings.model and settings.model != BUILTIN_MODEL:
            self.source.setEditText(settings.model)
        self.folder_button = QPushButton("Folder…")
        self.folder_button.setObjectName("modelFolderButton")
        self.folder_button.setToolTip("Choose a folder with a saved Hugging Face model")
        self.allow_pickle = QCheckBox("Allow pickle weights (.bin files can run code: only for models you trust)")
        self.allow_pickle.setObjectName("allowPickle")
        self.allow_pickle.setChecked(settings.allow_pickle)

        self.status = MessageLabel()
        self.status.setObjectName("modelStatus")
        self.fields: dict[str, QLabel] = {}
        details = QGroupBox("The model")
        form = QFormLayout(details)
        for key, title in (
            ("source", "Source"),
            ("architecture", "Architecture"),
            ("layers", "Layers"),
            ("hidden", "Hidden size"),
            ("parameters", "Parameters"),
            ("weights", "Weights on disk"),
            ("max_length", "Longest input"),
        ):
            label = QLabel("–")
            label.setObjectName(f"model_{key}")
            label.setWordWrap(True)
            self.fields[key] = label
            form.addRow(title, label)

        layout = QVBoxLayout(self)
        layout.addWidget(
            page_header(
                "Model",
                "The pretrained model to fine-tune. The built-in one works offline; a local folder or a "
                "Hugging Face hub id works too.",
            )
        )
        layout.addLayout(row(self.source, self.folder_button))
        layout.addWidget(self.allow_pickle)
        layout.addWidget(self.status)
        layout.addWidget(details)
        layout.addStretch(1)

        # A path typed or pasted is looked at once the typing pauses; a hub id waits for Enter.
        self._typing = QTimer(self)
        self._typing.setSingleShot(True)
        self._typing.setInterval(TYPING_PAUSE_MS)
        self._typing.timeout.connect(self._on_typing_paused)
        self.source.activated.connect(self._on_source_activated)
        combo_edit(self.source).returnPressed.connect(self._on_source_entered)
        self.source.editTextChanged.connect(self._on_source_edited)
        self.folder_button.clicked.connect(self._on_folder_clicked)
        self.allow_pickle.toggled.connect(self._on_allow_pickle_toggled)

    def spec(self) -> str:
        """What to train from: BUILTIN_MODEL, a folder path or a hub id."""
        text = self.source.currentText().strip()
        if not text or text == BUILTIN_LABEL:
            return BUILTIN_MODEL
        return text

    def use_model(self, spec: str) -> None:
        """Choose this model (a folder the app made, such as an adapted model) and read it."""
        self.source.setEditText(spec)
        self.inspect()

    def allows_pickle(self) -> bool:
        return self.allow_pickle.isChecked()

    def current_info(self) -> ModelInfo | None:
        """What the chosen model is, if it has been read (for the model and checkbox as they are now)."""
        return self.info if (self.spec(), self.allows_pickle()) == self._requested else None

    def ensure_inspected(self) -> None:
        """Read the chosen model unless it has been read or is being read; a failed read is tried again."""
        request = (self.spec(), self.allows_pickle())
        if request != self._requested or (self.info is None and not self._reading):
            self.inspect(force=True)

    def inspect(self, force: bool = False) -> None:
        """Find out what the chosen model is, in the background."""
        request = (self.spec(), self.allows_pickle())
        if request == self._requested and not force:
            return
        self._requested = request
        self._reading = True
        self.info = None
        self.model_changed.emit(request[0])
        self.status.show_message("Reading the model…", "info")
        for label in self.fields.values():
            label.setText("–")
        self._tasks.submit(
            inspect_in_background,
            request[0],
            request[1],
            done=self._on_inspected,
            failed=self._on_inspection_failed,
            context=request,
        )

    def _on_inspected(self, info: ModelInfo, request) -> None:
        if request != self._requested:
            return  # the user has chosen another model since
        self._reading = False
        self.info = info
        self.status.clear_message()
        counts = info.parameter_counts or {}
        source = {
            "builtin": "Built-in (ships with the app)",
            "folder": info.source.location,
            "hub": f"Hugging Face Hub: {info.source.location}",
        }[info.source.kind]
        self.fields["source"].setText(source)
        self.fields["architecture"].setText(f"{info.architecture} ({info.model_type})")
        self.fields["layers"].setText(str(info.num_layers))
        self.fields["hidden"].setText(str(info.hidden_size))
        self.fields["parameters"].setText(formatting.count(counts["total"]) if counts.get("total") else "–")
        self.fields["weights"].setText(
            formatting.size(info.weights_bytes)
            if info.weights_bytes
            else "not downloaded yet"
            if info.source.kind == "hub"
            else "–"
        )
        self.fields["max_length"].setText(f"{info.max_length} tokens")
        if info.source.kind != "builtin":
            self._settings.remember("recent_models", request[0])
            if self.source.findData(request[0]) < 0:
                self.source.blockSignals(True)
                self.source.insertItem(1, request[0], request[0])
                self.source.blockSignals(False)
        self._settings.model = request[0]
        self.model_inspected.emit(info)

    def _on_inspection_failed(self, error: TaskError, request) -> None:
        if request != self._requested:
            return
        self._reading = False
        self.status.show_error(error.message)
        self.model_failed.emit(error.message)

    @Slot(int)
    def _on_source_activated(self, index: int) -> None:
        self.inspect()

    @Slot()
    def _on_source_entered(self) -> None:
        self._typing.stop()
        self.inspect()

    @Slot(str)
    def _on_source_edited(self, text: str) -> None:
        if _looks_like_path(text.strip()):
            self._typing.start()

    @Slot()
    def _on_typing_paused(self) -> None:
        self.inspect()

    @Slot()
    def _on_folder_clicked(self) -> None:
        start = self.spec() if Path(self.spec()).is_dir() else str(Path.home())
        folder = QFileDialog.getExistingDirectory(self, "Choose a model folder", start)
        if folder:
            self.source.setEditText(folder)
            self._typing.stop()
            self.inspect()

    @Slot(bool)
    def _on_allow_pickle_toggled(self, checked: bool) -> None:
        self._settings.allow_pickle = checked
        self.inspect(force=True)
