"""ThresholdView: a binary model's precision, recall and F1 against its decision threshold, and a slider to set it."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QSlider, QVBoxLayout, QWidget

from studio.ui.plots import BLUE, GREEN, GREY, ORANGE, make_plot
from studio.ui.tasks import TaskError, TaskRunner

STEPS = 100  # the slider moves in hundredths


class ThresholdView(QWidget):
    """The threshold tuner of a binary model: the curves from metrics.json's `threshold_curve` (validation), the
    threshold in force (a line), the tuned one (a dashed line), and a slider; "Save threshold" writes the chosen
    one into the model folder (config.json, the head's bias, the card), where studio predict, the Inference tab
    and transformers.pipeline use it.

    Wire it with `show_model(model_dir, metrics)` after a run (or for a chosen model folder). Signal:
    `threshold_saved(float)` once a threshold is saved (the Inference tab should reload its model).
    """

    threshold_saved = Signal(float)

    def __init__(self, tasks: TaskRunner, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("thresholdView")
        self._tasks = tasks
        self._folder: Path | None = None
        self._curve: dict[str, np.ndarray] = {}
        self._tuned: float | None = None
        self._saved: float | None = None

        self.title = QLabel("<b>Decision threshold</b>")
        self.explain = QLabel("")
        self.explain.setWordWrap(True)
        self.plot = make_plot("thresholdPlot", "Validation figures by threshold", "", x_label="threshold")
        self.plot.setXRange(0, 1, padding=0.02)
        self.plot.setYRange(0, 1, padding=0.02)
        self.plot.setMouseEnabled(x=False, y=False)
        self.plot.setMenuEnabled(False)
        self.plot.hideButtons()
        self._lines = {
            "precision": self.plot.plot([], [], pen=pg.mkPen(BLUE, width=2), name="precision"),
            "recall": self.plot.plot([], [], pen=pg.mkPen(ORANGE, width=2), name="recall"),
            "f1": self.plot.plot([], [], pen=pg.mkPen(GREEN, width=2), name="macro F1"),
        }
        self.tuned_line = pg.InfiniteLine(angle=90, pen=pg.mkPen(GREY, width=1, style=Qt.PenStyle.DashLine))
        self.chosen_line = pg.InfiniteLine(angle=90, pen=pg.mkPen("#333333", width=2))
        self.plot.addItem(self.tuned_line)
        self.plot.addItem(self.chosen_line)

        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setObjectName("thresholdSlider")
        self.slider.setRange(1, STEPS - 1)
        self.slider.valueChanged.connect(self._on_slider_value_changed)
        self.figures = QLabel("")
        self.figures.setObjectName("thresholdFigures")
        self.tuned_button = QPushButton("Back to the tuned threshold")
        self.tuned_button.setObjectName("tunedThreshold")
        self.tuned_button.clicked.connect(self._on_tuned_clicked)
        self.save_button = QPushButton("Save threshold")
        self.save_button.setObjectName("saveThreshold")
        self.save_button.clicked.connect(self._on_save_clicked)
        self.status = QLabel("")
        self.status.setObjectName("thresholdStatus")
        self.status.setWordWrap(True)

        buttons = QHBoxLayout()
        buttons.addWidget(self.figures, 1)
        buttons.addWidget(self.tuned_button)
        buttons.addWidget(self.save_button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.title)
        layout.addWidget(self.explain)
        layout.addWidget(self.plot, 1)
        layout.addWidget(self.slider)
        layout.addLayout(buttons)
        layout.addWidget(self.status)
        self.show_model(None, {})

    def show_model(self, model_dir: str | Path | None, metrics: dict) -> None:
        """Show the curves of a model folder's validation (metrics.json's figures) and the threshold it uses."""
        self._folder = Path(model_dir) if model_dir else None
        curve = metrics.get("threshold_curve") or {}
        usable = self._folder is not None and bool(curve.get("threshold"))
        self._curve = {k: np.asarray(v, dtype=np.float64) for k, v in curve.items()} if usable else {}
        for name, item in self._lines.items():
            item.setData(self._curve.get("threshold", []), self._curve.get(name, []))
        for widget in (self.plot, self.slider, self.figures, self.tuned_button, self.save_button):
            widget.setVisible(usable)
        self.status.setText("")
        if not usable:
            self.explain.setText(
                "Each label's threshold was tuned on the validation data (see the per-label table)."
                if metrics.get("thresholds")
                else "A decision threshold applies to models with two classes."
            )
            return
        label = metrics.get("threshold_label", "the positive class")
        self._tuned = float(metrics.get("threshold", 0.5))
        self._saved = _saved_threshold(self._folder, self._tuned)
        self.explain.setText(
            f"The model predicts {label!r} when its probability is at least the threshold. The curves are "
            f"precision and recall of {label!r} and macro F1 on the validation rows; the dashed line is the "
            f"threshold tuned for the best F1 ({self._tuned:.2f})."
        )
        self.tuned_line.setValue(self._tuned)
        self._set_slider(self._saved)
        self._show_figures()

    def threshold(self) -> float:
        """The threshold the slider is at."""
        return self.slider.value() / STEPS

    def _set_slider(self, value: float) -> None:
        self.slider.blockSignals(True)
        self.slider.setValue(round(min(max(value, 0.01), 0.99) * STEPS))
        self.slider.blockSignals(False)
        self.chosen_line.setValue(value)
        self._show_figures(value)

    def _show_figures(self, value: float | None = None) -> None:
        if not self._curve:
            return
        t = self.threshold() if value is None else value
        grid = self._curve["threshold"]
        at = {k: float(np.interp(t, grid, self._curve[k])) for k in ("precision", "recall", "f1")}
        saved = " (in use)" if self._saved is not None and abs(t - self._saved) < 0.005 else ""
        self.figures.setText(
            f"At {t:.2f}{saved}: precision {at['precision']:.3f}, recall {at['recall']:.3f}, macro F1 {at['f1']:.3f}"
        )

    @Slot(int)
    def _on_slider_value_changed(self, value: int) -> None:
        self.chosen_line.setValue(value / STEPS)
        self._show_figures()
        self.status.setText("")

    @Slot()
    def _on_tuned_clicked(self) -> None:
        if self._tuned is not None:
            self._set_slider(self._tuned)

    @Slot()
    def _on_save_clicked(self) -> None:
        if self._folder is None:
            return
        from studio.core.thresholds import set_threshold

        value = self.threshold()
        if self._tuned is not None and abs(value - self._tuned) < 0.005:
            value = self._tuned  # the slider's hundredths stand for the tuned value itself
        self.save_button.setEnabled(False)
        self._tasks.submit(
            set_threshold, self._folder, value, done=self._on_save_done, failed=self._on_save_failed, context=value
        )

    def _on_save_done(self, _result, value: float) -> None:
        self.save_button.setEnabled(True)
        self._saved = value
        self._show_figures()
        self.status.setText(
            f"Saved: the model in {self._folder} now decides at {value:.4f} (studio predict, the Inference tab and "
            "transformers.pipeline)."
        )
        self.threshold_saved.emit(value)

    def _on_save_failed(self, error: TaskError, _value: float) -> None:
        self.save_button.setEnabled(True)
        self.status.setText(error.message)


def _saved_threshold(folder: Path | None, default: float) -> float:
    """The threshold the folder's config.json says the model uses, else `default`."""
    from studio.core.thresholds import THRESHOLD_KEY

    if folder is None:
        return default
    try:
        value = json.loads((folder / "config.json").read_text(encoding="utf-8")).get(THRESHOLD_KEY)
    except (OSError, ValueError, AttributeError):
        return default
    return float(value) if isinstance(value, (int, float)) else default
