"""MislabelsView: "Possible label errors" of a run, ranked; keep, relabel or drop each, and save a corrected copy."""

from __future__ import annotations

import threading
from pathlib import Path

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt, Signal, Slot
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from studio.ui.tasks import TaskError, TaskRunner

KEEP, DROP = "keep", "drop"
HEADERS = ("Split", "Row", "Text", "Label", "Suggested", "Score", "Flagged", "Decision")
TEXT_CHARS = 300  # a longer text is cut in the cell; the tooltip shows it whole
_ROOT = QModelIndex()


class CandidatesModel(QAbstractTableModel):
    """The ranked candidates (studio.core.mislabels.Candidate) with the user's decision for each."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.candidates: list = []
        self.decisions: dict[int, str] = {}  # candidate index -> DROP or the new label (absent: keep)

    def set_candidates(self, candidates: list) -> None:
        self.beginResetModel()
        self.candidates = list(candidates)
        self.decisions = {}
        self.endResetModel()

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = _ROOT) -> int:
        return 0 if parent.isValid() else len(self.candidates)

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = _ROOT) -> int:
        return 0 if parent.isValid() else len(HEADERS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole):
        if role == Qt.ItemDataRole.DisplayRole and orientation == Qt.Orientation.Horizontal:
            return HEADERS[section]
        return None

    def decision_text(self, row: int) -> str:
        decision = self.decisions.get(row)
        if decision is None:
            return KEEP
        return DROP if decision == DROP else f"relabel to {decision}"

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole):
        if not index.isValid():
            return None
        c = self.candidates[index.row()]
        column = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            values = (
                c.split,
                str(c.row),
                c.text if len(c.text) <= TEXT_CHARS else c.text[:TEXT_CHARS] + "…",
                c.label,
                c.suggested,
                f"{c.score:.3f}",
                "yes" if c.flagged else "",
                self.decision_text(index.row()),
            )
            return values[column]
        if role == Qt.ItemDataRole.ToolTipRole and column == 2:
            return c.text if c.pair is None else f"{c.text}\n—\n{c.pair}"
        if role == Qt.ItemDataRole.ForegroundRole and column == 7 and index.row() in self.decisions:
            return QColor("#b00020") if self.decisions[index.row()] == DROP else QColor("#1a5fb4")
        if role == Qt.ItemDataRole.TextAlignmentRole and column in (1, 5):
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None

    def decide(self, rows: list[int], decision: str | None) -> None:
        """Set the decision (None: keep) of these candidate rows; a relabel to the row's own label is a keep."""
        for row in rows:
            if decision is None or decision == self.candidates[row].label:
                self.decisions.pop(row, None)
            else:
                self.decisions[row] = decision
        if rows:
            self.dataChanged.emit(self.index(min(rows), 7), self.index(max(rows), 7))

    def changes_by_file(self) -> dict[str, tuple[dict[int, str], set[int]]]:
        """{file: ({data row: new label}, {data rows to drop})} of the decisions made."""
        found: dict[str, tuple[dict[int, str], set[int]]] = {}
        for row, decision in self.decisions.items():
            c = self.candidates[row]
            relabel, drop = found.setdefault(c.file, ({}, set()))
            if decision == DROP:
                drop.add(c.row)
            else:
                relabel[c.row] = decision
        return found


class MislabelsView(QWidget):
    """Finds a run's possible label errors in the background and lets the user decide on each row.

    Wire it with `set_run(run_dir)` (the Evaluate page's run); it runs studio.core.mislabels.find_mislabels on
    `tasks` when the user clicks Find. Signals: `search_finished(MislabelReport)`, `copies_saved(list of
    CorrectedCopy)` after "Save corrected copy" (one per file that had decisions: the training file and the
    validation file), `text_opened(str)` on a double-click (for the Inference tab).
    """

    search_finished = Signal(object)
    copies_saved = Signal(object)
    text_opened = Signal(str)

    def __init__(self, tasks: TaskRunner, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("mislabelsView")
        self._tasks = tasks
        self._run_dir: Path | None = None
        self._stop: threading.Event | None = None
        self._message = ""
        self._report = None
        self._label_column = ""

        title = QLabel("<b>Possible label errors</b>")
        explain = QLabel(
            "Rows whose label the model confidently disagrees with, most likely mislabelled first (confident "
            "learning on predictions for rows the model did not train on). Decide for each: keep, relabel or drop; "
            "then save a corrected copy of the data to train on. The original file is never changed."
        )
        explain.setWordWrap(True)
        self.find_button = QPushButton("Find label errors")
        self.find_button.setObjectName("findMislabels")
        self.find_button.clicked.connect(self._on_find_clicked)
        self.thorough = QCheckBox("Training rows too (trains one model per fold: slow)")
        self.thorough.setObjectName("mislabelsThorough")
        self.folds = QSpinBox()
        self.folds.setObjectName("mislabelsFolds")
        self.folds.setRange(2, 20)
        self.folds.setValue(5)
        self.folds.setSuffix(" folds")
        self.stop_button = QPushButton("Stop")
        self.stop_button.setObjectName("stopMislabels")
        self.stop_button.setEnabled(False)
        self.stop_button.clicked.connect(self._on_stop_clicked)
        self.progress = QProgressBar()
        self.progress.setObjectName("mislabelsProgress")
        self.progress.setRange(0, 1000)
        self.progress.setVisible(False)
        self.status = QLabel("")
        self.status.setObjectName("mislabelsStatus")
        self.status.setWordWrap(True)

        self.model = CandidatesModel(self)
        self.table = QTableView()
        self.table.setObjectName("mislabelsTable")
        self.table.setModel(self.model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.table.setWordWrap(False)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)
        self.table.doubleClicked.connect(self._on_table_double_clicked)

        self.keep_button = QPushButton("Keep")
        self.keep_button.setObjectName("keepRows")
        self.keep_button.clicked.connect(self._on_keep_clicked)
        self.drop_button = QPushButton("Drop")
        self.drop_button.setObjectName("dropRows")
        self.drop_button.clicked.connect(self._on_drop_clicked)
        self.relabel_choice = QComboBox()
        self.relabel_choice.setObjectName("relabelChoice")
        self.relabel_button = QPushButton("Relabel to")
        self.relabel_button.setObjectName("relabelRows")
        self.relabel_button.clicked.connect(self._on_relabel_clicked)
        self.suggested_button = QPushButton("Take suggestions")
        self.suggested_button.setObjectName("takeSuggestions")
        self.suggested_button.setToolTip("Relabel the selected rows to the label the model suggests")
        self.suggested_button.clicked.connect(self._on_suggested_clicked)
        self.save_button = QPushButton("Save corrected copy")
        self.save_button.setObjectName("saveCorrected")
        self.save_button.clicked.connect(self._on_save_clicked)

        controls = QHBoxLayout()
        controls.addWidget(self.find_button)
        controls.addWidget(self.thorough)
        controls.addWidget(self.folds)
        controls.addWidget(self.stop_button)
        controls.addStretch(1)
        decisions = QHBoxLayout()
        for widget in (self.keep_button, self.drop_button, self.relabel_button, self.relabel_choice):
            decisions.addWidget(widget)
        decisions.addWidget(self.suggested_button)
        decisions.addStretch(1)
        decisions.addWidget(self.save_button)
        layout = QVBoxLayout(self)
        layout.addWidget(title)
        layout.addWidget(explain)
        layout.addLayout(controls)
        layout.addWidget(self.progress)
        layout.addWidget(self.status)
        layout.addWidget(self.table, 1)
        layout.addLayout(decisions)
        self._set_busy(False)

    # ---- the lead's wiring --------------------------------------------------------------------------------
    def set_run(self, run_dir: str | Path | None) -> None:
        """The run whose rows to check; clears what was shown for another run."""
        new = Path(run_dir) if run_dir else None
        if new != self._run_dir:
            self._run_dir = new
            self.show_report(None)
        self._set_busy(False)

    def show_report(self, report) -> None:
        """Show a MislabelReport (or nothing)."""
        self._report = report
        self.model.set_candidates(report.candidates if report is not None else [])
        self.relabel_choice.clear()
        if report is None:
            self.status.setText("" if self._run_dir else "Train or choose a run first.")
            self._label_column = ""
        else:
            self.relabel_choice.addItems(list(report.labels))
            self._label_column = report.label_column
            flagged = len(report.flagged)
            self.status.setText(
                f"{flagged} of {len(report.candidates):,} rows look mislabelled (flagged); every row is listed, "
                "most likely first. " + " ".join(report.notes)
            )
        self._set_busy(False)

    # ---- finding ------------------------------------------------------------------------------------------
    @Slot()
    def _on_find_clicked(self) -> None:
        if self._run_dir is None:
            self.status.setText("Train or choose a run first.")
            return
        self._stop = threading.Event()
        self._message = "Starting"
        self.progress.setValue(0)
        self._set_busy(True)
        self.status.setText("Looking for label errors…")
        self._tasks.submit(
            self._find,
            self._run_dir,
            self.thorough.isChecked(),
            self.folds.value(),
            self._stop,
            done=self._on_find_done,
            failed=self._on_find_failed,
            progress=self._on_find_progress,
            libraries=True,
        )

    def _find(self, run_dir: Path, thorough: bool, folds: int, stop: threading.Event, report):
        """On the pool thread: find_mislabels, its progress as report(permille, 1000) plus a message."""
        from studio.core.mislabels import find_mislabels

        def progress(done: float, message: str) -> None:
            self._message = message  # read by the GUI thread's progress slot; a str swap is atomic
            report(int(done * 1000), 1000)

        return find_mislabels(run_dir, thorough=thorough, folds=folds, progress=progress, stop=stop)

    def _on_find_progress(self, done: int, total: int) -> None:
        self.progress.setValue(min(done, total))
        self.status.setText(self._message)

    def _on_find_done(self, report) -> None:
        self.show_report(report)
        self.search_finished.emit(report)

    def _on_find_failed(self, error: TaskError) -> None:
        self._set_busy(False)
        self.status.setText(error.message)

    @Slot()
    def _on_stop_clicked(self) -> None:
        if self._stop is not None:
            self._stop.set()
            self.status.setText("Stopping after the current step…")

    def _set_busy(self, busy: bool) -> None:
        has_rows = bool(self.model.candidates)
        self.find_button.setEnabled(not busy and self._run_dir is not None)
        self.thorough.setEnabled(not busy)
        self.folds.setEnabled(not busy)
        self.stop_button.setEnabled(busy)
        self.progress.setVisible(busy)
        for widget in (
            self.keep_button,
            self.drop_button,
            self.relabel_button,
            self.relabel_choice,
            self.suggested_button,
            self.save_button,
        ):
            widget.setEnabled(not busy and has_rows)

    # ---- deciding -----------------------------------------------------------------------------------------
    def selected_rows(self) -> list[int]:
        return sorted({index.row() for index in self.table.selectionModel().selectedRows()})

    @Slot()
    def _on_keep_clicked(self) -> None:
        self.model.decide(self.selected_rows(), None)
        self._show_counts()

    @Slot()
    def _on_drop_clicked(self) -> None:
        self.model.decide(self.selected_rows(), DROP)
        self._show_counts()

    @Slot()
    def _on_relabel_clicked(self) -> None:
        label = self.relabel_choice.currentText()
        if label:
            self.model.decide(self.selected_rows(), label)
            self._show_counts()

    @Slot()
    def _on_suggested_clicked(self) -> None:
        for row in self.selected_rows():
            self.model.decide([row], self.model.candidates[row].suggested)
        self._show_counts()

    def _show_counts(self) -> None:
        decisions = list(self.model.decisions.values())
        dropped = sum(1 for d in decisions if d == DROP)
        relabelled = len(decisions) - dropped
        self.status.setText(f"To relabel: {relabelled} {_rows(relabelled)}; to drop: {dropped} {_rows(dropped)}.")

    @Slot(QModelIndex)
    def _on_table_double_clicked(self, index: QModelIndex) -> None:
        if index.isValid():
            self.text_opened.emit(self.model.candidates[index.row()].text)

    @Slot()
    def _on_save_clicked(self) -> None:
        changes = self.model.changes_by_file()
        if not changes:
            self.status.setText("Nothing to save: relabel or drop some rows first.")
            return
        self.save_button.setEnabled(False)
        self._tasks.submit(
            _save_copies, changes, self._label_column, done=self._on_save_done, failed=self._on_save_failed
        )

    def _on_save_done(self, copies: list) -> None:
        self.save_button.setEnabled(True)
        self.status.setText(
            "Saved "
            + "; ".join(f"{c.path} ({c.relabelled} relabelled, {c.dropped} dropped, {c.rows:,} rows)" for c in copies)
            + ". Train on it to see whether the model improves."
        )
        self.copies_saved.emit(copies)

    def _on_save_failed(self, error: TaskError) -> None:
        self.save_button.setEnabled(True)
        self.status.setText(error.message)


def _rows(n: int) -> str:
    return "row" if n == 1 else "rows"


def _save_copies(changes: dict[str, tuple[dict[int, str], set[int]]], label_column: str) -> list:
    from studio.core.corrections import save_corrected_copy

    return [save_corrected_copy(file, label_column, relabel, drop) for file, (relabel, drop) in sorted(changes.items())]
