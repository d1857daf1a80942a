"""Live loss, score and learning-rate plots on pyqtgraph: persistent curves over growable arrays, redrawn from a
timer."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QObject, Qt, QTimer, Signal, Slot
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QHBoxLayout, QLabel, QSlider, QWidget

from studio.ui import formatting

REDRAW_MS = 150
# TensorBoard's default is 0.6 too: the trend shows, and a sudden rise still does within a few points.
DEFAULT_SMOOTHING = 0.6
X_MARGIN = 0.015  # of the run's steps, right of the last one

# Colours that stay apart for colour-blind readers (Okabe-Ito).
BLUE, ORANGE, GREEN, GREY, PURPLE = "#0072B2", "#E69F00", "#009E73", "#7f7f7f", "#CC79A7"

_configured = False


def configure_pyqtgraph() -> None:
    """Light plots that match the app's widgets; set once, before the first plot is made."""
    global _configured
    if not _configured:
        pg.setConfigOptions(antialias=True, background="w", foreground="#333333")
        _configured = True


class RateAxis(pg.AxisItem):
    """A y axis that writes learning rates as the form does: 5e-5, 0.0001, not 0.00005 or 5e-05."""

    def tickStrings(self, values, scale, spacing):
        return [formatting.learning_rate(v * scale) if abs(v) > 1e-15 else "0" for v in values]


def make_plot(
    object_name: str,
    title: str,
    y_label: str,
    x_label: str = "step",
    legend_offset: tuple[int, int] | None = (-8, 8),
    axis_items: dict | None = None,
) -> pg.PlotWidget:
    configure_pyqtgraph()
    plot = pg.PlotWidget(axisItems=axis_items)
    plot.setObjectName(object_name)
    plot.setTitle(title, size="10pt")
    plot.setLabel("left", y_label)
    plot.setLabel("bottom", x_label)
    plot.showGrid(x=True, y=True, alpha=0.15)
    for axis in ("left", "bottom"):
        plot.getAxis(axis).enableAutoSIPrefix(False)  # a loss of 0.35 reads as 0.35, not 350 (x0.001)
    plot.setMinimumHeight(160)
    # Thousands of loss points on a long run: draw the peaks of what is visible, not every point.
    plot.setDownsampling(auto=True, mode="peak")
    plot.setClipToView(True)
    if legend_offset is not None:
        # Negative offsets count from the right and the bottom.
        plot.addLegend(offset=legend_offset, labelTextSize="9pt", brush=pg.mkBrush(255, 255, 255, 200))
    return plot


class GrowingSeries:
    """(x, y) points in numpy arrays that double when full, so appending costs no copy most of the time."""

    def __init__(self, capacity: int = 256):
        self._data = np.empty((capacity, 2), dtype=float)
        self._n = 0
        self.changed = False

    def append(self, x: float, y: float) -> None:
        if self._n == len(self._data):
            bigger = np.empty((len(self._data) * 2, 2), dtype=float)
            bigger[: self._n] = self._data
            self._data = bigger
        self._data[self._n] = (x, y)
        self._n += 1
        self.changed = True

    def clear(self) -> None:
        self._n = 0
        self.changed = True

    def assign(self, x: np.ndarray, y: np.ndarray) -> None:
        """Replace every point at once (a curve computed again over the whole array)."""
        n = len(x)
        if n > len(self._data):
            self._data = np.empty((max(n, 2 * len(self._data)), 2), dtype=float)
        self._data[:n, 0] = x
        self._data[:n, 1] = y
        self._n = n
        self.changed = True

    def __len__(self) -> int:
        return self._n

    @property
    def x(self) -> np.ndarray:
        return self._data[: self._n, 0]

    @property
    def y(self) -> np.ndarray:
        return self._data[: self._n, 1]


def smooth(y: np.ndarray, weight: float) -> np.ndarray:
    """TensorBoard's smoothing: an exponential moving average with weight `weight`, debiased at the start.

    Point i is the average of the points up to i weighted by weight ** (i - k), so the first point is itself
    and not pulled towards zero. Points that are not finite (a NaN loss) get no weight; the curve carries on.
    """
    numerator, denominator = _ema_parts(np.asarray(y, dtype=float), weight)
    with np.errstate(invalid="ignore", divide="ignore"):
        return numerator / denominator


def _ema_parts(y: np.ndarray, weight: float) -> tuple[np.ndarray, np.ndarray]:
    """The running weighted sums of the finite points and of their weights, whose ratio is the average."""
    finite = np.isfinite(y)
    values, ones = np.where(finite, y, 0.0), finite.astype(float)
    if weight <= 0 or len(y) == 0:
        return values, ones
    if finite.all():
        # The usual case: the sum of the weights has a closed form, 1 + w + ... + w ** i.
        weights = (1 - weight ** np.arange(1, len(y) + 1, dtype=float)) / (1 - weight)
    else:
        weights = _decayed_sums(ones, weight)
    return _decayed_sums(values, weight), weights


def _decayed_sums(values: np.ndarray, weight: float) -> np.ndarray:
    """s[i] = sum over k <= i of weight ** (i - k) * values[k], in numpy blocks.

    Within a block s[b + j] = weight ** j * (cumsum(values / weight ** j) + carry); the block is short enough
    that weight ** -j cannot overflow, and the sum so far carries into the next block.
    """
    out = np.empty_like(values)
    # weight ** -block stays under 1e250, far from float64's 1e308 even times a large value.
    block = max(1, min(len(values), int(250 / -np.log10(weight))))
    powers = weight ** np.arange(block, dtype=float)
    carry = 0.0
    for start in range(0, len(values), block):
        chunk = values[start : start + block]
        p = powers[: len(chunk)]
        sums = p * (np.cumsum(chunk / p) + carry)
        out[start : start + len(chunk)] = sums
        carry = sums[-1] * weight
    return out


class _Curve:
    """A series and the persistent PlotDataItem that shows it."""

    def __init__(self, plot: pg.PlotWidget, name: str | None, color, symbol: str | None = None, width: float = 2):
        self.series = GrowingSeries()
        pen = pg.mkPen(color, width=width)
        options = {"symbol": symbol, "symbolSize": 7, "symbolBrush": color, "symbolPen": color} if symbol else {}
        self.item = plot.plot([], [], pen=pen, name=name, **options)
        self.item.setDownsampling(auto=True, method="peak")
        self.item.setClipToView(True)

    def redraw(self) -> None:
        if self.series.changed:
            self.series.changed = False
            # Copies: the item keeps the arrays it is given, and the buffer below them is reused.
            self.item.setData(self.series.x.copy(), self.series.y.copy())


class _SmoothedCurve(_Curve):
    """A noisy series drawn twice: faint as logged, and strong through an exponential moving average.

    `series` and `item` are the smoothed line that the legend names; `raw_item` is the faint one behind it.
    The average is kept up to date point by point (numerator and denominator of the debiased mean); a new
    weight recomputes it over the whole array at once.
    """

    def __init__(self, plot: pg.PlotWidget, name: str, color: str, weight: float):
        faint = QColor(color)
        faint.setAlpha(70)
        # Made first, so that it is drawn below the smoothed line; no name, so no second legend entry.
        self.raw_item = plot.plot([], [], pen=pg.mkPen(faint, width=1))
        self.raw_item.setDownsampling(auto=True, method="peak")
        self.raw_item.setClipToView(True)
        super().__init__(plot, name, color)
        self.smoothed = GrowingSeries()
        self.weight = weight
        self._numerator = self._denominator = 0.0

    def append(self, x: float, y: float) -> None:
        self.series.append(x, y)
        if np.isfinite(y):
            self._numerator = self._numerator * self.weight + y
            self._denominator = self._denominator * self.weight + 1.0
        else:
            self._numerator *= self.weight
            self._denominator *= self.weight
        self.smoothed.append(x, self._numerator / self._denominator if self._denominator else np.nan)

    def clear(self) -> None:
        self.series.clear()
        self.smoothed.clear()
        self._numerator = self._denominator = 0.0

    def set_weight(self, weight: float) -> None:
        """Smooth the whole curve again with a new weight (the control moved)."""
        self.weight = weight
        numerator, denominator = _ema_parts(self.series.y, weight)
        with np.errstate(invalid="ignore", divide="ignore"):
            self.smoothed.assign(self.series.x, numerator / denominator)
        # The running sums go on from here for the points still to come.
        self._numerator = float(numerator[-1]) if len(numerator) else 0.0
        self._denominator = float(denominator[-1]) if len(denominator) else 0.0

    def redraw(self) -> None:
        if self.series.changed:
            self.series.changed = False
            self.raw_item.setData(self.series.x.copy(), self.series.y.copy())
        if self.smoothed.changed:
            self.smoothed.changed = False
            self.item.setData(self.smoothed.x.copy(), self.smoothed.y.copy())


class SmoothingControl(QWidget):
    """A slider for the loss curve's smoothing weight, 0 (as logged) to 0.99, with its value beside it."""

    weight_changed = Signal(float)

    def __init__(self, weight: float = DEFAULT_SMOOTHING, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("smoothingControl")
        tip = (
            "Smooths the training loss with an exponential moving average, as TensorBoard does: 0 shows the "
            "loss as logged, 0.99 the slowest trend. The loss as logged stays faint behind the smoothed line."
        )
        self.setToolTip(tip)
        name = QLabel("Smoothing")
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setObjectName("smoothingSlider")
        self.slider.setRange(0, 99)
        self.slider.setPageStep(10)
        self.slider.setValue(round(weight * 100))
        self.slider.setToolTip(tip)
        self.value_label = QLabel()
        self.value_label.setObjectName("smoothingValue")
        # As wide as the widest value, so that the slider does not jump as the text changes.
        self.value_label.setMinimumWidth(self.value_label.fontMetrics().horizontalAdvance("0.00") + 4)
        self._show(self.slider.value())
        layout = QHBoxLayout(self)
        layout.setContentsMargins(8, 0, 8, 0)
        # Wide enough for fine steps with the mouse, when the page places it beside nothing else.
        self.slider.setMinimumWidth(180)
        layout.addWidget(name)
        layout.addWidget(self.slider, 1)
        layout.addWidget(self.value_label)
        self.slider.valueChanged.connect(self._on_slider_value_changed)

    def weight(self) -> float:
        return self.slider.value() / 100

    def _show(self, value: int) -> None:
        self.value_label.setText(f"{value / 100:.2f}")

    @Slot(int)
    def _on_slider_value_changed(self, value: int) -> None:
        self._show(value)
        self.weight_changed.emit(value / 100)


class LiveCurves(QObject):
    """The Train page's lossPlot, f1Plot (the task's main figure) and learningRatePlot; points arrive with the
    events, the timer draws them."""

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self.loss_plot = make_plot("lossPlot", "Loss", "loss")
        # Losses fall and scores rise: the legends go where the curves usually are not.
        self.f1_plot = make_plot("f1Plot", "Validation F1", "score", legend_offset=(-8, -8))
        self.f1_plot.setYRange(0, 1.02, padding=0)
        self.f1_plot.getPlotItem().enableAutoRange(axis="y", enable=False)
        # The head's rate as the schedule moves it (warm-up, decay); one curve, so no legend.
        self.lr_plot = make_plot(
            "learningRatePlot", "Learning rate", "rate", legend_offset=None, axis_items={"left": RateAxis("left")}
        )
        self.lr_plot.getAxis("left").enableAutoSIPrefix(False)
        # The plots show the same steps: panning or zooming one moves the others.
        self.f1_plot.setXLink(self.loss_plot)
        self.lr_plot.setXLink(self.loss_plot)
        self.smoothing = SmoothingControl()
        self.train_loss = _SmoothedCurve(self.loss_plot, "training loss", BLUE, self.smoothing.weight())
        self.validation_loss = _Curve(self.loss_plot, "validation loss", ORANGE, symbol="o")
        self.f1 = _Curve(self.f1_plot, "F1", GREEN, symbol="o")
        self.accuracy = _Curve(self.f1_plot, "accuracy", GREY, symbol="t")
        self.learning_rate = _Curve(self.lr_plot, None, PURPLE)
        self._curves = (self.train_loss, self.validation_loss, self.f1, self.accuracy, self.learning_rate)
        self.main_title = "F1"
        self._peak_rate = 0.0
        self.lr_plot.getPlotItem().enableAutoRange(axis="y", enable=False)
        self.lr_plot.setYRange(0, 1e-4, padding=0)
        self.has_accuracy = True
        self._timer = QTimer(self)
        self._timer.setInterval(REDRAW_MS)
        self._timer.timeout.connect(self._on_timer_timeout)
        self.smoothing.weight_changed.connect(self._on_smoothing_weight_changed)

    def set_task(self, main_title: str, has_accuracy: bool) -> None:
        """Title the score plot for the task's main figure; the accuracy curve only for a task that has one."""
        self.main_title, self.has_accuracy = main_title, has_accuracy
        # Short enough for a third of the page's width; the legend names the accuracy curve.
        title = f"Validation {main_title}"
        self.f1_plot.setTitle(title, size="10pt")
        legend = self.f1_plot.getPlotItem().legend
        if legend is not None:
            legend.clear()
            # The title says "validation": the legend stays short enough for a narrow plot.
            legend.addItem(self.f1.item, main_title)
            if has_accuracy:
                legend.addItem(self.accuracy.item, "accuracy")
        self.accuracy.item.setVisible(has_accuracy)
        # Scores from 0 to 1, until a figure that can fall below 0 (a correlation) does.
        self.f1_plot.setYRange(0, 1.02, padding=0)

    def start(self, total_steps: int | None = None) -> None:
        """Draw from now on; with the run's total steps, both plots span them from the first point on."""
        if total_steps:
            # Fixed rather than fitted to the points so far: one evaluation would otherwise be a
            # plot from 124.6 to 125.4, and the two plots would disagree until the end.
            self.loss_plot.getPlotItem().enableAutoRange(axis="x", enable=False)
            self.f1_plot.getPlotItem().enableAutoRange(axis="x", enable=False)
            self.lr_plot.getPlotItem().enableAutoRange(axis="x", enable=False)
            # A sliver past the last step, so that the final evaluation's marker is drawn whole.
            self.loss_plot.setXRange(0, total_steps * (1 + X_MARGIN), padding=0)
            self.loss_plot.getPlotItem().enableAutoRange(axis="y", enable=True)
        self._timer.start()

    def stop(self) -> None:
        self._timer.stop()
        self.redraw()

    def reset(self) -> None:
        self.train_loss.clear()
        self._peak_rate = 0.0
        for curve in self._curves[1:]:
            curve.series.clear()
        self.redraw()

    def add_loss(self, step: float, loss: float) -> None:
        self.train_loss.append(step, loss)

    def add_learning_rate(self, step: float, rate: float) -> None:
        """The head's learning rate at this step (LossLogged.learning_rate)."""
        self.learning_rate.series.append(step, rate)
        if np.isfinite(rate) and rate > self._peak_rate:
            # From 0 up, so that warm-up and decay read as the share of the peak they are.
            self._peak_rate = rate
            self.lr_plot.setYRange(0, rate * 1.08, padding=0)

    def add_evaluation(self, step: float, loss: float, main: float, accuracy: float = float("nan")) -> None:
        """One evaluation: the validation loss, the task's main figure and (where the task has it) accuracy."""
        self.validation_loss.series.append(step, loss)
        self.f1.series.append(step, main)
        if self.has_accuracy:
            self.accuracy.series.append(step, accuracy)
        if np.isfinite(main) and main < 0:
            low = self.f1_plot.getPlotItem().getViewBox().viewRange()[1][0]
            if main < low:
                self.f1_plot.setYRange(-1.02, 1.02, padding=0)

    def redraw(self) -> None:
        """Hand changed series to their curves; unchanged ones cost nothing."""
        for curve in self._curves:
            curve.redraw()

    @Slot()
    def _on_timer_timeout(self) -> None:
        self.redraw()

    @Slot(float)
    def _on_smoothing_weight_changed(self, weight: float) -> None:
        # At once, not on the timer: the timer runs only while training, and the slider should answer now.
        self.train_loss.set_weight(weight)
        self.train_loss.redraw()
