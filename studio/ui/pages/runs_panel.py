"""RunsPanel: the recent training runs with their status, to resume one, look at its results, compare runs or save a
report."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFileDialog,
    QHBoxLayout,
    QPushButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from studio.core.config import BUILTIN_MODEL
from studio.core.runs import list_runs
from studio.ui import figures, formatting
from studio.ui.tasks import TaskError, TaskRunner
from studio.ui.widgets import MessageLabel

MAX_RUNS = 50


@dataclass(frozen=True)
class RunRow:
    """What one line of the list shows, read on a pool thread (status and checkpoints are files)."""

    path: str
    status: str
    result: str  # the task's main figure, titled: "Macro F1 0.8123", "Pearson 0.8412"; "" before there is one
    train_file: str
    model: str
    resumable: bool
    has_model: bool


def read_runs() -> list[RunRow]:
    rows = []
    for run in list_runs()[:MAX_RUNS]:
        config = run.config
        metrics = run.metrics or {}
        task = figures.task_of(metrics.get("task") or (config.task if config else None))
        main = metrics.get(task.main_metric)
        rows.append(
            RunRow(
                path=str(run.path),
                status=run.status,
                result=f"{task.main_metric_title} {formatting.metric(main)}" if main is not None else "",
                train_file=Path(config.train_csv).name if config else "?",
                model=_model_name(config.model) if config else "?",
                resumable=run.resumable,
                has_model=(run.path / "model" / "config.json").is_file(),
            )
        )
    return rows


def _model_name(spec: str) -> str:
    if spec == BUILTIN_MODEL:
        return "all-MiniLM-L6-v2 (built-in)"
    return Path(spec).name if Path(spec).expanduser().is_dir() else spec  # a folder, or a hub id as typed


class RunsPanel(QWidget):
    """A list of runs, newest first; Resume carries on a stopped or interrupted run from its checkpoint.

    Several runs selected (Ctrl or Shift click): Compare opens their curves, figures and settings side by side.
    """

    resume_requested = Signal(str)  # run folder
    results_requested = Signal(str)  # run folder

    def __init__(self, tasks: TaskRunner, parent: QWidget | None = None):
        super().__init__(parent)
        self._tasks = tasks
        self._rows: dict[str, RunRow] = {}
        self._training = False
        self.compare_view: QWidget | None = None  # the last CompareView opened, kept so that it is not collected
        self.tree = QTreeWidget()
        self.tree.setObjectName("runsList")
        self.tree.setHeaderLabels(["Run", "Status", "Result", "Data", "Model"])
        self.tree.setRootIsDecorated(False)
        self.tree.setUniformRowHeights(True)
        self.tree.setColumnWidth(0, 250)
        self.tree.setColumnWidth(1, 90)
        self.tree.setColumnWidth(2, 130)
        self.tree.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.refresh_button = QPushButton("Refresh")
        self.resume_button = QPushButton("Resume")
        self.resume_button.setObjectName("resumeButton")
        self.resume_button.setToolTip("Carry on a stopped or interrupted run from its last checkpoint")
        self.results_button = QPushButton("Show results")
        self.results_button.setObjectName("showResultsButton")
        self.compare_button = QPushButton("Compare")
        self.compare_button.setObjectName("compareRunsButton")
        self.compare_button.setToolTip("Select two or more runs (Ctrl or Shift click) to see them side by side")
        self.report_button = QPushButton("Save report…")
        self.report_button.setObjectName("saveReportButton")
        self.report_button.setToolTip(
            "Write the selected run's report as one HTML file: figures, curves, confusion matrix, data check, "
            "settings and mislabel candidates"
        )
        self.message = MessageLabel()
        # Two rows: in one, the Train page's narrow Runs tab (a 1280-wide window) cut the buttons' names short.
        actions = QHBoxLayout()
        for button in (self.resume_button, self.results_button, self.compare_button):
            actions.addWidget(button)
        actions.addStretch(1)
        files = QHBoxLayout()
        files.addWidget(self.report_button)
        files.addStretch(1)
        files.addWidget(self.refresh_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.tree, 1)
        layout.addWidget(self.message)
        layout.addLayout(actions)
        layout.addLayout(files)
        self.refresh_button.clicked.connect(self._on_refresh_clicked)
        self.resume_button.clicked.connect(self._on_resume_clicked)
        self.results_button.clicked.connect(self._on_results_clicked)
        self.compare_button.clicked.connect(self._on_compare_clicked)
        self.report_button.clicked.connect(self._on_report_clicked)
        self.tree.itemSelectionChanged.connect(self._on_selection_changed)
        self._update_buttons()

    def refresh(self) -> None:
        self._tasks.submit(read_runs, done=self._on_runs_read, failed=self._on_runs_failed)

    def set_training(self, training: bool) -> None:
        self._training = training
        self._update_buttons()

    def selected(self) -> RunRow | None:
        """The one run selected; None when none is, or several are."""
        items = self.tree.selectedItems()
        return self._rows.get(items[0].data(0, Qt.ItemDataRole.UserRole)) if len(items) == 1 else None

    def selected_paths(self) -> list[str]:
        """Every selected run's folder, in the list's order."""
        items = [self.tree.topLevelItem(i) for i in range(self.tree.topLevelItemCount())]
        return [item.data(0, Qt.ItemDataRole.UserRole) for item in items if item is not None and item.isSelected()]

    def _on_runs_read(self, rows: list[RunRow]) -> None:
        chosen = set(self.selected_paths())
        self._rows = {r.path: r for r in rows}
        self.tree.clear()
        for r in rows:
            item = QTreeWidgetItem(
                [
                    Path(r.path).name,
                    r.status,
                    r.result,
                    r.train_file,
                    r.model,
                ]
            )
            item.setData(0, Qt.ItemDataRole.UserRole, r.path)
            item.setToolTip(0, r.path)
            self.tree.addTopLevelItem(item)
            if r.path in chosen:
                item.setSelected(True)
        self.message.clear_message()
        self._update_buttons()

    def _on_runs_failed(self, error: TaskError) -> None:
        self.message.show_error(error.message)

    def _update_buttons(self) -> None:
        row = self.selected()
        self.resume_button.setEnabled(bool(row and row.resumable and not self._training))
        self.results_button.setEnabled(bool(row and row.has_model))
        self.compare_button.setEnabled(len(self.tree.selectedItems()) >= 2)
        self.report_button.setEnabled(row is not None)

    @Slot()
    def _on_selection_changed(self) -> None:
        self._update_buttons()

    @Slot()
    def _on_refresh_clicked(self) -> None:
        self.refresh()

    @Slot()
    def _on_resume_clicked(self) -> None:
        row = self.selected()
        if row is not None and row.resumable:
            self.resume_requested.emit(row.path)

    @Slot()
    def _on_results_clicked(self) -> None:
        row = self.selected()
        if row is not None and row.has_model:
            self.results_requested.emit(row.path)

    @Slot()
    def _on_compare_clicked(self) -> None:
        paths = self.selected_paths()
        if len(paths) < 2:
            self.message.show_error("Select two or more runs to compare (Ctrl or Shift click).")
            return
        from studio.core.compare import compare_runs

        self.compare_button.setEnabled(False)
        self.message.show_message(f"Reading {len(paths)} runs…")
        self._tasks.submit(compare_runs, paths, done=self._on_compared, failed=self._on_compare_failed)

    def _on_compared(self, comparison) -> None:
        from studio.ui.compare_view import CompareView

        self.message.clear_message()
        self._update_buttons()
        if self.compare_view is not None:
            self.compare_view.close()
            self.compare_view.deleteLater()
        view = CompareView(comparison, self)
        self.compare_view = view
        view.show()  # a new window opens on top

    def _on_compare_failed(self, error: TaskError) -> None:
        self._update_buttons()
        self.message.show_error(error.message)

    @Slot()
    def _on_report_clicked(self) -> None:
        row = self.selected()
        if row is None:
            return
        start = str(Path.home() / f"{Path(row.path).name}-report.html")
        path, _ = QFileDialog.getSaveFileName(self, "Save report", start, "HTML report (*.html)")
        if path:
            self.save_report(row.path, path)

    def save_report(self, run_dir: str, output: str) -> None:
        """Write the run's report on a pool thread (the data check and the mislabel ranking take a while)."""
        from studio.core.report import write_report

        if not output.lower().endswith((".html", ".htm")):
            output += ".html"
        self.report_button.setEnabled(False)
        self.message.show_message(f"Writing the report of {Path(run_dir).name}…")
        self._tasks.submit(
            write_report,
            run_dir,
            output,
            done=self._on_report_written,
            failed=self._on_report_failed,
            libraries=True,
        )

    def _on_report_written(self, path) -> None:
        self._update_buttons()
        self.message.show_message(f"Saved the report to {path}", "ok")

    def _on_report_failed(self, error: TaskError) -> None:
        self._update_buttons()
        self.message.show_error(error.message)
