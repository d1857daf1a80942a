"""File > Save settings… and Load settings…: the window's TrainConfig to a .toml or .json file, and back."""

from __future__ import annotations

import logging
from dataclasses import fields
from pathlib import Path
from typing import TYPE_CHECKING, cast

from PySide6.QtCore import QObject, Qt, Slot
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QFileDialog, QMessageBox

from studio.core.config import BUILTIN_MODEL, TrainConfig
from studio.core.errors import StudioError
from studio.ui.settings import Hyperparameters

if TYPE_CHECKING:
    from studio.ui.main_window import MainWindow

log = logging.getLogger(__name__)

FILTERS = "Settings (*.toml *.json);;TOML (*.toml);;JSON (*.json)"
LOAD_FILTERS = "Settings (*.toml *.json);;All files (*)"


class SettingsFiles(QObject):
    """The File menu's two actions, and putting a loaded config into the Model, Data and Train pages."""

    def __init__(self, window: MainWindow):
        super().__init__(window)
        # The window is this object's Qt parent, not a Python attribute: window <-> self would be a reference
        # cycle, which Python's collector may free on the training thread (TrainingController._launch says why).
        # (file, text, label, pair, task) of a loaded config, chosen on the Data page once the file has been read.
        self._columns: tuple[str, str | None, str | None, str | None, str | None] | None = None
        self._following_data = False
        self.save_action = QAction("&Save settings…", window)
        self.save_action.setObjectName("saveSettingsAction")
        self.save_action.setShortcut(QKeySequence.StandardKey.Save)
        self.save_action.setStatusTip("Save the model, files and hyperparameters to a .toml or .json file")
        self.load_action = QAction("&Load settings…", window)
        self.load_action.setObjectName("loadSettingsAction")
        self.load_action.setShortcut(QKeySequence.StandardKey.Open)
        self.load_action.setStatusTip("Load settings saved here, by `studio train`, or a run's own config.json")
        menu = window.menuBar().addMenu("&File")
        menu.setObjectName("fileMenu")
        menu.addAction(self.save_action)
        menu.addAction(self.load_action)
        self.save_action.triggered.connect(self._on_save_triggered)
        self.load_action.triggered.connect(self._on_load_triggered)

    def _window(self) -> MainWindow:
        return cast("MainWindow", self.parent())

    # Save ------------------------------------------------------------------------------------------------

    @Slot()
    def _on_save_triggered(self) -> None:
        window = self._window()
        if window.data_page is None:
            return  # the pages are still being built, a moment after the window shows
        problem = window.pages.train.form.first_problem()
        if problem:
            self.refuse(f"These settings cannot be saved yet: {_lower_first(problem)}")
            return
        config = window.current_config()
        problems = config.problems()
        problems.pop("train_csv", None)  # a set of hyperparameters without data is worth sharing too
        if problems:
            self.refuse(f"These settings cannot be saved yet: {_lower_first(next(iter(problems.values())))}")
            return
        path, chosen_filter = QFileDialog.getSaveFileName(window, "Save settings", self._start_folder(), FILTERS)
        if not path:
            return
        path = _with_suffix(path, chosen_filter)
        try:
            config.save(path)
        except StudioError as exc:
            self.refuse(str(exc))
            return
        self._remember(path)
        window.statusBar().showMessage(f"Settings saved to {path}", 10000)

    # Load ------------------------------------------------------------------------------------------------

    @Slot()
    def _on_load_triggered(self) -> None:
        if self._window().data_page is None:
            return
        path, _ = QFileDialog.getOpenFileName(self._window(), "Load settings", self._start_folder(), LOAD_FILTERS)
        if path:
            self.load(path)

    def load(self, path: str) -> bool:
        """Put the settings in path into the pages; a file that cannot be used is refused with a sentence."""
        try:
            config = TrainConfig.load(path)
        except StudioError as exc:
            self.refuse(str(exc))
            return False
        self.apply(config)
        self._remember(path)
        self._window().statusBar().showMessage(f"Settings loaded from {path}", 10000)
        return True

    def apply(self, config: TrainConfig) -> None:
        """The model, the files and their columns, and every hyperparameter, as the config has them."""
        window = self._window()
        model = window.model_page
        if config.model == BUILTIN_MODEL:
            model.source.setCurrentIndex(0)
        else:
            model.source.setEditText(config.model)
        model.allow_pickle.setChecked(config.allow_pickle)
        model.inspect()

        pages = window.pages
        form = pages.train.form
        form.set_values(Hyperparameters(**{f.name: getattr(config, f.name) for f in fields(Hyperparameters)}))
        form.first_problem()  # clears a refusal shown for what was typed before
        hardware = getattr(pages.train, "hardware", None)
        if hardware is not None:
            # A device this machine lacks (a config from a GPU machine) stays as chosen here.
            for combo, value in ((hardware.device, config.device), (hardware.precision, config.precision)):
                index = combo.findData(value)
                if index >= 0:
                    combo.setCurrentIndex(index)

        data = pages.data
        data.share.setValue(round(config.validation_share * 100))
        if config.validation_csv:
            data.load_validation(config.validation_csv)
        else:
            data.validation_edit.clear()
        if config.train_csv:
            # The columns are chosen once the file has been read (in the background).
            self._columns = (
                str(Path(config.train_csv).expanduser()),
                config.text_column,
                config.label_column,
                config.pair_column,
                config.task,
            )
            if not self._following_data:
                data.table_loaded.connect(self._on_table_loaded)
                self._following_data = True
            data.load_train(config.train_csv)

    @Slot(object)
    def _on_table_loaded(self, loaded) -> None:
        if self._columns is None or str(loaded.table.path) != self._columns[0]:
            return
        _, text, label, pair, task = self._columns
        self._columns = None
        data = self._window().pages.data
        missing = data.choose(text, label, pair, task)
        if missing:
            data.columns_message.show_error(
                f"The settings name the column {missing[0]!r}, which {loaded.table.path.name} does not have; "
                "choose the column here."
            )

    # Helpers ---------------------------------------------------------------------------------------------

    def refuse(self, message: str) -> None:
        """Say why in a message box over the window (not modal to the app: the window keeps drawing)."""
        box = QMessageBox(QMessageBox.Icon.Warning, "Settings", message, QMessageBox.StandardButton.Ok, self._window())
        box.setObjectName("settingsFileMessage")
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.open()

    def _remember(self, path: str) -> None:
        self._window().settings.remember("recent_configs", str(Path(path).expanduser().resolve()))

    def _start_folder(self) -> str:
        recent = self._window().settings.recent_configs
        return str(Path(recent[0]).parent) if recent else str(Path.home())


def _with_suffix(path: str, chosen_filter: str) -> str:
    """The name as typed, with .toml or .json added when it has neither (as the chosen filter says)."""
    if Path(path).suffix.lower() in (".toml", ".json"):
        return path
    return path + (".json" if chosen_filter.startswith("JSON") else ".toml")


def _lower_first(sentence: str) -> str:
    return sentence[:1].lower() + sentence[1:]
