"""SearchForm: what a search varies (the space editor), how (method, trials, pruning, workers, storage), and where."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import Slot
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from studio.core.errors import ConfigError
from studio.ui.pages.search_space_editor import SearchSpaceEditor
from studio.ui.widgets import PathEdit

if TYPE_CHECKING:
    from studio.core.config import TrainConfig
    from studio.core.search import SearchSettings

METHODS = (("tpe", "TPE (Optuna: learns from earlier trials)"), ("random", "Random"), ("grid", "Grid (every value)"))


class SearchForm(QWidget):
    """The search's settings in three boxes; `problem()` says why they cannot start a search, in one sentence."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.space = SearchSpaceEditor()
        self.method = QComboBox()
        self.method.setObjectName("searchMethod")
        for key, label in METHODS:
            self.method.addItem(label, key)
        self.trials = QSpinBox()
        self.trials.setObjectName("searchTrials")
        self.trials.setRange(1, 10000)
        self.trials.setValue(8)
        self.trials.setToolTip("Finished trials (complete or pruned) the search runs")
        self.prune = QCheckBox("Stop trials that fall behind (median pruner)")
        self.prune.setObjectName("searchPrune")
        self.prune.setToolTip(
            "A trial whose figure is below the median of earlier trials at the same evaluation stops early; "
            "runs evaluate 4 times an epoch so that there is something to compare"
        )
        self.workers = QSpinBox()
        self.workers.setObjectName("searchWorkers")
        self.workers.setRange(1, 64)
        self.workers.setToolTip("Trials run side by side on this machine (one per GPU where there are several)")
        self.storage = QLineEdit()
        self.storage.setObjectName("searchStorage")
        self.storage.setPlaceholderText("SQLite in the search folder")
        self.storage.setToolTip(
            "An Optuna storage URL shared by several machines, such as postgresql://user@host/db; empty keeps the "
            "study in the search's folder"
        )
        self.grid_note = QLabel()
        self.grid_note.setObjectName("searchGridNote")
        self.grid_note.setWordWrap(True)
        self.folder = PathEdit()
        self.folder.setObjectName("searchFolder")
        self.folder.setText(str(default_folder()))
        self.folder_button = QPushButton("Choose…")
        self.folder_button.setObjectName("searchChooseFolder")
        self.base_summary = QLabel()
        self.base_summary.setObjectName("searchBaseSummary")
        self.base_summary.setWordWrap(True)

        what = QGroupBox("What to search")
        what_layout = QVBoxLayout(what)
        what_layout.addWidget(self.space)
        how = QGroupBox("How")
        form = QFormLayout(how)
        form.addRow("Method", self.method)
        form.addRow("Trials", self.trials)
        form.addRow("", self.grid_note)
        form.addRow("", self.prune)
        form.addRow("Workers", self.workers)
        form.addRow("Storage", self.storage)
        where = QGroupBox("Search folder")
        where_layout = QVBoxLayout(where)
        folder_row = QHBoxLayout()
        folder_row.addWidget(self.folder, 1)
        folder_row.addWidget(self.folder_button)
        where_layout.addLayout(folder_row)
        where_layout.addWidget(self.base_summary)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        for box in (what, how, where):
            layout.addWidget(box)

        self.space.changed.connect(self._on_settings_changed)
        self.method.currentIndexChanged.connect(self._on_settings_changed)
        self.trials.valueChanged.connect(self._on_settings_changed)
        self.folder_button.clicked.connect(self._on_folder_clicked)
        self._on_settings_changed()
        self.show_base(None)

    def method_key(self) -> str:
        return str(self.method.currentData())

    def learning_rate_searched(self) -> bool:
        return "learning_rate" in self.space.searched()

    def folder_path(self) -> str:
        return str(Path(self.folder.text().strip()).expanduser().absolute())

    def problem(self) -> str | None:
        """Why Start cannot start now, as the sentence to show; None when it can."""
        problem = self.space.first_problem()
        if problem:
            return problem
        if self.method_key() == "grid":
            try:
                points = self._grid_points()
            except ConfigError as exc:
                return str(exc)
            if points > self.trials.value():
                return (
                    f"The grid has {points} settings to try but Trials is {self.trials.value()}; raise Trials to "
                    f"{points}, list fewer values, or choose random or TPE."
                )
        folder = self.folder.text().strip()
        if not folder:
            return "Choose a folder for the search."
        path = Path(folder).expanduser()
        if path.exists() and (not path.is_dir() or any(path.iterdir())):
            from studio.core.search import SETTINGS_FILE

            if (path / SETTINGS_FILE).is_file():
                return f"{path} already holds a search; carry it on with Resume…, or choose a new folder."
            return f"{path} already holds other files; choose an empty folder or a new name for the search."
        return None

    def settings(self, base: TrainConfig) -> SearchSettings:
        """The search these settings describe, over the fixed settings `base`."""
        from studio.core.search import SearchSettings

        if self.prune.isChecked() and base.evaluations_per_epoch < 2:
            base = base.with_changes(evaluations_per_epoch=4)  # the pruner compares trials within their runs
        return SearchSettings(
            base=base,
            space=tuple(self.space.specs()),
            method=self.method_key(),
            trials=self.trials.value(),
            prune=self.prune.isChecked(),
            storage=self.storage.text().strip() or None,
            seed=base.seed,
        )

    def show_settings(self, settings: SearchSettings, folder: str) -> None:
        """Show a search's own space, method and budget (a resumed one, or as prepare_search adjusted it)."""
        self.space.set_specs(list(settings.space))
        self.method.setCurrentIndex(max(0, self.method.findData(settings.method)))
        self.trials.setValue(settings.trials)
        self.prune.setChecked(settings.prune)
        storage = settings.storage or ""
        self.storage.setText("" if storage.endswith("study.db") and folder in storage else storage)
        self.folder.setText(folder)

    def show_base(self, base: TrainConfig | None) -> None:
        if base is None:
            self.base_summary.setText("The other settings are the Train page's, with its data and model.")
            return
        data = Path(base.train_csv).name if base.train_csv else "no data chosen yet"
        model = "built-in MiniLM" if base.model.startswith("builtin:") else Path(base.model).name or base.model
        self.base_summary.setText(f"Fixed: {data}, model {model}; the rest as on the Train page.")

    def _grid_points(self) -> int:
        from studio.core.search_space import grid_size

        return grid_size([row.dimension() for row in self.space.rows])

    @Slot()
    def _on_settings_changed(self) -> None:
        if self.method_key() != "grid":
            self.grid_note.setVisible(False)
            return
        try:
            points = self._grid_points()
        except ConfigError as exc:
            text = str(exc) if not self.space.first_problem() else ""
        else:
            text = f"The grid has {points} setting{'s' if points != 1 else ''} to try."
        self.grid_note.setText(text)
        self.grid_note.setVisible(bool(text))

    @Slot()
    def _on_folder_clicked(self) -> None:
        start = str(Path(self.folder.text().strip() or default_folder()).expanduser().parent)
        folder = QFileDialog.getExistingDirectory(self, "Choose a folder for the search", start)
        if folder:
            self.folder.setText(folder)


def default_folder() -> Path:
    """A new folder under the studio's data folder, named by the time."""
    from studio.core.paths import data_dir

    return data_dir() / "searches" / time.strftime("search-%Y%m%d-%H%M%S")
