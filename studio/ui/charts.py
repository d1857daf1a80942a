"""Static charts on pyqtgraph: the label distribution as bars and the confusion matrix as a heatmap."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Slot
from PySide6.QtGui import QColor, QFont, QFontMetrics

from studio.ui.plots import BLUE, configure_pyqtgraph

MAX_BARS = 40  # more labels than this: show the most frequent ones and say so
MAX_ANNOTATED = 25  # a bigger confusion matrix gets colours without numbers, which would not fit
LABEL_CHARS = 22


def _short(text: str) -> str:
    return text if len(text) <= LABEL_CHARS else text[: LABEL_CHARS - 1] + "…"


def _still(plot: pg.PlotWidget) -> None:
    """A chart to read, not to explore: no panning, zooming, context menu or auto-range button."""
    plot.setMouseEnabled(x=False, y=False)
    plot.setMenuEnabled(False)
    plot.hideButtons()


class LabelBars(pg.PlotWidget):
    """How many rows each label has, as horizontal bars with the counts at their ends."""

    def __init__(self, parent=None):
        configure_pyqtgraph()
        super().__init__(parent)
        self.setObjectName("labelDistribution")
        self.setTitle("Rows per label", size="10pt")
        _still(self)
        self.getViewBox().invertY(True)
        self.setLabel("bottom", "rows")
        self.getAxis("bottom").enableAutoSIPrefix(False)
        self._items = []

    def show_counts(self, pairs: list[tuple[str, int]]) -> None:
        for item in self._items:
            self.removeItem(item)
        self._items = []
        shown = sorted(pairs, key=lambda p: -p[1])[:MAX_BARS] if len(pairs) > MAX_BARS else list(pairs)
        self.setTitle(
            "Rows per label"
            if len(shown) == len(pairs)
            else f"Rows per label (the {len(shown)} most frequent of {len(pairs)})",
            size="10pt",
        )
        # With nothing to show, no axes either: numbers without bars would look like data.
        for axis in ("left", "bottom"):
            self.getPlotItem().showAxis(axis, bool(shown))
        if not shown:
            return
        counts = np.array([c for _, c in shown], dtype=float)
        ys = np.arange(len(shown), dtype=float)
        bars = pg.BarGraphItem(
            x0=np.zeros(len(shown)), y=ys, width=counts, height=0.7, brush=pg.mkBrush(BLUE), pen=pg.mkPen(None)
        )
        self.addItem(bars)
        self._items.append(bars)
        for y, c in zip(ys, counts, strict=False):
            text = pg.TextItem(f"{int(c):,}", color="#333333", anchor=(0, 0.5))
            text.setPos(c, y)
            self.addItem(text)
            self._items.append(text)
        self.getAxis("left").setTicks([[(float(i), _short(name)) for i, (name, _) in enumerate(shown)]])
        self.setXRange(0, counts.max() * 1.18, padding=0)
        self.setYRange(-0.6, len(shown) - 0.4, padding=0)


class ConfusionHeatmap(pg.PlotWidget):
    """Rows are the true labels, columns the predicted ones; colour is the share of the row, text the count."""

    def __init__(self, parent=None):
        configure_pyqtgraph()
        super().__init__(parent)
        self.setObjectName("confusionMatrix")
        self.setTitle("Confusion matrix (validation rows)", size="10pt")
        _still(self)
        self.setLabel("left", "true label")
        self.setLabel("bottom", "predicted label")
        self.getViewBox().invertY(True)
        self.getViewBox().setAspectLocked(False)
        self.image = pg.ImageItem(axisOrder="row-major")
        self.image.setColorMap(pg.ColorMap(pos=[0.0, 1.0], color=[(247, 251, 255), (8, 48, 107)]))
        self.addItem(self.image)
        self._texts = []
        self._labels: list[str] = []
        # Whether the column names fit under their columns depends on the width: decided again on each resize.
        self.getViewBox().sigResized.connect(self._on_view_resized)

    def show_matrix(self, labels: list[str], matrix) -> None:
        for text in self._texts:
            self.removeItem(text)
        self._texts = []
        counts = np.asarray(matrix, dtype=float)
        n = len(labels)
        if counts.shape != (n, n) or n == 0:
            self.image.clear()
            return
        totals = counts.sum(axis=1, keepdims=True)
        shares = np.divide(counts, totals, out=np.zeros_like(counts), where=totals > 0)
        self.image.setImage(shares, levels=(0.0, 1.0), autoLevels=False)
        self.image.setRect(0, 0, n, n)
        if n <= MAX_ANNOTATED:
            font = QFont()
            font.setPointSize(10 if n <= 8 else 8)
            for r in range(n):
                for c in range(n):
                    color = QColor("white") if shares[r, c] > 0.55 else QColor("#222222")
                    text = pg.TextItem(f"{int(counts[r, c]):,}", color=color, anchor=(0.5, 0.5))
                    text.setFont(font)
                    text.setPos(c + 0.5, r + 0.5)
                    self.addItem(text)
                    self._texts.append(text)
        self._labels = list(labels)
        self._set_ticks()
        self.setXRange(0, n, padding=0)
        self.setYRange(0, n, padding=0)

    def _set_ticks(self) -> None:
        names = [_short(name) for name in self._labels]
        if not names:
            return
        bottom = self.getAxis("bottom")
        cell = self.getViewBox().width() / len(names)
        widest = max(QFontMetrics(bottom.font()).horizontalAdvance(name) for name in names)
        if widest + 6 <= cell:
            columns = [(i + 0.5, name) for i, name in enumerate(names)]
            rows = columns
        else:
            # The names would run into each other under narrow columns: number the columns, and name each
            # number once on the rows ("3 · sadness"), as printed confusion matrices do.
            columns = [(i + 0.5, str(i + 1)) for i in range(len(names))]
            rows = [(i + 0.5, f"{i + 1} · {name}") for i, name in enumerate(names)]
        bottom.setTicks([columns])
        self.getAxis("left").setTicks([rows])

    @Slot(object)
    def _on_view_resized(self, view) -> None:
        self._set_ticks()
