"""EvaluatePage: the final figures and each task's own view of them (per-class table and confusion matrix, per-label
table, predicted-against-true scatter, per-entity table and the worst sentences), and Export."""

from __future__ import annotations

import logging
import math
from pathlib import Path

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFrame,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QSplitter,
    QStackedWidget,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from studio.ui import figures, formatting
from studio.ui.cell_rows import CellRowsPanel
from studio.ui.charts import LABEL_CHARS, ConfusionHeatmap, ErrorHistogram, RegressionScatter, ScoreBars
from studio.ui.pages.export_panel import ExportPanel
from studio.ui.pages.mislabels_view import MislabelsView
from studio.ui.pages.threshold_view import ThresholdView
from studio.ui.settings import Settings
from studio.ui.tasks import TaskError, TaskRunner
from studio.ui.widgets import page_header

log = logging.getLogger(__name__)

CARDS = figures.CARDS["single"]
# Which of the stacked views shows each task's results; a task not listed gets the classes' view.
VIEWS = {"single": 0, "pair": 0, "multi": 1, "regression": 2, "token": 3}
# The label column fits the longest name up to this many average characters; longer names are elided in the
# middle (their two ends tell similar names apart) and read whole in the tooltip.
LABEL_COLUMN_CHARS = 32
# The least the table and the confusion matrix get beside each other, so both fit the smallest window.
TABLE_MIN_WIDTH = 330
HEATMAP_MIN_WIDTH = 320
ROWS_MIN_HEIGHT = 230  # the rows behind a clicked cell: a title and about five rows
HEATMAP_BESIDE_NAMES = 270  # the matrix's width less its longest name: axis ticks and title, and the cells


class EvaluatePage(QWidget):
    """How well the trained model does on the validation rows; Export writes it where the user chooses."""

    exported = Signal(str)  # the folder the model was exported to
    open_in_inference = Signal(str)  # a validation row's text, to try on the Inference tab
    rows_ready = Signal()  # the validation rows behind the figures were computed and are listed

    def __init__(self, tasks: TaskRunner, settings: Settings, parent: QWidget | None = None):
        super().__init__(parent)
        self._tasks = tasks
        self._settings = settings
        self.model_dir: str | None = None
        # The validation rows behind the figures, computed on the first click (see _ask_rows), per run folder.
        self._rows = None
        self._rows_run: str | None = None
        self._rows_pending: tuple | None = None  # the click waiting for them
        self._metrics: dict = {}

        self.run_label = QLabel("Train a model (or pick a run on the Train page) to see how well it does.")
        self.run_label.setObjectName("evaluateRun")
        self.run_label.setWordWrap(True)
        cards = QHBoxLayout()
        # Five cards, the same widgets for every task: each result renames them for its task's figures.
        self.cards: dict[str, QLabel] = {}
        self._card_widgets: list[tuple[QLabel, QLabel]] = []
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
            self._card_widgets.append((value, name))
            cards.addWidget(frame)

        self.per_class = QTableWidget(0, 5)
        self.per_class.setObjectName("perClassTable")
        self.per_class.setHorizontalHeaderLabels(["Label", "Precision", "Recall", "F1", "Rows"])
        self.per_class.verticalHeader().setVisible(False)
        self.per_class.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.per_class.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        self.per_class.setWordWrap(False)  # a long name on one line, elided, rather than two cut-off lines
        self.per_class.setHorizontalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        header = self.per_class.horizontalHeader()
        # The label column takes the spare width, and the table is kept wide enough for its longest name (see
        # _fit_label_column); the numbers fit their contents.
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        for column in range(1, 5):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        self.heatmap = ConfusionHeatmap()
        self.heatmap.setMinimumSize(HEATMAP_MIN_WIDTH, 280)

        self.export_panel = ExportPanel(tasks, settings)
        self.export_panel.setObjectName("exportPanel")
        # The export row's parts, by the names the rest of the app and its tools know them by.
        self.export_path = self.export_panel.path
        self.export_button = self.export_panel.button
        self.export_status = self.export_panel.status
        self.export_panel.exported.connect(self.exported)
        self.threshold_view = ThresholdView(tasks)
        self.mislabels_view = MislabelsView(tasks)
        self.mislabels_view.text_opened.connect(self.open_in_inference)

        self.splitter = splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.setObjectName("evaluateSplitter")
        splitter.addWidget(self.per_class)
        splitter.addWidget(self.heatmap)
        # The table is as wide as its names need (see _fit_label_column); the matrix takes the rest.
        splitter.setStretchFactor(0, 0)
        splitter.setStretchFactor(1, 1)
        splitter.setChildrenCollapsible(False)
        self.views = QStackedWidget()
        self.views.setObjectName("evaluateViews")
        self.views.addWidget(splitter)
        self.views.addWidget(self._multi_view())
        self.views.addWidget(self._regression_view())
        self.views.addWidget(self._token_view())
        self.task = "single"

        layout = QVBoxLayout(self)
        layout.addWidget(
            page_header(
                "Evaluate",
                "How the model does on the validation rows it never trained on; the best checkpoint is the one kept.",
            )
        )
        layout.addWidget(self.run_label)
        layout.addLayout(cards)
        self.cell_rows = CellRowsPanel()
        self.cell_rows.setObjectName("cellRows")
        self.results_splitter = QSplitter(Qt.Orientation.Vertical)
        self.results_splitter.setObjectName("resultsSplitter")
        self.results_splitter.addWidget(self.views)
        self.results_splitter.addWidget(self.cell_rows)
        self.results_splitter.setStretchFactor(0, 3)
        self.results_splitter.setStretchFactor(1, 2)
        self.results_splitter.setChildrenCollapsible(False)
        self.tabs = QTabWidget()
        self.tabs.setObjectName("evaluateTabs")
        self.tabs.addTab(self.results_splitter, "Results")
        self.tabs.addTab(self.threshold_view, "Threshold")
        self.tabs.addTab(self.mislabels_view, "Label errors")
        layout.addWidget(self.tabs, 1)
        layout.addWidget(self.export_panel)
        self.heatmap.cell_clicked.connect(self._on_cell_clicked)
        self.per_label.cellClicked.connect(self._on_label_clicked)
        self.per_entity.cellClicked.connect(self._on_entity_clicked)
        self.cell_rows.open_in_inference.connect(self.open_in_inference)

    # The views of the other tasks ------------------------------------------------------------------------

    def _multi_view(self) -> QWidget:
        self.per_label = _score_table("perLabelTable", ["Label", "Precision", "Recall", "F1", "Rows", "Threshold"])
        self.label_f1 = ScoreBars("perLabelF1", "F1 per label, at its threshold")
        self.label_f1.setMinimumWidth(HEATMAP_MIN_WIDTH)
        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.setObjectName("multiSplitter")
        splitter.addWidget(self.per_label)
        splitter.addWidget(self.label_f1)
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 2)
        splitter.setChildrenCollapsible(False)
        return splitter

    def _regression_view(self) -> QWidget:
        self.scatter = RegressionScatter()
        self.scatter.setMinimumSize(HEATMAP_MIN_WIDTH, 280)
        self.errors = ErrorHistogram()
        self.errors.setMinimumWidth(260)
        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.setObjectName("regressionSplitter")
        splitter.addWidget(self.scatter)
        splitter.addWidget(self.errors)
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 2)
        splitter.setChildrenCollapsible(False)
        return splitter

    def _token_view(self) -> QWidget:
        self.per_entity = _score_table("perEntityTable", ["Entity type", "Precision", "Recall", "F1", "Entities"])
        self.worst = QTextBrowser()
        self.worst.setObjectName("worstSentences")
        self.worst.setOpenLinks(False)
        self.worst_title = QLabel(
            "The validation sentences with the most mistakes: entities missed or predicted wrongly are in red."
        )
        self.worst_title.setObjectName("worstSentencesTitle")
        self.worst_title.setWordWrap(True)
        worst_box = QWidget()
        worst_layout = QVBoxLayout(worst_box)
        worst_layout.setContentsMargins(0, 0, 0, 0)
        worst_layout.addWidget(self.worst_title)
        worst_layout.addWidget(self.worst, 1)
        self.entity_f1 = ScoreBars("perEntityF1", "F1 per entity type")
        left = QSplitter(Qt.Orientation.Vertical)
        left.addWidget(self.per_entity)
        left.addWidget(self.entity_f1)
        left.setChildrenCollapsible(False)
        left.setSizes([180, 300])
        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.setObjectName("tokenSplitter")
        splitter.addWidget(left)
        splitter.addWidget(worst_box)
        splitter.setStretchFactor(0, 0)
        splitter.setStretchFactor(1, 1)
        splitter.setChildrenCollapsible(False)
        self.per_entity.setMinimumWidth(TABLE_MIN_WIDTH)
        splitter.setSizes([TABLE_MIN_WIDTH + 40, 700])
        return splitter

    # Results -----------------------------------------------------------------------------------------------

    def show_results(self, model_dir: str, metrics: dict, stopped: bool = False) -> None:
        """Fill the page from a run's metrics (the Finished event, or metrics.json of an older run)."""
        self.model_dir = model_dir
        self._metrics = metrics
        if self._rows_run != str(Path(model_dir).parent):
            self._rows, self._rows_run, self._rows_pending = None, None, None
        run = Path(model_dir).parent.name
        self.export_panel.show_model(model_dir)
        self.threshold_view.show_model(model_dir, metrics)
        self.mislabels_view.set_run(Path(model_dir).parent)
        epochs = metrics.get("epochs_completed")
        task = figures.task_of(metrics.get("task"))
        self.task = task.name
        self._enable_tabs(metrics, task)
        self.run_label.setText(
            f"Run {run}"
            + f" · {task.title}"
            + (" (stopped early)" if stopped or metrics.get("stopped_early") else "")
            + (f" · {epochs:g} epoch{'' if epochs == 1 else 's'}" if isinstance(epochs, (int, float)) else "")
            + (f" · {formatting.duration(metrics['train_seconds'])} of training" if "train_seconds" in metrics else "")
            + (f" on {metrics['device'].upper()}" if metrics.get("device") else "")
        )
        self.cards = {}
        for (value, name), (key, title) in zip(self._card_widgets, figures.CARDS.get(task.name, CARDS), strict=False):
            value.setText(formatting.metric(metrics.get(key)))
            name.setText(title)
            self.cards[key] = value
        self.views.setCurrentIndex(VIEWS.get(task.name, 0))
        self.cell_rows.setVisible(task.name != "regression")
        self.cell_rows.show_message(
            {
                "multi": "Click a label in the table to list its validation rows: false positives, false negatives "
                "and correct ones.",
                "token": "Click an entity type in the table to list its entities: missed, wrongly predicted and found.",
            }.get(task.name, "Click a cell of the confusion matrix to list the validation rows counted in it.")
        )
        if task.name == "multi":
            self._show_multi(metrics)
        elif task.name == "regression":
            scatter = metrics.get("scatter") or {}
            true, predicted = scatter.get("true") or [], scatter.get("predicted") or []
            self.scatter.show_points(true, predicted)
            self.errors.show_errors(true, predicted)
        elif task.name == "token":
            self._show_token(metrics)
        else:
            self._show_classes(metrics)

    def _enable_tabs(self, metrics: dict, task) -> None:
        """Grey the tabs that have nothing to say about this task, with the reason as their tooltip."""
        from studio.core.mislabels import SUPPORTED_TASKS

        threshold = bool(metrics.get("threshold_curve") or metrics.get("thresholds"))
        self.tabs.setTabEnabled(1, threshold)
        self.tabs.setTabToolTip(
            1,
            "Tune the decision threshold"
            if threshold
            else "A decision threshold applies to models with two classes or to multi-label models",
        )
        mislabels = self.task in SUPPORTED_TASKS
        self.tabs.setTabEnabled(2, mislabels)
        self.tabs.setTabToolTip(
            2,
            "Find validation rows whose label looks wrong, and save a corrected copy"
            if mislabels
            else f"Label errors are looked for in classification data, not in {task.title.lower()} data",
        )
        if not self.tabs.isTabEnabled(self.tabs.currentIndex()):
            self.tabs.setCurrentIndex(0)

    def _show_classes(self, metrics: dict) -> None:
        per_class = metrics.get("per_class") or {}
        _fill_scores(self.per_class, per_class, ("precision", "recall", "f1"), with_threshold=False)
        labels = list(metrics.get("labels") or per_class.keys())
        self.heatmap.show_matrix(labels, metrics.get("confusion") or [])
        self._fit_label_column(labels)

    def _show_multi(self, metrics: dict) -> None:
        per_label = metrics.get("per_label") or {}
        thresholds = metrics.get("thresholds") or {}
        stats = {
            name: {**values, "threshold": values.get("threshold", thresholds.get(name))}
            for name, values in per_label.items()
        }
        _fill_scores(self.per_label, stats, ("precision", "recall", "f1"), with_threshold=True)
        self.label_f1.show_scores([(name, figures.number(values.get("f1"))) for name, values in per_label.items()])

    def _show_token(self, metrics: dict) -> None:
        per_entity = metrics.get("per_entity") or {}
        _fill_scores(self.per_entity, per_entity, ("precision", "recall", "f1"), with_threshold=False)
        self.entity_f1.show_scores([(name, figures.number(values.get("f1"))) for name, values in per_entity.items()])
        worst = metrics.get("worst") or []
        self.worst.setHtml(figures.worst_sentences_html(worst, per_entity.keys()))
        self.worst_title.setVisible(bool(worst))

    def _fit_label_column(self, labels: list[str]) -> None:
        """Widen the table until the label column shows the longest name, up to LABEL_COLUMN_CHARS characters:
        the confusion matrix beside it would otherwise squeeze the names to 'f...'."""
        table, header = self.per_class, self.per_class.horizontalHeader()
        widths = [max(table.sizeHintForColumn(c), header.sectionSizeHint(c)) for c in range(table.columnCount())]
        widths[0] = min(widths[0], table.fontMetrics().averageCharWidth() * LABEL_COLUMN_CHARS)
        # Room for a vertical scroll bar too, so that many labels do not push the names back into '...'.
        wanted = sum(widths) + 2 * table.frameWidth() + table.verticalScrollBar().sizeHint().width()
        self.heatmap.setMinimumWidth(self._heatmap_minimum_width(labels))
        # At the smallest window both must fit, so the table's floor is lower than what it wants.
        table.setMinimumWidth(min(wanted, TABLE_MIN_WIDTH))
        # New results, new names: the table takes what they need (as far as the matrix allows), the matrix the rest.
        total = sum(self.splitter.sizes())
        if total:
            left = max(table.minimumWidth(), min(wanted, total - self.heatmap.minimumWidth()))
            self.splitter.setSizes([left, total - left])

    def _heatmap_minimum_width(self, labels: list[str]) -> int:
        """How narrow the matrix can be before pyqtgraph cuts it off at the edge: its left axis holds the names
        (shortened as charts.py shortens them) and the cells need room beside it. The axis itself only measures
        its labels when painted, too late for a page that is not on screen."""
        metrics = self.heatmap.fontMetrics()
        short = [name if len(name) <= LABEL_CHARS else name[: LABEL_CHARS - 1] + "…" for name in labels]
        widest = max((metrics.horizontalAdvance(name) for name in short), default=0)
        return max(HEATMAP_MIN_WIDTH, widest + HEATMAP_BESIDE_NAMES)

    # The rows behind a cell ----------------------------------------------------------------------------------

    @Slot(int, int)
    def _on_cell_clicked(self, true: int, predicted: int) -> None:
        self._ask_rows(("cell", true, predicted))

    @Slot(int, int)
    def _on_label_clicked(self, row: int, _column: int) -> None:
        item = self.per_label.item(row, 0)
        if item is not None:
            self._ask_rows(("label", item.toolTip() or item.text()))

    @Slot(int, int)
    def _on_entity_clicked(self, row: int, _column: int) -> None:
        item = self.per_entity.item(row, 0)
        if item is not None:
            self._ask_rows(("entity", item.toolTip() or item.text()))

    def _ask_rows(self, what: tuple) -> None:
        """Show the rows for a click; the first click of a run computes them in the background."""
        if not self.model_dir:
            return
        run_dir = str(Path(self.model_dir).parent)
        if self._rows is not None and self._rows_run == run_dir:
            self._show_rows(what)
            return
        starting = self._rows_pending is None
        self._rows_pending = what
        self.cell_rows.show_message("Reading the validation rows and predicting them with the run's model…")
        if starting:
            from studio.core.validation_rows import validation_rows

            self._tasks.submit(
                validation_rows,
                run_dir,
                done=self._on_rows_done,
                failed=self._on_rows_failed,
                context=run_dir,
                libraries=True,
            )

    def _on_rows_done(self, rows, run_dir: str) -> None:
        if not self.model_dir or str(Path(self.model_dir).parent) != run_dir:
            return  # another run is shown now
        self._rows, self._rows_run = rows, run_dir
        what, self._rows_pending = self._rows_pending, None
        if what is not None:
            self._show_rows(what)
        self.rows_ready.emit()

    def _on_rows_failed(self, error: TaskError, run_dir: str) -> None:
        self._rows_pending = None
        if self.model_dir and str(Path(self.model_dir).parent) == run_dir:
            self.cell_rows.show_message(error.message)

    def _show_rows(self, what: tuple) -> None:
        rows = self._rows
        if rows is None:
            return
        sizes = self.results_splitter.sizes()
        if sum(sizes) and sizes[1] < ROWS_MIN_HEIGHT:
            # The list gets room to read a few rows once there are rows to read; the user's split is kept after.
            self.results_splitter.setSizes([sum(sizes) - ROWS_MIN_HEIGHT, ROWS_MIN_HEIGHT])
        note = ""
        if rows.task in ("single", "pair"):
            shown = self._metrics.get("confusion") or []
            if shown and rows.confusion() != shown:
                note = (
                    " The model predicted some rows differently this time than in training (its figures came from "
                    "another device or precision), so a few rows may sit in another cell."
                )
        kind = what[0]
        if kind == "cell" and rows.task in ("single", "pair"):
            _, true, predicted = what
            listed = rows.cell(true, predicted)
            names = rows.labels
            verdict = "correct" if true == predicted else "mistakes"
            title = (
                f"{len(listed):,} validation row{'' if len(listed) == 1 else 's'} with true label "
                f"'{names[true]}' predicted as '{names[predicted]}' ({verdict})."
            )
            self.cell_rows.show_rows(title + note, listed)
        elif kind == "label" and rows.task == "multi" and what[1] in rows.labels:
            listed = rows.label_rows(what[1])
            counts = rows.label_counts(what[1])
            title = (
                f"Label '{what[1]}': {counts['false positive']:,} false positives, {counts['false negative']:,} "
                f"false negatives, {counts['correct']:,} correct."
            )
            self.cell_rows.show_rows(title, listed, with_outcome=True)
        elif kind == "entity" and rows.task == "token":
            listed = rows.entity_rows(what[1])
            outcomes = [r.outcome for r in listed]
            title = (
                f"Entity type '{what[1]}': {outcomes.count('missed'):,} missed, "
                f"{outcomes.count('wrongly predicted'):,} wrongly predicted, {outcomes.count('found'):,} found."
            )
            self.cell_rows.show_rows(title, listed, with_outcome=True)


def _score_table(object_name: str, headers: list[str]) -> QTableWidget:
    """A read-only table of names and their scores: the name column takes the spare width, numbers fit."""
    table = QTableWidget(0, len(headers))
    table.setObjectName(object_name)
    table.setHorizontalHeaderLabels(headers)
    table.verticalHeader().setVisible(False)
    table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
    table.setTextElideMode(Qt.TextElideMode.ElideMiddle)
    table.setWordWrap(False)
    table.setHorizontalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
    table.setSortingEnabled(False)
    header = table.horizontalHeader()
    header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
    for column in range(1, len(headers)):
        header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
    return table


def _fill_scores(table: QTableWidget, stats: dict, keys: tuple[str, ...], with_threshold: bool) -> None:
    """One row per name: its scores, its support and (multi-label) its threshold."""
    table.setRowCount(len(stats))
    for r, (name, values) in enumerate(stats.items()):
        values = values if isinstance(values, dict) else {}
        support = values.get("support", 0)
        cells = [
            str(name),
            *[formatting.metric(values.get(key)) for key in keys],
            f"{support:,}" if isinstance(support, (int, float)) else str(support),
        ]
        if with_threshold:
            threshold = figures.number(values.get("threshold"))
            cells.append(f"{threshold:.2f}" if math.isfinite(threshold) else "–")
        for c, text in enumerate(cells):
            item = QTableWidgetItem(text)
            if c:
                item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            else:
                item.setToolTip(str(name))
            table.setItem(r, c, item)
