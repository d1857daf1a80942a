"""TrialsView: a search's trials as a table, its figure per trial and against the learning rate, and the best."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
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

from studio.ui import formatting
from studio.ui.pages.search_space_editor import LABELS
from studio.ui.plots import BLUE, GREEN, GREY, ORANGE, configure_pyqtgraph, make_plot
from studio.ui.widgets import MessageLabel

COLUMNS = ("Trial", "Settings", "State", "Metric", "Run")
STATE_COLOURS = {"complete": GREEN, "pruned": ORANGE, "failed": "#b00020", "stopped": GREY, "running": BLUE}
NO_BEST = "The best trial appears here once one has finished."


class LogRateAxis(pg.AxisItem):
    """A log-scale axis of learning rates written as the form writes them (1e-4, 0.001): the decades, and the
    steps between them as the view narrows (2 and 5 times a decade, then every step)."""

    def logTickStrings(self, values, scale, spacing):
        low, high = sorted(self.range)
        span = high - low
        strings = []
        for v in values:
            mantissa = round(10 ** (v - math.floor(v + 1e-9)), 1)
            shown = mantissa == 1 or (span < 2.5 and mantissa in (2, 5)) or span < 0.8
            strings.append(formatting.learning_rate(float(f"{10**v * scale:.2g}")) if shown else "")
        return strings


class TrialAxis(pg.AxisItem):
    """Trial numbers: whole numbers only."""

    def tickStrings(self, values, scale, spacing):
        return [str(round(v)) if abs(v - round(v)) < 1e-6 else "" for v in values]


class TrialsView(QWidget):
    """The trials (number -> settings, state, metric, run) drawn as a table and two plots; the best below them.

    The page owns the buttons' actions (`export_button`, `use_button`) and says what happened in `message`.
    """

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.trials: dict[int, dict] = {}
        self.best: dict | None = None
        self.metric_title = "F1"
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setObjectName("searchTable")
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        for column in (0, 2, 3, 4):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        configure_pyqtgraph()  # before the axes are made, so that they take its colours
        self.trial_plot = make_plot(
            "searchMetricPlot",
            "Metric per trial",
            "F1",
            x_label="trial",
            legend_offset=(-8, -8),  # bottom right: the figures rise, the best of them to the top
            axis_items={"bottom": TrialAxis("bottom")},
        )
        self.complete_points = _points(self.trial_plot, "o", GREEN, "complete")
        self.pruned_points = _points(self.trial_plot, "t", ORANGE, "pruned")
        self.best_line = self.trial_plot.plot([], [], pen=pg.mkPen(GREY, width=1.5), name="best so far")
        self.lr_plot = make_plot(
            "searchRatePlot",
            "Metric against learning rate",
            "F1",
            x_label="learning rate",
            legend_offset=None,
            axis_items={"bottom": LogRateAxis("bottom")},
        )
        self.lr_plot.setLogMode(x=True, y=False)
        self.lr_plot.setXRange(-5, -2, padding=0.05)  # 1e-5 to 1e-2 until there are points
        for plot in (self.trial_plot, self.lr_plot):
            # Scores from 0 to 1, as on the Train page, until one falls below 0 (a correlation).
            plot.getPlotItem().enableAutoRange(axis="y", enable=False)
            plot.setYRange(0, 1.02, padding=0)
        self.lr_points = _points(self.lr_plot, "o", GREEN)
        self.lr_pruned = _points(self.lr_plot, "t", ORANGE)
        self.best_label = QLabel(NO_BEST)
        self.best_label.setObjectName("searchBest")
        self.best_label.setWordWrap(True)
        self.export_button = QPushButton("Export best…")
        self.export_button.setObjectName("searchExportBest")
        self.export_button.setEnabled(False)
        self.export_button.setToolTip("Copy the best trial's model to a folder")
        self.use_button = QPushButton("Use these settings")
        self.use_button.setObjectName("searchUseSettings")
        self.use_button.setEnabled(False)
        self.use_button.setToolTip("Put the best trial's settings on the Train page")
        self.message = MessageLabel()
        self.message.setObjectName("searchResultMessage")

        self.plots = QSplitter(Qt.Orientation.Horizontal)
        self.plots.addWidget(self.trial_plot)
        self.plots.addWidget(self.lr_plot)
        best_row = QHBoxLayout()
        best_row.addWidget(self.best_label, 1)
        best_row.addWidget(self.export_button)
        best_row.addWidget(self.use_button)
        self.table_box = QWidget()
        table_layout = QVBoxLayout(self.table_box)
        table_layout.setContentsMargins(0, 0, 0, 0)
        table_layout.addWidget(self.table, 1)
        table_layout.addLayout(best_row)
        table_layout.addWidget(self.message)

    def clear(self) -> None:
        self.trials.clear()
        self.best = None
        self.table.setRowCount(0)
        self.message.clear_message()
        self.best_label.setText(NO_BEST)
        self.export_button.setEnabled(False)
        self.use_button.setEnabled(False)
        self.redraw()

    def set_metric(self, title: str, learning_rate_searched: bool) -> None:
        """Name the task's main figure on the plots and the table; the rate plot only when the rate is searched."""
        self.metric_title = title
        for plot in (self.trial_plot, self.lr_plot):
            plot.setLabel("left", title)
        self.trial_plot.setTitle(f"{title} per trial", size="10pt")
        self.lr_plot.setTitle(f"{title} against learning rate", size="10pt")
        self.table.setHorizontalHeaderItem(3, QTableWidgetItem(title))
        self.lr_plot.setVisible(learning_rate_searched)

    def rows(self) -> list[dict]:
        """The trials as the table shows them, in trial order."""
        return [{"number": n, **self.trials[n]} for n in sorted(self.trials)]

    def finished(self) -> int:
        return sum(1 for t in self.trials.values() if t["state"] in ("complete", "pruned"))

    def running(self) -> list[int]:
        return [n for n in sorted(self.trials) if self.trials[n]["state"] == "running"]

    def set_trial(self, number: int, settings: dict, state: str, metric, run, message: str | None = None) -> None:
        """Show a trial as it is now (a new row, or its row again); the plots and the best follow a finished one."""
        metric = metric if isinstance(metric, (int, float)) and math.isfinite(metric) else None
        self.trials[number] = {"settings": settings, "state": state, "metric": metric, "run": run}
        row = sorted(self.trials).index(number)
        if self.table.rowCount() < len(self.trials):
            self.table.insertRow(row)
        cells = (str(number), settings_text(settings), state, formatting.metric(metric), Path(run).name if run else "")
        for column, text in enumerate(cells):
            item = QTableWidgetItem(text)
            if column == 2:
                item.setForeground(pg.mkColor(STATE_COLOURS.get(state, GREY)))
                if message and state == "failed":
                    item.setToolTip(message)
            if column == 4 and run:
                item.setToolTip(str(run))
            if column in (0, 3):
                item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            self.table.setItem(row, column, item)
        if state in ("complete", "pruned"):
            self.redraw()
            complete = [(n, t) for n, t in self.trials.items() if t["state"] == "complete" and t["metric"] is not None]
            if complete:
                best_number, best = max(complete, key=lambda item: item[1]["metric"])
                self.set_best({"number": best_number, **best})

    def set_summary_trial(self, trial: dict, state: str) -> None:
        """A trial as search.json (or a SearchResult) lists it."""
        settings = trial.get("settings") or {}
        self.set_trial(trial["number"], settings, state, trial.get("metric"), trial.get("run"), trial.get("error"))

    def set_best(self, best: dict | None) -> None:
        self.best = best
        if not best:
            return
        self.best_label.setText(
            f"Best: trial {best['number']}, {self.metric_title} {formatting.metric(best.get('metric'))} "
            f"({settings_text(best.get('settings') or {})})"
        )
        self.use_button.setEnabled(bool(best.get("settings")))

    def redraw(self) -> None:
        """The points of every finished trial; a handful, so they are set whole each time one ends."""
        shown = [(n, t) for n, t in sorted(self.trials.items()) if t["metric"] is not None]
        complete = [(n, t) for n, t in shown if t["state"] == "complete"]
        pruned = [(n, t) for n, t in shown if t["state"] == "pruned"]
        self.complete_points.setData([n for n, _ in complete], [t["metric"] for _, t in complete])
        self.pruned_points.setData([n for n, _ in pruned], [t["metric"] for _, t in pruned])
        running_best, xs, ys = -math.inf, [], []
        for n, t in complete:
            running_best = max(running_best, t["metric"])
            xs.append(n)
            ys.append(running_best)
        self.best_line.setData(xs, ys)
        self.lr_points.setData(*_by_rate(complete))
        self.lr_pruned.setData(*_by_rate(pruned))
        numbers = [n for n, _ in shown]
        spacing = max(1, math.ceil((max(numbers, default=0) + 1) / 10))
        self.trial_plot.getAxis("bottom").setTickSpacing(spacing, spacing)
        if numbers:
            self.trial_plot.setXRange(min(numbers) - 0.5, max(numbers) + 0.5, padding=0)
        lowest = min((t["metric"] for _, t in shown), default=0.0)
        for plot in (self.trial_plot, self.lr_plot):
            plot.setYRange(min(0.0, lowest - 0.05), 1.02, padding=0)
        rates = _by_rate(shown)[0]
        if rates:
            # In decades (the view of a log axis), with room for the markers at both ends.
            low, high = math.log10(min(rates)), math.log10(max(rates))
            margin = max(0.1, (high - low) * 0.06)
            self.lr_plot.setXRange(low - margin, high + margin, padding=0)


def _points(plot: pg.PlotWidget, symbol: str, color: str, name: str | None = None):
    return plot.plot([], [], pen=None, symbol=symbol, symbolSize=9, symbolBrush=color, symbolPen=color, name=name)


def _by_rate(trials: list[tuple[int, dict]]) -> tuple[list[float], list[float]]:
    """(learning rates, figures) of the trials that searched the learning rate."""
    points = [(t["settings"].get("learning_rate"), t["metric"]) for _, t in trials]
    points = [(x, y) for x, y in points if isinstance(x, (int, float)) and x > 0]
    return [x for x, _ in points], [y for _, y in points]


def read_trials(path: Path) -> list[dict]:
    """The trials of a search.json (those with a number), or none when it is missing or half written."""
    try:
        summary = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    trials = summary.get("trials") if isinstance(summary, dict) else None
    return [t for t in trials or [] if isinstance(t, dict) and isinstance(t.get("number"), int)]


def summary_state(trial: dict) -> str:
    """A trial's state in search.json as the table shows it: one that ended with no error was stopped (by the user,
    or with its process), and one still marked running after the search ended is too."""
    state = str(trial.get("state") or "failed")
    if state == "running" or (state == "failed" and not trial.get("error")):
        return "stopped"
    return state


def settings_text(settings: dict) -> str:
    return ", ".join(f"{LABELS.get(k, k).lower()} {_value(v)}" for k, v in settings.items())


def _value(value) -> str:
    # Three figures are plenty to tell trials apart; "Use these settings" passes the exact values on.
    return formatting.learning_rate(float(f"{value:.3g}")) if isinstance(value, float) else str(value)
