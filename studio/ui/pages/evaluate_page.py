"""EvaluatePage: the final metrics, per-class precision/recall/F1, the confusion matrix, and Export."""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import QEventLoop, QObject, QRunnable, Qt, QThreadPool, Signal, Slot
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (
    QFileDialog,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from studio.core.export import export_folder
from studio.ui import formatting
from studio.ui.charts import ConfusionHeatmap
from studio.ui.settings import Settings
from studio.ui.tasks import TaskError, describe_error
from studio.ui.widgets import MessageLabel, page_header

log = logging.getLogger(__name__)

CARDS = (
    ("f1", "F1 (macro)"),
    ("accuracy", "Accuracy"),
    ("precision", "Precision"),
    ("recall", "Recall"),
    ("loss", "Validation loss"),
)


def export_destination(chosen: Path, run_name: str) -> str:
    """The chosen folder when it is new, empty or an earlier export; else a new folder inside it.

    People pick a folder such as ~/models to export into; the engine would rightly refuse to mix the model's
    files with theirs, so the model gets a folder of its own there instead.
    """
    if not chosen.exists() or not chosen.is_dir() or not any(chosen.iterdir()) or (chosen / "config.json").is_file():
        return str(chosen)
    dest, n = chosen / f"{run_name}-model", 1
    while dest.exists():
        n += 1
        dest = chosen / f"{run_name}-model-{n}"
    return str(dest)


class _Export(QRunnable):
    """Copies the model folder on a pool thread; the page waits in a local event loop, painting meanwhile."""

    def __init__(self, source: str, dest: str, done: Signal):
        super().__init__()
        self.source, self.dest, self.done = source, dest, done

    def run(self) -> None:
        try:
            self.done.emit(str(export_folder(self.source, self.dest)), None)
        except BaseException as exc:
            self.done.emit("", describe_error(exc))


class _ExportSignals(QObject):
    finished = Signal(str, object)


class EvaluatePage(QWidget):
    """How well the trained model does on the validation rows; Export writes it where the user chooses."""

    exported = Signal(str)  # the folder the model was exported to

    def __init__(self, settings: Settings, parent: QWidget | None = None):
        super().__init__(parent)
        self._settings = settings
        self.model_dir: str | None = None
        self._export_result: tuple[str, TaskError | None] | None = None

        self.run_label = QLabel("Train a model (or pick a run on the Train page) to see how well it does.")
        self.run_label.setObjectName("evaluateRun")
        self.run_label.setWordWrap(True)
        cards = QHBoxLayout()
        self.cards: dict[str, QLabel] = {}
        for key, title in CARDS:
            frame = QFrame()
            frame.setObjectName("metricCard")
            box = QVBoxLayout(frame)
            value = QLabel("–")
            value.setObjectName("metricValue")
            value.setAlignment(Qt.AlignmentFlag.AlignCenter)
            name = QLabel(title)
            name.setObjectName("metricName")
            name.setAlignment(Qt.AlignmentFlag.AlignCenter)
            box.addWidget(value)
            box.addWidget(name)
            self.cards[key] = value
            cards.addWidget(frame)

        self.per_class = QTableWidget(0, 5)
        self.per_class.setObjectName("perClassTable")
        self.per_class.setHorizontalHeaderLabels(["Label", "Precision", "Recall", "F1", "Rows"])
        self.per_class.verticalHeader().setVisible(False)
        self.per_class.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.per_class.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        for column in range(1, 5):
            self.per_class.horizontalHeader().setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        self.heatmap = ConfusionHeatmap()
        self.heatmap.setMinimumSize(320, 280)

        self.export_button = QPushButton("Export model…")
        self.export_button.setObjectName("exportButton")
        self.export_button.setProperty("primary", True)
        self.export_button.setToolTip("Write the model as a Hugging Face folder that transformers.pipeline loads")
        self.export_button.setEnabled(False)
        self.export_status = MessageLabel()
        self.export_status.setObjectName("exportStatus")

        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(self.per_class)
        splitter.addWidget(self.heatmap)
        splitter.setStretchFactor(0, 2)
        splitter.setStretchFactor(1, 3)
        export_row = QGridLayout()
        export_row.addWidget(self.export_button, 0, 0)
        export_row.addWidget(self.export_status, 0, 1)
        export_row.setColumnStretch(1, 1)
        layout = QVBoxLayout(self)
        layout.addWidget(
            page_header(
                "Evaluate",
                "How the model does on the validation rows it never trained on; the best checkpoint is the one kept.",
            )
        )
        layout.addWidget(self.run_label)
        layout.addLayout(cards)
        layout.addWidget(splitter, 1)
        layout.addLayout(export_row)
        self.export_button.clicked.connect(self._on_export_clicked)

    def show_results(self, model_dir: str, metrics: dict, stopped: bool = False) -> None:
        """Fill the page from a run's metrics (the Finished event, or metrics.json of an older run)."""
        self.model_dir = model_dir
        self.export_button.setEnabled(True)
        self.export_status.clear_message()
        run = Path(model_dir).parent.name
        epochs = metrics.get("epochs_completed")
        self.run_label.setText(
            f"Run {run}"
            + (" (stopped early)" if stopped or metrics.get("stopped_early") else "")
            + (f" · {epochs:g} epoch{'' if epochs == 1 else 's'}" if isinstance(epochs, (int, float)) else "")
            + (f" · {formatting.duration(metrics['train_seconds'])} of training" if "train_seconds" in metrics else "")
            + (f" on {metrics['device'].upper()}" if metrics.get("device") else "")
        )
        for key, label in self.cards.items():
            label.setText(formatting.metric(metrics.get(key)))
        per_class = metrics.get("per_class") or {}
        self.per_class.setRowCount(len(per_class))
        for r, (name, stats) in enumerate(per_class.items()):
            cells = [
                name,
                formatting.metric(stats.get("precision")),
                formatting.metric(stats.get("recall")),
                formatting.metric(stats.get("f1")),
                f"{stats.get('support', 0):,}",
            ]
            for c, text in enumerate(cells):
                item = QTableWidgetItem(text)
                if c:
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                self.per_class.setItem(r, c, item)
        labels = list(metrics.get("labels") or per_class.keys())
        self.heatmap.show_matrix(labels, metrics.get("confusion") or [])

    @Slot()
    def _on_export_clicked(self) -> None:
        if not self.model_dir:
            return
        start = self._settings.recent_exports[0] if self._settings.recent_exports else str(Path.home())
        chosen = QFileDialog.getExistingDirectory(self, "Export the model to a folder", start)
        if not chosen:
            return
        dest = export_destination(Path(chosen), Path(self.model_dir).parent.name)
        self.export_button.setEnabled(False)
        self.export_status.show_message(f"Exporting to {dest}…", "info")
        QGuiApplication.setOverrideCursor(Qt.CursorShape.WaitCursor)
        try:
            folder, error = self._export(self.model_dir, dest)
        finally:
            QGuiApplication.restoreOverrideCursor()
            self.export_button.setEnabled(True)
        if error is not None:
            self.export_status.show_error(error.message)
            return
        self._settings.remember("recent_exports", folder)
        self.export_status.show_message(f"Exported to {folder}", "ok")
        self.exported.emit(folder)

    def _export(self, source: str, dest: str) -> tuple[str, TaskError | None]:
        # The copy runs on a pool thread while a local event loop keeps the window painting; when the click
        # returns, the folder is complete, so whoever clicked can use it at once.
        signals = _ExportSignals()
        loop = QEventLoop()
        signals.finished.connect(self._on_export_finished)
        signals.finished.connect(loop.quit)
        self._export_result = None
        QThreadPool.globalInstance().start(_Export(source, dest, signals.finished))
        if self._export_result is None:
            loop.exec()
        return self._export_result

    @Slot(str, object)
    def _on_export_finished(self, folder: str, error) -> None:
        self._export_result = (folder, error)
