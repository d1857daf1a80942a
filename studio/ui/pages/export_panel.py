"""ExportPanel: the Evaluate page's export row: where to, in which format (a Hugging Face folder, or ONNX fp32 or
int8 for deployment, checked against PyTorch), and what came of it."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import Signal, Slot
from PySide6.QtWidgets import QComboBox, QFileDialog, QGridLayout, QLabel, QPushButton, QWidget

from studio.ui.settings import Settings
from studio.ui.tasks import TaskError, TaskRunner
from studio.ui.widgets import MessageLabel, PathEdit

if TYPE_CHECKING:
    from studio.core.parity import ParityReport

# (format as `studio export --format` names it, what the user reads, the suffix of the suggested folder)
FORMATS = (
    ("hf", "Hugging Face folder (PyTorch, safetensors)", "model"),
    ("onnx", "ONNX for deployment (fp32, checked against PyTorch)", "onnx"),
    ("onnx-int8", "ONNX int8 for deployment (smaller, faster on a CPU)", "onnx-int8"),
)
TOOLTIPS = {
    "hf": "Write the model as a Hugging Face folder that transformers.pipeline loads",
    "onnx": "Write model.onnx with its tokenizer for onnxruntime, without PyTorch; the export compares its "
    "predictions with the PyTorch model's on the validation rows and refuses below 99.5 % agreement",
    "onnx-int8": "Write model.onnx with int8 weights (about a quarter of the size) for onnxruntime; parity.json "
    "and the README say how often it agrees with PyTorch and the F1 it costs",
}


def export_destination(chosen: Path, run_name: str, suffix: str = "model") -> str:
    """The chosen folder when it is new, empty or an earlier export; else a new folder inside it.

    People pick a folder such as ~/models to export into; the engine would rightly refuse to mix the model's
    files with theirs, so the model gets a folder of its own there instead.
    """
    if not chosen.exists() or not chosen.is_dir() or not any(chosen.iterdir()) or (chosen / "config.json").is_file():
        return str(chosen)
    return str(suggested_export(chosen, run_name, suffix))


def suggested_export(base: Path, run_name: str, suffix: str = "model") -> Path:
    """A folder that does not exist yet in base, named after the run: what Export proposes to create."""
    dest, n = base / f"{run_name}-{suffix}", 1
    while dest.exists():
        n += 1
        dest = base / f"{run_name}-{suffix}-{n}"
    return dest


def export_model(model_dir: str, dest: str, kind: str, say=None) -> tuple[Path, ParityReport | None]:
    """Export model_dir to dest in `kind` (say(text) hears the ONNX export's steps); the folder written and, for
    ONNX, its ParityReport."""
    if kind == "hf":
        from studio.core.export import export_folder

        return export_folder(model_dir, dest), None
    from studio.core.onnx_export import export_onnx

    parity = export_onnx(model_dir, dest, quantize=kind == "onnx-int8", progress=say)
    return Path(dest).expanduser().absolute(), parity


def parity_sentence(parity: ParityReport | None) -> str:
    """What an ONNX export's parity figures mean, in one line for the status."""
    if parity is None:
        return ""
    metric = {"f1": "entity F1" if parity.task == "token" else "macro F1", "pearson": "Pearson r"}.get(
        parity.metric, parity.metric
    )
    return (
        f" It makes the PyTorch model's decision on {parity.label_agreement:.1%} of {parity.rows:,} validation "
        f"rows (largest difference {parity.max_abs_diff:.2g}); {metric} {parity.score:.3f} against "
        f"{parity.score_pytorch:.3f} with PyTorch; {parity.model_bytes / 1e6:.0f} MB."
    )


class ExportPanel(QWidget):
    """Export the shown model: a folder to create, a format, a button; the export runs on the task runner."""

    exported = Signal(str)  # the folder the model was exported to

    def __init__(self, tasks: TaskRunner, settings: Settings, parent: QWidget | None = None):
        super().__init__(parent)
        self._tasks = tasks
        self._settings = settings
        self.model_dir: str | None = None
        self.exporting = False
        self._suggested = ""
        self._dest = ""
        self._step = ""  # the ONNX export's current step, set on the pool thread (a str swap is atomic)

        self.path = PathEdit()
        self.path.setObjectName("exportPath")
        self.path.setPlaceholderText("The folder to create for the model, such as ~/models/spam-filter")
        self.path.setToolTip(
            "The model is written into this folder, which is created if it does not exist. A folder that already "
            "holds other files gets a new folder inside it, so nothing of yours is replaced."
        )
        self.browse_button = QPushButton("Browse…")
        self.browse_button.setObjectName("exportBrowseButton")
        self.browse_button.setToolTip("Choose the folder to export into; the model gets a new folder there")
        self.format = QComboBox()
        self.format.setObjectName("exportFormat")
        for key, text, _suffix in FORMATS:
            self.format.addItem(text, key)
        self.button = QPushButton("Export model")
        self.button.setObjectName("exportButton")
        self.button.setProperty("primary", True)
        self.status = MessageLabel()
        self.status.setObjectName("exportStatus")

        grid = QGridLayout(self)
        grid.setContentsMargins(0, 0, 0, 0)
        grid.addWidget(QLabel("Export to:"), 0, 0)
        grid.addWidget(self.path, 0, 1)
        grid.addWidget(self.browse_button, 0, 2)
        grid.addWidget(self.format, 0, 3)
        grid.addWidget(self.button, 0, 4)
        grid.addWidget(self.status, 1, 1, 1, 4)
        grid.setColumnStretch(1, 1)
        self.button.clicked.connect(self._on_export_clicked)
        self.path.returnPressed.connect(self._on_export_clicked)
        self.browse_button.clicked.connect(self._on_browse_clicked)
        self.format.currentIndexChanged.connect(self._on_format_changed)
        self._on_format_changed()
        self.set_enabled(False)

    @property
    def kind(self) -> str:
        """The chosen format, as `studio export --format` names it."""
        return str(self.format.currentData())

    def _suffix(self) -> str:
        return next(suffix for key, _text, suffix in FORMATS if key == self.kind)

    def show_model(self, model_dir: str) -> None:
        """The model the buttons export: a run's model folder."""
        self.model_dir = model_dir
        if not self.exporting:
            self._suggest()
            self.set_enabled(True)
            self.status.clear_message()

    def _suggest(self) -> None:
        if self.model_dir:
            self._suggested = str(suggested_export(self.base(), Path(self.model_dir).parent.name, self._suffix()))
            self.path.setText(self._suggested)

    def base(self) -> Path:
        """Where a new export goes by default: beside the last one, else in the home folder."""
        for folder in self._settings.recent_exports:
            parent = Path(folder).expanduser().parent
            if parent.is_dir():
                return parent
        return Path.home()

    def set_enabled(self, enabled: bool) -> None:
        for widget in (self.path, self.browse_button, self.format, self.button):
            widget.setEnabled(enabled)

    @Slot()
    def _on_format_changed(self) -> None:
        self.button.setText("Export model" if self.kind == "hf" else "Export for deployment")
        self.button.setToolTip(TOOLTIPS[self.kind])
        self.format.setToolTip(TOOLTIPS[self.kind])
        # A suggestion follows the format; a folder the user typed stays.
        if self.model_dir and not self.exporting and self.path.text() == self._suggested:
            self._suggest()

    @Slot()
    def _on_browse_clicked(self) -> None:
        if not self.model_dir:
            return
        typed = Path(self.path.text().strip() or self.base()).expanduser()
        start = next((str(p) for p in (typed, *typed.parents) if p.is_dir()), str(Path.home()))
        chosen = QFileDialog.getExistingDirectory(self, "Choose the folder to export the model into", start)
        if chosen:
            self.path.setText(export_destination(Path(chosen), Path(self.model_dir).parent.name, self._suffix()))
            self.status.clear_message()

    @Slot()
    def _on_export_clicked(self) -> None:
        if not self.model_dir or self.exporting:
            return
        typed = self.path.text().strip()
        if not typed:
            self.status.show_error("Type the folder to export the model to, or choose one with Browse.")
            return
        chosen = Path(typed).expanduser()
        if not chosen.is_absolute():
            # A bare name has no obvious place of its own; it goes where the suggested folder would.
            chosen = self.base() / chosen
        dest = export_destination(chosen, Path(self.model_dir).parent.name, self._suffix())
        self.exporting = True
        self.set_enabled(False)
        kind = self.kind
        checking = "" if kind == "hf" else " (converting, then comparing with PyTorch on the validation rows)"
        self._dest = dest
        self.status.show_message(f"Exporting to {dest}{checking}…", "info")
        # On the task runner, like every other long job: the window stays usable while it works.
        self._tasks.submit(
            self._export,
            self.model_dir,
            dest,
            kind,
            done=self._on_export_done,
            failed=self._on_export_failed,
            progress=self._on_export_progress,
            libraries=kind != "hf",
        )

    def _export(self, model_dir: str, dest: str, kind: str, report) -> tuple[Path, ParityReport | None]:
        """On the pool thread: the export, each of its steps passed to the GUI thread as a progress report."""
        steps = iter(range(1, 100))

        def say(text: str) -> None:
            self._step = text
            report(next(steps, 99), 100)

        return export_model(model_dir, dest, kind, say)

    def _on_export_progress(self, _done: int, _total: int) -> None:
        if self.exporting:
            self.status.show_message(f"Exporting to {self._dest}: {self._step}…", "info")

    def _on_export_done(self, result: tuple[Path, ParityReport | None]) -> None:
        folder, parity = result
        self.exporting = False
        self.set_enabled(True)
        self._settings.remember("recent_exports", str(folder))
        self.path.setText(str(folder))
        self._suggested = ""
        kept = ""
        if parity is not None and not parity.passed:
            kept = " Its agreement is below 99.5 %: check parity.json before you deploy it."
        done = f"Exported to {folder}" + ("." if parity else "")
        self.status.show_message(done + parity_sentence(parity) + kept, "ok")
        self.exported.emit(str(folder))

    def _on_export_failed(self, error: TaskError) -> None:
        self.exporting = False
        self.set_enabled(True)
        self.status.show_error(error.message)
