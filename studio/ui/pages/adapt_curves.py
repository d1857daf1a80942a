"""AdaptCurves: an adaptation's live masked-LM loss and held-out perplexity, redrawn from a timer."""

from __future__ import annotations

import math

import pyqtgraph as pg
from PySide6.QtCore import QObject, QTimer, Slot

from studio.ui.plots import BLUE, ORANGE, PURPLE, REDRAW_MS, GrowingSeries, configure_pyqtgraph, make_plot


class PerplexityAxis(pg.AxisItem):
    """A log-scale axis written in plain numbers (30,000, 2,000, 50): the decades, and 2 and 5 times them when the
    view spans few decades."""

    def tickValues(self, minVal, maxVal, size):
        """pyqtgraph's log axis ticks only the decades and their 2..9 multiples: a view inside one of those steps
        (2,095 to 2,555) would have no number on it. There, round numbers a quarter of the span apart."""
        low, high = sorted((minVal, maxVal))
        if not self.logMode or high - low > 0.3 or not math.isfinite(low + high):
            return super().tickValues(minVal, maxVal, size)
        bottom, top = 10**low, 10**high
        rough = (top - bottom) / 4
        step = 10 ** math.floor(math.log10(rough)) if rough > 0 else 1.0
        step *= next((m for m in (1, 2, 5, 10) if step * m >= rough), 10)
        first = math.ceil(bottom / step) * step
        count = int((top - first) / step) + 1 if top >= first else 0
        return [(step, [math.log10(first + i * step) for i in range(count) if first + i * step > 0])]

    def logTickStrings(self, values, scale, spacing):
        low, high = sorted(self.range)
        strings = []
        for v in values:
            mantissa = round(10 ** (v - math.floor(v + 1e-9)), 1)
            shown = mantissa == 1 or (high - low < 2.5 and mantissa in (2, 5)) or high - low < 0.8
            digits = 4 if high - low <= 0.3 else 2  # the round numbers of a narrow view (tickValues) kept whole
            strings.append(perplexity_text(float(f"{10**v * scale:.{digits}g}")) if shown else "")
        return strings


class AdaptCurves(QObject):
    """The loss plot (training loss, held-out loss) and the perplexity plot (log scale: a fresh head starts in the
    tens of thousands); points arrive with the events, the timer draws them."""

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        configure_pyqtgraph()  # before the axes are made, so that they take its colours
        self.loss_plot = make_plot("adaptLossPlot", "Masked-LM loss", "loss")
        self.perplexity_plot = make_plot(
            "adaptPerplexityPlot",
            "Held-out perplexity",
            "perplexity",
            legend_offset=None,
            axis_items={"left": PerplexityAxis("left")},
        )
        self.perplexity_plot.setLogMode(x=False, y=True)
        self.loss = GrowingSeries()
        self.heldout = GrowingSeries()
        self.perplexity = GrowingSeries()
        train_item = self.loss_plot.plot([], [], pen=pg.mkPen(BLUE, width=2), name="training")
        heldout_item = self.loss_plot.plot(
            [], [], pen=pg.mkPen(ORANGE, width=1.5), symbol="o", symbolSize=7, symbolBrush=ORANGE, name="held out"
        )
        perplexity_item = self.perplexity_plot.plot(
            [], [], pen=pg.mkPen(PURPLE, width=1.5), symbol="o", symbolSize=7, symbolBrush=PURPLE
        )
        self._items = ((self.loss, train_item), (self.heldout, heldout_item), (self.perplexity, perplexity_item))
        self._timer = QTimer(self)
        self._timer.setInterval(REDRAW_MS)
        self._timer.timeout.connect(self._on_timer_timeout)

    def clear(self) -> None:
        for series, _item in self._items:
            series.clear()
        self.redraw()

    def start(self) -> None:
        self._timer.start()

    def stop(self) -> None:
        self._timer.stop()
        self.redraw()

    def set_total_steps(self, total_steps: int) -> None:
        for plot in (self.loss_plot, self.perplexity_plot):
            plot.setXRange(0, total_steps * 1.015, padding=0)

    def add_perplexity(self, step: int, loss: float, perplexity: float) -> None:
        if math.isfinite(loss):
            self.heldout.append(step, loss)
        if math.isfinite(perplexity):
            self.perplexity.append(step, perplexity)

    def counts(self) -> dict[str, int]:
        return {"loss": len(self.loss), "heldout": len(self.heldout), "perplexity": len(self.perplexity)}

    def redraw(self) -> None:
        for series, item in self._items:
            if series.changed:
                series.changed = False
                item.setData(series.x.copy(), series.y.copy())

    @Slot()
    def _on_timer_timeout(self) -> None:
        self.redraw()


def perplexity_text(value) -> str:
    if not isinstance(value, (int, float)) or not math.isfinite(value):
        return "–"
    if value >= 1000:
        return f"{value:,.0f}"
    return f"{value:,.1f}" if value >= 10 else f"{value:.2f}"
