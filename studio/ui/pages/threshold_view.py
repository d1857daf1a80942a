"""ThresholdView: precision, recall and F1 against a decision threshold (binary or per label), and a slider."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QPushButton, QSlider, QVBoxLayout, QWidget

from studio.ui.plots import BLUE, GREEN, GREY, ORANGE, make_plot
from studio.ui.tasks import TaskError, TaskRunner

STEPS = 100  # the slider moves in hundredths


class ThresholdView(QWidget):
    """The threshold tuner of a binary model: the curves from metrics.json's `threshold_curve` (validation), the
    threshold in force (a line), the tuned one (a dashed line), and a slider; "Save threshold" writes the chosen
    one into the model folder (config.json, the head's bias, the card), where studio predict, the Inference tab
    and transformers.pipeline use it. For a multi-label model the same for one label at a time, chosen in a list:
    its curves from metrics.json's `label_curves`, its tuned threshold from `thresholds`.

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
        # Multi-label: every label's curve, tuned threshold and threshold in force (on the model's own scores).
        self._label_curves: dict[str, dict[str, np.ndarray]] = {}
        self._label_tuned: dict[str, float] = {}
        self._label_saved: dict[str, float] = {}

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

        self.label_box = QComboBox()
        self.label_box.setObjectName("thresholdLabel")
        self.label_box.setToolTip("The label whose threshold the curves and the slider show")
        self.label_box.currentTextChanged.connect(self._on_label_box_current_text_changed)
        self.label_title = QLabel("Label:")

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
        chooser = QHBoxLayout()
        chooser.addWidget(self.label_title)
        chooser.addWidget(self.label_box, 1)
        layout = QVBoxLayout(self)
        layout.addWidget(self.title)
        layout.addWidget(self.explain)
        layout.addLayout(chooser)
        layout.addWidget(self.plot, 1)
        layout.addWidget(self.slider)
        layout.addLayout(buttons)
        layout.addWidget(self.status)
        self.show_model(None, {})

    def show_model(self, model_dir: str | Path | None, metrics: dict) -> None:
        """Show the curves of a model folder's validation (metrics.json's figures) and the threshold it uses."""
        self._folder = Path(model_dir) if model_dir else None
        curve = metrics.get("threshold_curve") or {}
        label_curves = metrics.get("label_curves") or {}
        binary = self._folder is not None and bool(curve.get("threshold"))
        multi = not binary and self._folder is not None and bool(label_curves) and bool(metrics.get("thresholds"))
        self._label_curves = (
            {
                name: {k: np.asarray(v, dtype=np.float64) for k, v in c.items()}
                for name, c in label_curves.items()
                if c.get("threshold")
            }
            if multi
            else {}
        )
        multi = multi and bool(self._label_curves)
        usable = binary or multi
        for widget in (self.plot, self.slider, self.figures, self.tuned_button, self.save_button):
            widget.setVisible(usable)
        self.label_box.setVisible(multi)
        self.label_title.setVisible(multi)
        self.status.setText("")
        if multi:
            self._show_labels(metrics)
            return
        self._set_curve(curve if binary else {})
        self._set_f1_name("macro F1")
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

    def label(self) -> str | None:
        """The label whose threshold the view shows (multi-label), else None."""
        return (self.label_box.currentText() or None) if self._label_curves else None

    def _show_labels(self, metrics: dict) -> None:
        tuned = metrics.get("thresholds") or {}
        names = list(self._label_curves)
        self._label_tuned = {n: float(tuned.get(n, 0.5)) for n in names}
        self._label_saved = _saved_label_thresholds(self._folder, names, self._label_tuned)
        self._set_f1_name("F1")
        self.explain.setText(
            "The model predicts a label when that label's probability is at least its threshold. The curves are "
            "the chosen label's precision, recall and F1 on the validation rows; the dashed line is its threshold "
            "tuned for the best F1, the solid one the threshold the slider is at."
        )
        previous = self.label_box.currentText()
        self.label_box.blockSignals(True)
        self.label_box.clear()
        self.label_box.addItems(names)
        self.label_box.setCurrentIndex(names.index(previous) if previous in names else 0)
        self.label_box.blockSignals(False)
        self._show_label(self.label_box.currentText())

    def _show_label(self, name: str) -> None:
        if name not in self._label_curves:
            return
        self._curve = self._label_curves[name]
        for key, item in self._lines.items():
            item.setData(self._curve["threshold"], self._curve[key])
        self._tuned = self._label_tuned[name]
        self._saved = self._label_saved[name]
        self.tuned_line.setValue(self._tuned)
        self._set_slider(self._saved)
        self.status.setText("")

    def _set_curve(self, curve: dict) -> None:
        self._curve = {k: np.asarray(v, dtype=np.float64) for k, v in curve.items()} if curve else {}
        for name, item in self._lines.items():
            item.setData(self._curve.get("threshold", []), self._curve.get(name, []))

    def _set_f1_name(self, text: str) -> None:
        """Binary models plot the macro F1 of both classes, multi-label ones the chosen label's own F1."""
        legend = self.plot.getPlotItem().legend
        for sample, label in getattr(legend, "items", []):
            if sample.item is self._lines["f1"]:
                label.setText(text)

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
        label = self.label()
        if label and not saved and self._saved is not None:
            # Several labels, each with its own: say which one the model applies now.
            saved = f" (in use: {self._saved:.2f})"
        f1 = f"F1 of {label!r}" if label else "macro F1"
        self.figures.setText(
            f"At {t:.2f}{saved}: precision {at['precision']:.3f}, recall {at['recall']:.3f}, {f1} {at['f1']:.3f}"
        )

    @Slot(int)
    def _on_slider_value_changed(self, value: int) -> None:
        self.chosen_line.setValue(value / STEPS)
        self._show_figures()
        self.status.setText("")

    @Slot(str)
    def _on_label_box_current_text_changed(self, name: str) -> None:
        self._show_label(name)

    @Slot()
    def _on_tuned_clicked(self) -> None:
        if self._tuned is not None:
            self._set_slider(self._tuned)

    @Slot()
    def _on_save_clicked(self) -> None:
        if self._folder is None:
            return
        value = self.threshold()
        if self._tuned is not None and abs(value - self._tuned) < 0.005:
            value = self._tuned  # the slider's hundredths stand for the tuned value itself
        label = self.label()
        self.save_button.setEnabled(False)
        self.label_box.setEnabled(False)  # the answer belongs to this label
        if label is None:
            from studio.core.thresholds import set_threshold

            self._tasks.submit(
                set_threshold,
                self._folder,
                value,
                done=self._on_save_done,
                failed=self._on_save_failed,
                context=(None, value),
                libraries=True,
            )
        else:
            from studio.core.label_thresholds import set_label_threshold

            self._tasks.submit(
                set_label_threshold,
                self._folder,
                label,
                value,
                done=self._on_save_done,
                failed=self._on_save_failed,
                context=(label, value),
                libraries=True,
            )

    def _on_save_done(self, _result, context: tuple[str | None, float]) -> None:
        label, value = context
        self.save_button.setEnabled(True)
        self.label_box.setEnabled(True)
        if label is not None:
            self._label_saved[label] = value
        if label == self.label():  # not a label (or model) shown since the save began
            self._saved = value
        self._show_figures()
        what = "decides" if label is None else f"predicts {label!r}"
        self.status.setText(
            f"Saved: the model in {self._folder} now {what} at {value:.4f} (studio predict, the Inference tab and "
            "transformers.pipeline)."
        )
        self.threshold_saved.emit(value)

    def _on_save_failed(self, error: TaskError, _context: tuple[str | None, float]) -> None:
        self.save_button.setEnabled(True)
        self.label_box.setEnabled(True)
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


def _saved_label_thresholds(folder: Path | None, labels: list[str], default: dict[str, float]) -> dict[str, float]:
    """Each label's threshold (on the model's own probability) that the folder's config.json applies, else `default`."""
    from studio.core.label_thresholds import thresholds_in_force

    if folder is None:
        return dict(default)
    try:
        config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return dict(default)
    return thresholds_in_force(config, labels) if isinstance(config, dict) else dict(default)
