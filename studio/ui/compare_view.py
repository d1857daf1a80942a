"""CompareView: two or more runs' loss and score curves overlaid, their final figures, their settings side by side."""

from __future__ import annotations

import pyqtgraph as pg
from PySide6.QtCore import Qt, Slot
from PySide6.QtGui import QBrush, QColor, QFont
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from studio.core.compare import Comparison, figure_text
from studio.ui.plots import make_plot

# One colour per run, apart for colour-blind readers (Okabe-Ito), as the report's charts.
RUN_COLOURS = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#D55E00", "#56B4E9", "#7f7f7f", "#F0E442")
DIFFERS = QColor("#fff1c2")  # a setting in which the runs differ
BEST = QColor("#d3f0e4")  # the best value of a figure


class CompareView(QWidget):
    """Shows a Comparison; a window of its own, opened from the Runs list."""

    def __init__(self, comparison: Comparison, parent: QWidget | None = None):
        super().__init__(parent, Qt.WindowType.Window)
        self.setObjectName("compareView")
        self.comparison = comparison
        names = [run.name for run in comparison.runs]
        self.setWindowTitle(f"Compare {len(names)} runs")
        self.loss_plot = make_plot("compareLossPlot", "Training loss (dashed: validation)", "loss")
        self.metric_plot = make_plot("compareMetricPlot", "Validation score", _metric_title(comparison))
        self.metric_plot.setXLink(self.loss_plot)
        labels = legend_labels(comparison)
        for i, run in enumerate(comparison.runs):
            colour = RUN_COLOURS[i % len(RUN_COLOURS)]
            c = run.curves
            self.loss_plot.plot(
                list(c.loss.steps), list(c.loss.values), pen=pg.mkPen(colour, width=1.6), name=labels[i]
            )
            if len(c.validation_loss):
                # Dashed and unnamed: the legend keeps one entry per run.
                self.loss_plot.plot(
                    list(c.validation_loss.steps),
                    list(c.validation_loss.values),
                    pen=pg.mkPen(colour, width=1.4, style=Qt.PenStyle.DashLine),
                )
            self.metric_plot.plot(
                list(c.metric.steps),
                list(c.metric.values),
                pen=pg.mkPen(colour, width=1.8),
                symbol="o",
                symbolSize=5,
                symbolBrush=colour,
                symbolPen=None,
                name=labels[i],
            )
        scores = [v for run in comparison.runs for v in run.curves.metric.values]
        if scores and min(scores) >= 0 and max(scores) <= 1:
            # A score between 0 and 1 (F1, accuracy) on its whole scale: a flat line reads as flat, not as noise.
            self.metric_plot.setYRange(0, 1.02, padding=0)

        self.figures = QTableWidget()
        self.figures.setObjectName("compareFigures")
        self._fill_figures(names)
        self.settings = QTableWidget()
        self.settings.setObjectName("compareSettings")
        self.only_differences = QCheckBox("Only the settings that differ")
        self.only_differences.setObjectName("onlyDifferences")
        self._fill_settings(names)
        differing = comparison.differing
        self.summary = QLabel(
            f"The runs differ in {len(differing)} setting{'s' if len(differing) != 1 else ''}: " + ", ".join(differing)
            if differing
            else "The runs have the same settings."
        )
        self.summary.setObjectName("compareSummary")
        self.summary.setWordWrap(True)
        notes = QLabel("\n".join(comparison.notes))
        notes.setVisible(bool(comparison.notes))
        notes.setStyleSheet("QLabel { color: #a04b00; }")

        plots = QHBoxLayout()
        plots.addWidget(self.loss_plot)
        plots.addWidget(self.metric_plot)
        top = QWidget()
        top_layout = QVBoxLayout(top)
        top_layout.setContentsMargins(0, 0, 0, 0)
        top_layout.addLayout(plots)
        top_layout.addWidget(self.summary)
        top_layout.addWidget(notes)
        tables = QSplitter(Qt.Orientation.Horizontal)
        figures_box, settings_box = QWidget(), QWidget()
        figures_layout = QVBoxLayout(figures_box)
        figures_layout.setContentsMargins(0, 0, 0, 0)
        figures_layout.addWidget(_bold("Final figures (best in green)"))
        figures_layout.addWidget(self.figures)
        settings_layout = QVBoxLayout(settings_box)
        settings_layout.setContentsMargins(0, 0, 0, 0)
        settings_layout.addWidget(_bold("Settings (differences highlighted)"))
        settings_layout.addWidget(self.settings)
        settings_layout.addWidget(self.only_differences)
        tables.addWidget(figures_box)
        tables.addWidget(settings_box)
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(top)
        split.addWidget(tables)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 2)
        layout = QVBoxLayout(self)
        layout.addWidget(split)
        self.only_differences.toggled.connect(self._on_only_differences_toggled)
        self.resize(1400, 900)

    def curve_counts(self) -> tuple[int, int]:
        """How many runs each plot draws (solid lines with a legend entry): for tests and the status line."""
        return (
            sum(1 for item in self.loss_plot.listDataItems() if item.name()),
            sum(1 for item in self.metric_plot.listDataItems() if item.name()),
        )

    def _fill_figures(self, names: list[str]) -> None:
        table = self.figures
        rows = self.comparison.figures
        table.setRowCount(len(rows))
        table.setColumnCount(len(names))
        table.setHorizontalHeaderLabels(names)
        table.setVerticalHeaderLabels([row.title for row in rows])
        for r, row in enumerate(rows):
            for c, value in enumerate(row.values):
                item = QTableWidgetItem(figure_text(row.key, value))
                item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                if row.best == c:
                    item.setBackground(QBrush(BEST))
                    item.setToolTip("the best of these runs")
                table.setItem(r, c, item)
        _read_only(table)

    def _fill_settings(self, names: list[str]) -> None:
        table = self.settings
        rows = self.comparison.settings
        table.setRowCount(len(rows))
        table.setColumnCount(len(names))
        table.setHorizontalHeaderLabels(names)
        table.setVerticalHeaderLabels([("* " if row.differs else "") + row.name for row in rows])
        for r, row in enumerate(rows):
            for c, value in enumerate(row.values):
                item = QTableWidgetItem(value)
                item.setToolTip(value)
                if row.differs:
                    item.setBackground(QBrush(DIFFERS))
                    font = item.font()
                    font.setBold(True)
                    item.setFont(font)
                table.setItem(r, c, item)
        _read_only(table)

    def differing_rows(self) -> list[str]:
        """The settings shown highlighted, as the table shows them."""
        shown = []
        for r, row in enumerate(self.comparison.settings):
            item = self.settings.item(r, 0)
            if item is not None and item.background().color() == DIFFERS:
                shown.append(row.name)
        return shown

    @Slot(bool)
    def _on_only_differences_toggled(self, only: bool) -> None:
        for r, row in enumerate(self.comparison.settings):
            self.settings.setRowHidden(r, only and not row.differs)


def legend_labels(comparison: Comparison) -> list[str]:
    """Each run's name with what sets it apart: `20261130-171341-small (learning_rate 0.002)`."""
    differing = [row for row in comparison.settings if row.differs][:2]
    labels = []
    for i, run in enumerate(comparison.runs):
        what = ", ".join(f"{row.name} {row.values[i]}" for row in differing)
        labels.append(f"{run.name} ({what})" if what else run.name)
    return labels


def _metric_title(comparison: Comparison) -> str:
    titles = dict.fromkeys(run.curves.metric_title for run in comparison.runs)
    return " / ".join(titles) or "score"


def _bold(text: str) -> QLabel:
    label = QLabel(text)
    font = QFont(label.font())
    font.setBold(True)
    label.setFont(font)
    return label


def _read_only(table: QTableWidget) -> None:
    table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
    table.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
