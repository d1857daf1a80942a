"""SearchSpaceEditor: one row per setting to search (a range, on a log scale or not, or a list), each checked."""

from __future__ import annotations

import contextlib

from PySide6.QtCore import Signal, Slot
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from studio.core.errors import ConfigError
from studio.core.search_space import Dimension, parse_dimension
from studio.ui.widgets import MessageLabel

RANGE, LIST = "range", "list"

# The settings offered first, by their field, with a name and a usual space to start from. Any other TrainConfig
# setting a search may vary follows them under its field name.
SEARCHABLE: tuple[tuple[str, str, str], ...] = (
    ("learning_rate", "Learning rate", "1e-5:1e-3:log"),
    ("batch_size", "Batch size", "16,32"),
    ("epochs", "Epochs", "2,3,4"),
    ("freeze_layers", "Frozen layers", "0:4"),
    ("weight_decay", "Weight decay", "0:0.1"),
    ("warmup_ratio", "Warm-up ratio", "0:0.2"),
    ("layer_lr_decay", "Layer-wise LR decay", "0.8:1"),
    ("lora_rank", "LoRA rank", "4,8,16"),
    ("lora_alpha", "LoRA alpha", "8,16,32"),
    ("lora_dropout", "LoRA dropout", "0:0.3"),
    ("dropout", "Dropout", "0:0.3"),
    ("label_smoothing", "Label smoothing", "0:0.2"),
    ("scheduler", "Scheduler", "linear,cosine"),
    ("warmup_steps", "Warm-up steps", "0:200"),
    ("gradient_accumulation", "Gradient accumulation", "1,2,4"),
    ("max_length", "Maximum length", "64,128"),
    ("early_stopping", "Early stopping patience", "none,2"),
    ("lora", "LoRA (on or off)", "false,true"),
)
LABELS = {name: label for name, label, _ in SEARCHABLE}


def _others() -> list[str]:
    """The searchable settings not in SEARCHABLE, for completeness (seed, oversample...)."""
    from dataclasses import fields

    from studio.core.config import TrainConfig
    from studio.core.search_space import _FIXED

    offered = set(LABELS)
    return [f.name for f in fields(TrainConfig) if f.name not in _FIXED and f.name not in offered]


def _numeric(name: str) -> bool:
    from studio.core.config import TrainConfig, field_types

    return field_types(TrainConfig)[name][0] in (int, float)


class SpaceRow(QFrame):
    """One setting: the chooser, range or list, low and high with a log box or the values, and its problem."""

    changed = Signal()
    remove_requested = Signal(object)  # this row

    def __init__(self, name: str = "learning_rate", parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("searchSpaceRow")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.name_box = QComboBox()
        self.name_box.setObjectName("searchSetting")
        for field_name, label, _ in SEARCHABLE:
            self.name_box.addItem(label, field_name)
        for field_name in _others():
            self.name_box.addItem(field_name, field_name)
        self.name_box.setToolTip("The setting to vary; the others are fixed at the Train page's values")
        self.kind_box = QComboBox()
        self.kind_box.setObjectName("searchKind")
        self.kind_box.addItem("range", RANGE)
        self.kind_box.addItem("list", LIST)
        self.kind_box.setToolTip("A range is sampled (random, TPE); a list is tried value by value (and by a grid)")
        self.remove_button = QToolButton()
        self.remove_button.setObjectName("searchRemoveSetting")
        self.remove_button.setText("✕")
        self.remove_button.setToolTip("Stop searching this setting")
        self.low = QLineEdit()
        self.low.setObjectName("searchLow")
        self.low.setPlaceholderText("low")
        self.high = QLineEdit()
        self.high.setObjectName("searchHigh")
        self.high.setPlaceholderText("high")
        self.log = QCheckBox("log scale")
        self.log.setObjectName("searchLog")
        self.log.setToolTip("Sample evenly in orders of magnitude (1e-5 to 1e-4 as often as 1e-4 to 1e-3)")
        self.values = QLineEdit()
        self.values.setObjectName("searchValues")
        self.values.setPlaceholderText("values, separated by commas")
        self.message = MessageLabel()
        self.message.setObjectName("searchRowProblem")

        top = QHBoxLayout()
        top.addWidget(self.name_box, 1)
        top.addWidget(self.kind_box)
        top.addWidget(self.remove_button)
        self.range_box = QWidget()
        range_layout = QHBoxLayout(self.range_box)
        range_layout.setContentsMargins(0, 0, 0, 0)
        range_layout.addWidget(self.low, 1)
        range_layout.addWidget(QLabel("to"))
        range_layout.addWidget(self.high, 1)
        range_layout.addWidget(self.log)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.setSpacing(4)
        layout.addLayout(top)
        layout.addWidget(self.range_box)
        layout.addWidget(self.values)
        layout.addWidget(self.message)

        self._filling = False
        self.set_spec(f"{name}={dict((n, s) for n, _, s in SEARCHABLE).get(name, '')}")
        self.name_box.currentIndexChanged.connect(self._on_name_changed)
        self.kind_box.currentIndexChanged.connect(self._on_edited)
        for edit in (self.low, self.high, self.values):
            edit.textChanged.connect(self._on_edited)
        self.log.toggled.connect(self._on_edited)
        self.remove_button.clicked.connect(self._on_remove_clicked)

    def setting(self) -> str:
        return str(self.name_box.currentData())

    def kind(self) -> str:
        return str(self.kind_box.currentData())

    def spec(self) -> str:
        """The row as `studio search --space` takes it: NAME=LOW:HIGH[:log] or NAME=A,B,C."""
        if self.kind() == RANGE:
            rest = f"{self.low.text().strip()}:{self.high.text().strip()}" + (":log" if self.log.isChecked() else "")
        else:
            rest = ",".join(v.strip() for v in self.values.text().split(","))
        return f"{self.setting()}={rest}"

    def dimension(self) -> Dimension:
        """The parsed setting, or ConfigError with the sentence the row shows."""
        if self.kind() == RANGE and not (self.low.text().strip() and self.high.text().strip()):
            raise ConfigError(f"Give the range of {self.label()}: a low and a high value.")
        if self.kind() == LIST and not self.values.text().strip():
            raise ConfigError(f"Give the values of {self.label()} to try, separated by commas.")
        return parse_dimension(self.spec())

    def label(self) -> str:
        return LABELS.get(self.setting(), self.setting()).lower()

    def problem(self) -> str | None:
        try:
            self.dimension()
        except ConfigError as exc:
            return str(exc)
        return None

    def check(self) -> str | None:
        """Show the row's problem under it (or nothing); return it."""
        problem = self.problem()
        if problem:
            self.message.show_error(problem)
        else:
            self.message.clear_message()
        return problem

    def set_spec(self, spec: str) -> None:
        """Fill the row from NAME=LOW:HIGH[:log] or NAME=A,B,C (a resumed search's space)."""
        name, _, rest = spec.partition("=")
        with contextlib.suppress(ConfigError):
            name = parse_dimension(spec).name  # an option name (lr) becomes its field
        self._filling = True
        try:
            index = self.name_box.findData(name.strip())
            if index >= 0:
                self.name_box.setCurrentIndex(index)
            numeric = _numeric(self.setting())
            is_range = numeric and ":" in rest and "," not in rest
            parts = rest.split(":")
            self.kind_box.setCurrentIndex(self.kind_box.findData(RANGE if is_range else LIST))
            self.low.setText(parts[0].strip() if is_range else "")
            self.high.setText(parts[1].strip() if is_range and len(parts) > 1 else "")
            self.log.setChecked(is_range and len(parts) > 2 and parts[2].strip().lower() == "log")
            self.values.setText("" if is_range else ", ".join(v.strip() for v in rest.split(",") if v.strip()))
        finally:
            self._filling = False
        self._show_kind()
        self.check()

    def _show_kind(self) -> None:
        numeric = _numeric(self.setting())
        # A range of words has no order: those settings take a list only.
        self.kind_box.setEnabled(numeric)
        self.range_box.setVisible(self.kind() == RANGE)
        self.values.setVisible(self.kind() == LIST)

    @Slot()
    def _on_name_changed(self) -> None:
        if self._filling:
            return
        name = self.setting()
        self.set_spec(f"{name}={dict((n, s) for n, _, s in SEARCHABLE).get(name, '')}")
        self.changed.emit()

    @Slot()
    def _on_edited(self) -> None:
        if self._filling:
            return
        if self.kind() == RANGE and not _numeric(self.setting()):
            self.kind_box.setCurrentIndex(self.kind_box.findData(LIST))
            return
        self._show_kind()
        self.check()
        self.changed.emit()

    @Slot()
    def _on_remove_clicked(self) -> None:
        self.remove_requested.emit(self)


class SearchSpaceEditor(QWidget):
    """The rows, an "Add a setting" button, and the space's own problem (a setting named twice)."""

    changed = Signal()

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.rows: list[SpaceRow] = []
        self._rows_layout = QVBoxLayout()
        self._rows_layout.setContentsMargins(0, 0, 0, 0)
        self._rows_layout.setSpacing(6)
        self.add_button = QPushButton("Add a setting")
        self.add_button.setObjectName("searchAddSetting")
        self.add_button.setToolTip("Search one more setting")
        self.message = MessageLabel()
        self.message.setObjectName("searchSpaceProblem")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(self._rows_layout)
        layout.addWidget(self.message)
        layout.addWidget(self.add_button)
        self.add_button.clicked.connect(self._on_add_clicked)
        self.add_row("learning_rate")

    def add_row(self, name: str | None = None) -> SpaceRow:
        if name is None:
            # The first offered setting not searched yet.
            taken = {row.setting() for row in self.rows}
            name = next((n for n, _, _ in SEARCHABLE if n not in taken), SEARCHABLE[0][0])
        row = SpaceRow(name)
        row.changed.connect(self._on_row_changed)
        row.remove_requested.connect(self._on_remove_requested)
        self.rows.append(row)
        self._rows_layout.addWidget(row)
        self._on_row_changed()
        return row

    def set_specs(self, specs: list[str]) -> None:
        """Show a space (a resumed search's): one row per spec."""
        for row in list(self.rows):
            self._remove(row)
        for spec in specs:
            self.add_row().set_spec(spec)
        self._on_row_changed()

    def specs(self) -> list[str]:
        return [row.spec() for row in self.rows]

    def searched(self) -> list[str]:
        """The settings the rows name, as fields."""
        return [row.setting() for row in self.rows]

    def first_problem(self) -> str | None:
        """Each row shows its own problem; this returns the first one, or the space's, or None."""
        problems = [row.check() for row in self.rows]
        first = next((p for p in problems if p), None)
        return first or self._space_problem()

    def _space_problem(self) -> str | None:
        if not self.rows:
            return "Add a setting to search."
        names = self.searched()
        twice = sorted({LABELS.get(n, n).lower() for n in names if names.count(n) > 1})
        if twice:
            return f"The {', '.join(twice)} {'is' if len(twice) == 1 else 'are'} searched twice; keep one row each."
        return None

    def _remove(self, row: SpaceRow) -> None:
        self.rows.remove(row)
        self._rows_layout.removeWidget(row)
        row.setParent(None)
        row.deleteLater()

    @Slot()
    def _on_row_changed(self) -> None:
        problem = self._space_problem()
        if problem and self.rows:
            self.message.show_error(problem)
        else:
            self.message.clear_message()
        self.changed.emit()

    @Slot(object)
    def _on_remove_requested(self, row: SpaceRow) -> None:
        self._remove(row)
        self._on_row_changed()

    @Slot()
    def _on_add_clicked(self) -> None:
        self.add_row()
