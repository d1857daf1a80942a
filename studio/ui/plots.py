"""Live loss and F1 plots on pyqtgraph: persistent curves over growable arrays, redrawn from a timer."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QObject, QTimer, Slot

REDRAW_MS = 150

# Colours that stay apart for colour-blind readers (Okabe-Ito).
BLUE, ORANGE, GREEN, GREY = "#0072B2", "#E69F00", "#009E73", "#7f7f7f"

_configured = False


def configure_pyqtgraph() -> None:
    """Light plots that match the app's widgets; set once, before the first plot is made."""
    global _configured
    if not _configured:
        pg.setConfigOptions(antialias=True, background="w", foreground="#333333")
        _configured = True


def make_plot(
    object_name: str, title: str, y_label: str, x_label: str = "step", legend_offset: tuple[int, int] = (-8, 8)
) -> pg.PlotWidget:
    configure_pyqtgraph()
    plot = pg.PlotWidget()
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

    def __len__(self) -> int:
        return self._n

    @property
    def x(self) -> np.ndarray:
        return self._data[: self._n, 0]

    @property
    def y(self) -> np.ndarray:
        return self._data[: self._n, 1]


class _Curve:
    """A series and the persistent PlotDataItem that shows it."""

    def __init__(self, plot: pg.PlotWidget, name: str, color: str, symbol: str | None = None):
        self.series = GrowingSeries()
        pen = pg.mkPen(color, width=2)
        options = {"symbol": symbol, "symbolSize": 7, "symbolBrush": color, "symbolPen": color} if symbol else {}
        self.item = plot.plot([], [], pen=pen, name=name, **options)
        self.item.setDownsampling(auto=True, method="peak")
        self.item.setClipToView(True)

    def redraw(self) -> None:
        if self.series.changed:
            self.series.changed = False
            # Copies: the item keeps the arrays it is given, and the buffer below them is reused.
            self.item.setData(self.series.x.copy(), self.series.y.copy())


class LiveCurves(QObject):
    """The Train page's lossPlot and f1Plot; points arrive with the events, the timer draws them."""

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self.loss_plot = make_plot("lossPlot", "Loss", "loss")
        # Losses fall and scores rise: the legends go where the curves usually are not.
        self.f1_plot = make_plot("f1Plot", "Validation F1 and accuracy", "score", legend_offset=(-8, -8))
        self.f1_plot.setYRange(0, 1.02, padding=0)
        self.f1_plot.getPlotItem().enableAutoRange(axis="y", enable=False)
        self.train_loss = _Curve(self.loss_plot, "training loss", BLUE)
        self.validation_loss = _Curve(self.loss_plot, "validation loss", ORANGE, symbol="o")
        self.f1 = _Curve(self.f1_plot, "validation F1", GREEN, symbol="o")
        self.accuracy = _Curve(self.f1_plot, "validation accuracy", GREY, symbol="t")
        self._curves = (self.train_loss, self.validation_loss, self.f1, self.accuracy)
        self._timer = QTimer(self)
        self._timer.setInterval(REDRAW_MS)
        self._timer.timeout.connect(self._on_timer_timeout)

    def start(self) -> None:
        self._timer.start()

    def stop(self) -> None:
        self._timer.stop()
        self.redraw()

    def reset(self) -> None:
        for curve in self._curves:
            curve.series.clear()
        self.redraw()

    def add_loss(self, step: float, loss: float) -> None:
        self.train_loss.series.append(step, loss)

    def add_evaluation(self, step: float, loss: float, f1: float, accuracy: float) -> None:
        self.validation_loss.series.append(step, loss)
        self.f1.series.append(step, f1)
        self.accuracy.series.append(step, accuracy)

    def redraw(self) -> None:
        """Hand changed series to their curves; unchanged ones cost nothing."""
        for curve in self._curves:
            curve.redraw()

    @Slot()
    def _on_timer_timeout(self) -> None:
        self.redraw()
