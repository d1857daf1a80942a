"""Static charts on pyqtgraph: the label distribution and per-label scores as bars, the confusion matrix as a heatmap,
and a regression's predictions against the true values."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPoint, QPointF, Qt, Signal, Slot
from PySide6.QtGui import QColor, QFont, QFontMetrics
from PySide6.QtWidgets import QGraphicsRectItem

from studio.ui.plots import BLUE, GREEN, GREY, ORANGE, configure_pyqtgraph

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
    """How many rows each label has (or any named counts: entity types, a histogram's bins), as horizontal bars
    with the counts at their ends."""

    def __init__(self, parent=None, title: str = "Rows per label", x_label: str = "rows"):
        configure_pyqtgraph()
        super().__init__(parent)
        self.setObjectName("labelDistribution")
        self._title = title
        self.setTitle(title, size="10pt")
        _still(self)
        self.getViewBox().invertY(True)
        self.setLabel("bottom", x_label)
        self.getAxis("bottom").enableAutoSIPrefix(False)
        self._items: list = []

    def title(self) -> str:
        """The title shown above the bars."""
        return str(self.getPlotItem().titleLabel.text)

    def show_distribution(self, distribution) -> None:
        """A task's Distribution: bars in its order (a histogram's bins stay in value order), its title."""
        self._title = distribution.title
        histogram = distribution.kind == "histogram"
        self.setLabel("bottom", "rows")
        self.show_counts(list(distribution.bars), keep_order=histogram, height=0.92 if histogram else 0.7)

    def show_counts(self, pairs: list[tuple[str, int]], keep_order: bool = False, height: float = 0.7) -> None:
        for item in self._items:
            self.removeItem(item)
        self._items = []
        shown = list(pairs)
        if len(pairs) > MAX_BARS:
            # A histogram's bins stay in value order (the first ones); labels, the most frequent.
            shown = shown[:MAX_BARS] if keep_order else sorted(pairs, key=lambda p: -p[1])[:MAX_BARS]
        self.setTitle(
            self._title
            if len(shown) == len(pairs)
            else f"{self._title} (the {len(shown)} most frequent of {len(pairs)})",
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
            x0=np.zeros(len(shown)), y=ys, width=counts, height=height, brush=pg.mkBrush(BLUE), pen=pg.mkPen(None)
        )
        self.addItem(bars)
        self._items.append(bars)
        for y, c in zip(ys, counts, strict=False):
            text = pg.TextItem(f"{int(c):,}", color="#333333", anchor=(0, 0.5))
            text.setPos(c, y)
            self.addItem(text)
            self._items.append(text)
        self.getAxis("left").setTicks([[(float(i), _short(name)) for i, (name, _) in enumerate(shown)]])
        self.setXRange(0, max(counts.max(), 1) * 1.18, padding=0)
        self.setYRange(-0.6, len(shown) - 0.4, padding=0)


class ScoreBars(pg.PlotWidget):
    """A score from 0 to 1 per name (each label's F1), as horizontal bars, highest first, the value at each end."""

    def __init__(self, object_name: str, title: str, parent=None):
        configure_pyqtgraph()
        super().__init__(parent)
        self.setObjectName(object_name)
        self._title = title
        self.setTitle(title, size="10pt")
        _still(self)
        self.getViewBox().invertY(True)
        self.getAxis("bottom").enableAutoSIPrefix(False)
        self._items: list = []

    def show_scores(self, pairs: list[tuple[str, float]]) -> None:
        for item in self._items:
            self.removeItem(item)
        self._items = []
        finite = [(name, float(v)) for name, v in pairs if isinstance(v, (int, float)) and np.isfinite(v)]
        shown = sorted(finite, key=lambda p: -p[1])[:MAX_BARS]
        self.setTitle(
            self._title if len(shown) == len(pairs) else f"{self._title} (the best {len(shown)} of {len(pairs)})",
            size="10pt",
        )
        for axis in ("left", "bottom"):
            self.getPlotItem().showAxis(axis, bool(shown))
        if not shown:
            return
        scores = np.array([v for _, v in shown], dtype=float)
        ys = np.arange(len(shown), dtype=float)
        bars = pg.BarGraphItem(
            x0=np.zeros(len(shown)), y=ys, width=scores, height=0.7, brush=pg.mkBrush(GREEN), pen=pg.mkPen(None)
        )
        self.addItem(bars)
        self._items.append(bars)
        for y, v in zip(ys, scores, strict=False):
            text = pg.TextItem(f"{v:.2f}", color="#333333", anchor=(0, 0.5))
            text.setPos(v, y)
            self.addItem(text)
            self._items.append(text)
        self.getAxis("left").setTicks([[(float(i), _short(name)) for i, (name, _) in enumerate(shown)]])
        self.setXRange(0, 1.15, padding=0)
        self.setYRange(-0.6, len(shown) - 0.4, padding=0)


class RegressionScatter(pg.PlotWidget):
    """Each validation row's predicted value against its true one, with the line where they would be equal."""

    def __init__(self, parent=None):
        configure_pyqtgraph()
        super().__init__(parent)
        self.setObjectName("regressionScatter")
        self.setTitle("Predicted against true values (validation rows)", size="10pt")
        self.setMenuEnabled(False)
        self.hideButtons()
        self.setLabel("bottom", "true value")
        self.setLabel("left", "predicted value")
        self.showGrid(x=True, y=True, alpha=0.15)
        for axis in ("left", "bottom"):
            self.getAxis(axis).enableAutoSIPrefix(False)
        # The line first, so that the points are drawn over it.
        self.diagonal = pg.PlotDataItem([], [], pen=pg.mkPen(GREY, width=1.5, style=Qt.PenStyle.DashLine))
        self.addItem(self.diagonal)
        faint = QColor(BLUE)
        faint.setAlpha(110)
        self.points = pg.ScatterPlotItem(size=6, pen=pg.mkPen(None), brush=pg.mkBrush(faint))
        self.addItem(self.points)

    def show_points(self, true, predicted) -> None:
        x = np.asarray(true, dtype=float)
        y = np.asarray(predicted, dtype=float)
        n = min(len(x), len(y))
        x, y = x[:n], y[:n]
        keep = np.isfinite(x) & np.isfinite(y)
        x, y = x[keep], y[keep]
        self.points.setData(x=x, y=y)
        if not len(x):
            self.diagonal.setData([], [])
            self.setTitle("Predicted against true values (no validation rows)", size="10pt")
            return
        self.setTitle(f"Predicted against true values ({len(x):,} validation rows)", size="10pt")
        low = float(min(x.min(), y.min()))
        high = float(max(x.max(), y.max()))
        margin = (high - low) * 0.04 or 1.0
        low, high = low - margin, high + margin
        self.diagonal.setData([low, high], [low, high])
        self.setXRange(low, high, padding=0)
        self.setYRange(low, high, padding=0)


class ConfusionHeatmap(pg.PlotWidget):
    """Rows are the true labels, columns the predicted ones; colour is the share of the row, text the count.
    Clicking a cell emits cell_clicked(true, predicted) and outlines it."""

    cell_clicked = Signal(int, int)  # (true label's index, predicted label's index)

    def __init__(self, parent=None):
        configure_pyqtgraph()
        super().__init__(parent)
        self.setObjectName("confusionMatrix")
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
        self._size = 0
        self.outline = QGraphicsRectItem(0, 0, 1, 1)
        self.outline.setPen(pg.mkPen(ORANGE, width=3))
        self.outline.setZValue(10)
        self.outline.setVisible(False)
        self.addItem(self.outline)
        self.scene().sigMouseClicked.connect(self._on_scene_clicked)
        self.setToolTip("Click a cell to list its validation rows")
        self._show_axes(False)

    def _show_axes(self, shown: bool) -> None:
        # Without a matrix the axes would count an empty view from -500 to 500: no scale until there are labels.
        for name in ("left", "bottom"):
            self.showAxis(name, shown)
        self.setTitle("Confusion matrix (validation rows)" if shown else "Confusion matrix (none yet)", size="10pt")

    def cell_at(self, scene_pos) -> tuple[int, int] | None:
        """The (true, predicted) cell under a point of the scene, None outside the matrix."""
        point = self.getViewBox().mapSceneToView(scene_pos)
        row, column = int(np.floor(point.y())), int(np.floor(point.x()))
        if 0 <= row < self._size and 0 <= column < self._size:
            return row, column
        return None

    def cell_center(self, row: int, column: int) -> QPoint:
        """Where the middle of a cell is on the widget (what a click on it hits)."""
        scene = self.getViewBox().mapViewToScene(QPointF(column + 0.5, row + 0.5))
        return self.mapFromScene(scene)

    def select_cell(self, row: int, column: int) -> None:
        self.outline.setRect(column, row, 1, 1)
        self.outline.setVisible(True)

    @Slot(object)
    def _on_scene_clicked(self, event) -> None:
        if event.button() != Qt.MouseButton.LeftButton:
            return
        cell = self.cell_at(event.scenePos())
        if cell is not None:
            self.select_cell(*cell)
            self.cell_clicked.emit(*cell)

    def show_matrix(self, labels: list[str], matrix) -> None:
        for text in self._texts:
            self.removeItem(text)
        self._texts = []
        counts = np.asarray(matrix, dtype=float)
        n = len(labels)
        self.outline.setVisible(False)
        if counts.shape != (n, n) or n == 0:
            self._size = 0
            self.image.clear()
            self._show_axes(False)
            return
        self._size = n
        self._show_axes(True)
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


class ErrorHistogram(pg.PlotWidget):
    """How far the predictions fall from the true values: a histogram of predicted minus true."""

    BINS = 30

    def __init__(self, parent=None):
        configure_pyqtgraph()
        super().__init__(parent)
        self.setObjectName("errorHistogram")
        self.setTitle("Errors: predicted minus true", size="10pt")
        _still(self)
        self.setLabel("bottom", "predicted - true")
        self.setLabel("left", "rows")
        for axis in ("left", "bottom"):
            self.getAxis(axis).enableAutoSIPrefix(False)
        self.bars = pg.BarGraphItem(x=[], height=[], width=1, brush=pg.mkBrush(ORANGE), pen=pg.mkPen("w", width=0.5))
        self.addItem(self.bars)
        self.zero = pg.InfiniteLine(pos=0, angle=90, pen=pg.mkPen(GREY, width=1.5, style=Qt.PenStyle.DashLine))
        self.addItem(self.zero)

    def show_errors(self, true, predicted) -> None:
        x = np.asarray(true, dtype=float)
        y = np.asarray(predicted, dtype=float)
        n = min(len(x), len(y))
        errors = y[:n] - x[:n]
        errors = errors[np.isfinite(errors)]
        if not len(errors):
            self.bars.setOpts(x=[], height=[], width=1)
            return
        reach = float(np.abs(errors).max()) or 1.0
        counts, edges = np.histogram(errors, bins=self.BINS, range=(-reach, reach))
        width = edges[1] - edges[0]
        self.bars.setOpts(x=(edges[:-1] + edges[1:]) / 2, height=counts, width=width)
        self.setXRange(-reach * 1.05, reach * 1.05, padding=0)
        self.setYRange(0, max(int(counts.max()), 1) * 1.08, padding=0)
