"""HyperparameterForm: the Train page's settings, each refused where it is typed when it cannot work."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import (
    QAbstractSpinBox,
    QCheckBox,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QLabel,
    QSlider,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from studio.core.config import TrainConfig
from studio.core.modeling import ModelInfo, trainable_after_freezing
from studio.core.tasks import get_task
from studio.ui import formatting
from studio.ui.pages.train_methods import MethodSettings
from studio.ui.settings import Hyperparameters
from studio.ui.widgets import MessageLabel, ScientificSpinBox, parse_number, row

# The form's number fields: whole numbers, or decimals (the learning rate and the epochs).
SpinBox = QSpinBox | QDoubleSpinBox

UNKNOWN_LAYERS = 48  # the frozen-layers limit until the model's layer count is known
UNKNOWN_LENGTH = 65536


class TrimmedDoubleSpinBox(QDoubleSpinBox):
    """A QDoubleSpinBox that shows 3 rather than 3.00."""

    def textFromValue(self, value: float) -> str:
        return f"{value:.{self.decimals()}f}".rstrip("0").rstrip(".")


class HyperparameterForm(QGroupBox):
    """Learning rate, epochs, batch size, maximum length, frozen layers, seed and evaluations per epoch; below
    them the fine-tuning methods in collapsible sections (train_methods.py)."""

    problems_changed = Signal()
    settings_changed = Signal()  # any value, the task or the model changed: the layer map follows

    def __init__(self, values: Hyperparameters, parent: QWidget | None = None):
        super().__init__("Settings", parent)
        self.info: ModelInfo | None = None
        self._problems: dict[str, str] = {}
        self._task = "single"
        self._setting_rate = False  # the form itself is changing the learning rate, not the user
        self._seen: dict[str, float] = {}  # the form's own boxes' values as last checked, by field

        self.learning_rate = ScientificSpinBox()
        self.learning_rate.setObjectName("learningRate")
        self.learning_rate.setToolTip("How big each update of the weights is; 2e-5 to 1e-4 is usual for fine-tuning")
        # Checked, the learning rate is the task's own (the config gets None): it follows the task chosen on the
        # Data page. A rate typed or stepped to unchecks it; checking it again brings the task's back.
        self.rate_follows_task = QCheckBox("task default")
        self.rate_follows_task.setObjectName("learningRateFollowsTask")
        self.epochs = TrimmedDoubleSpinBox()
        self.epochs.setObjectName("epochs")
        self.epochs.setDecimals(2)
        self.epochs.setRange(0.01, 1000)
        self.epochs.setToolTip("How many times to go through the training rows (a fraction is allowed)")
        self.batch_size = QSpinBox()
        self.batch_size.setObjectName("batchSize")
        self.batch_size.setRange(1, 65536)
        self.batch_size.setToolTip("Rows per step; lower it if the GPU runs out of memory")
        self.max_length = QSpinBox()
        self.max_length.setObjectName("maxLength")
        self.max_length.setRange(8, UNKNOWN_LENGTH)
        self.max_length.setSingleStep(32)
        self.max_length.setSuffix(" tokens")
        self.max_length.setToolTip("Longer texts are cut to this many tokens")
        self.frozen_layers = QSpinBox()
        self.frozen_layers.setObjectName("frozenLayers")
        self.frozen_layers.setRange(0, UNKNOWN_LAYERS)
        self.frozen_layers.setToolTip(
            "Freeze the embeddings and this many of the lowest layers: faster, and often as good on small data"
        )
        self.frozen_slider = QSlider(Qt.Orientation.Horizontal)
        self.frozen_slider.setObjectName("frozenLayersSlider")
        self.frozen_slider.setRange(0, UNKNOWN_LAYERS)
        self.frozen_slider.setPageStep(1)
        self.frozen_slider.setTickPosition(QSlider.TickPosition.TicksBelow)
        self.frozen_summary = QLabel()
        self.frozen_summary.setObjectName("frozenLayersSummary")
        self.frozen_summary.setWordWrap(True)
        self.seed = QSpinBox()
        self.seed.setObjectName("seed")
        self.seed.setRange(0, 2**31 - 1)
        self.seed.setToolTip("The same seed, data and settings give the same model")
        self.evaluations = QSpinBox()
        self.evaluations.setObjectName("evaluationsPerEpoch")
        self.evaluations.setRange(1, 100)
        self.evaluations.setToolTip("How often to measure the model on the validation rows in each epoch")
        self.problem = MessageLabel()
        self.problem.setObjectName("settingsProblem")
        # Under the learning rate: why the task's rate is a LoRA rate now, or that LoRA wants a larger one.
        self.rate_note = QLabel()
        self.rate_note.setObjectName("learningRateNote")
        self.rate_note.setWordWrap(True)
        self.rate_note.setStyleSheet("color: #52606d;")
        self.rate_note.setVisible(False)
        self.methods = MethodSettings()

        self._fields: dict[str, tuple[SpinBox, str, type]] = {
            "learning_rate": (self.learning_rate, "The learning rate", float),
            "epochs": (self.epochs, "The number of epochs", float),
            "batch_size": (self.batch_size, "The batch size", int),
            "max_length": (self.max_length, "The maximum length", int),
            "freeze_layers": (self.frozen_layers, "The number of frozen layers", int),
            "seed": (self.seed, "The seed", int),
            "evaluations_per_epoch": (self.evaluations, "Evaluations per epoch", int),
        }
        # Every number field the form checks, its own and the methods'.
        self._spins: dict[str, tuple[SpinBox, str, type]] = {**self._fields, **self.methods.spin_fields}
        self.set_values(values)

        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        form.addRow("Learning rate", row(self.learning_rate, self.rate_follows_task, stretch_first=True))
        form.addRow("", self.rate_note)
        form.addRow("Epochs", self.epochs)
        form.addRow("Batch size", self.batch_size)
        form.addRow("Max length", self.max_length)
        form.addRow("Frozen layers", row(self.frozen_layers, self.frozen_slider, stretch_first=False))
        form.addRow("", self.frozen_summary)
        form.addRow("Seed", self.seed)
        form.addRow("Evaluations / epoch", self.evaluations)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.problem)
        layout.addWidget(self.methods)

        for widget, _, _ in self._spins.values():
            widget.lineEdit().textEdited.connect(self._on_field_edited)
            widget.editingFinished.connect(self._on_field_edited)
        for widget, _, _ in self._fields.values():
            widget.valueChanged.connect(self._on_value_changed)
        self.methods.changed.connect(self._on_methods_changed)
        self.frozen_layers.valueChanged.connect(self._on_frozen_spin_changed)
        self.frozen_slider.valueChanged.connect(self._on_frozen_slider_changed)
        self.learning_rate.valueChanged.connect(self._on_learning_rate_value_changed)
        self.learning_rate.lineEdit().textEdited.connect(self._on_learning_rate_text_edited)
        self.rate_follows_task.toggled.connect(self._on_rate_follows_task_toggled)
        self._on_frozen_spin_changed(self.frozen_layers.value())
        self._seen = {name: widget.value() for name, (widget, _, _) in self._fields.items()}
        self._check_all()
        self._show_problems()

    # Values ------------------------------------------------------------------------------------------

    def set_values(self, values: Hyperparameters) -> None:
        if values.learning_rate is None:
            self._follow_task(True)
        else:
            self._follow_task(False)
            self._set_rate(values.learning_rate)
        self.epochs.setValue(values.epochs)
        self.batch_size.setValue(values.batch_size)
        self.max_length.setValue(values.max_length)
        self.frozen_layers.setValue(values.freeze_layers)
        self.seed.setValue(values.seed)
        self.evaluations.setValue(values.evaluations_per_epoch)
        self.methods.set_values(values)

    def values(self) -> dict:
        """The TrainConfig fields this form sets."""
        for widget, _, _ in self._spins.values():
            # Text set without typing (by code, or pasted) counts once it is acceptable.
            if widget.hasAcceptableInput():
                widget.interpretText()
        return self._values(lambda name: self._spins[name][0].value())

    def _values(self, number) -> dict:
        return {
            "learning_rate": None if self.follows_task() else number("learning_rate"),
            "epochs": number("epochs"),
            "batch_size": number("batch_size"),
            "max_length": number("max_length"),
            "freeze_layers": number("freeze_layers"),
            "seed": number("seed"),
            "evaluations_per_epoch": number("evaluations_per_epoch"),
            **self.methods.values(number),
        }

    def layer_config(self) -> TrainConfig | None:
        """The settings the layer map draws (with a stand-in for the data), or None while one cannot work."""
        if self._problems:
            return None

        # As typed, without values()'s interpretText: that would rewrite a box's text while it is being typed.
        def number(name: str) -> Any:
            value, _ = self._typed(name)
            return self._spins[name][0].value() if value is None else value

        return TrainConfig(train_csv="-", task=self._task, **self._values(number))

    # The learning rate follows the task -----------------------------------------------------------------

    def set_task(self, name: str) -> None:
        """The task the Data page shows: its learning rate is the one shown while the box is checked."""
        self._task = name
        self._show_task_rate()
        self._check_all()
        self._show_problems()
        self.settings_changed.emit()

    def follows_task(self) -> bool:
        """Whether the learning rate is left to the task (the config then gets None)."""
        return self.rate_follows_task.isChecked()

    def _follow_task(self, follow: bool) -> None:
        self.rate_follows_task.blockSignals(True)
        self.rate_follows_task.setChecked(follow)
        self.rate_follows_task.blockSignals(False)
        self._show_task_rate()

    def _show_task_rate(self) -> None:
        task = get_task(self._task)
        lora = self.methods.lora.isChecked()
        default = task.default_lora_learning_rate if lora else task.default_learning_rate
        rate = formatting.learning_rate(default)
        full = formatting.learning_rate(task.default_learning_rate)
        self.rate_follows_task.setToolTip(
            f"Use the learning rate that suits the task: {rate} for {task.title.lower()}"
            + (" with LoRA" if lora else "")
            + ". Typing a rate of your own unchecks this."
        )
        if lora and self.follows_task():
            self.rate_note.setText(f"LoRA's rate: the adapters start at zero and need larger steps than {full}.")
        elif lora:
            self.rate_note.setText(f"LoRA usually wants a larger rate, such as {rate} (check task default).")
        self.rate_note.setVisible(lora)
        if self.follows_task():
            self._set_rate(default)
            self._problems.pop("learning_rate", None)

    def _set_rate(self, value: float) -> None:
        self._setting_rate = True
        try:
            self.learning_rate.setValue(value)
        finally:
            self._setting_rate = False

    @Slot(float)
    def _on_learning_rate_value_changed(self, value: float) -> None:
        if not self._setting_rate:
            self._follow_task(False)  # stepped with the arrows or the wheel: the user's own rate

    @Slot(str)
    def _on_learning_rate_text_edited(self, text: str) -> None:
        self._follow_task(False)

    @Slot(bool)
    def _on_rate_follows_task_toggled(self, checked: bool) -> None:
        self._show_task_rate()
        if checked:
            self._check_all()
            self._show_problems()
        self.settings_changed.emit()

    def store(self, into: Hyperparameters) -> None:
        for name, value in self.values().items():
            setattr(into, name, value)

    def first_problem(self) -> str | None:
        """Why training cannot start with what is typed now, or None."""
        self._check_all()
        self._show_problems()
        return next(iter(self._problems.values()), None)

    def problems(self) -> dict[str, str]:
        """Each setting that cannot work as typed now, by TrainConfig field name, with its sentence."""
        return dict(self._problems)

    # The model sets the limits -------------------------------------------------------------------------

    def set_model_info(self, info: ModelInfo | None) -> None:
        """The model's layer count and longest input become the limits (values above them come down)."""
        self.info = info
        before = (self.frozen_layers.value(), self.max_length.value())
        layers = info.num_layers if info and info.num_layers else UNKNOWN_LAYERS
        self.frozen_layers.setMaximum(layers)
        self.frozen_slider.setMaximum(layers)
        self.max_length.setMaximum(info.max_length if info and info.max_length >= 8 else UNKNOWN_LENGTH)
        self._show_frozen()
        if before[1] != self.max_length.value():
            self.problem.show_message(
                f"Max length set to {self.max_length.value()} tokens, the most this model reads.", "info"
            )
        elif before[0] != self.frozen_layers.value():
            self.problem.show_message(f"Frozen layers set to {self.frozen_layers.value()}, all this model has.", "info")
        self.settings_changed.emit()

    def _show_frozen(self) -> None:
        n = self.frozen_layers.value()
        info = self.info
        lora = self.methods.lora.isChecked()
        self.frozen_layers.setEnabled(not lora)
        self.frozen_slider.setEnabled(not lora)
        if lora:
            self.frozen_summary.setText(
                "Ignored under LoRA: the model's own weights all stay frozen; the adapters and the head train."
            )
            return
        counts = info.parameter_counts if info else None
        if info is None or not counts or not counts.get("blocks"):
            self.frozen_summary.setText(
                f"{n} layer{'s' if n != 1 else ''} frozen - the parameter count shows once the model is read"
            )
            return
        layers = len(counts["blocks"])
        total = counts["total"]
        trainable = trainable_after_freezing(counts, n)
        self.frozen_summary.setText(
            f"{n} of {layers} layers frozen - "
            + (
                f"all {formatting.count(total)} parameters train"
                if n == 0
                else f"{formatting.count(trainable)} of {formatting.count(total)} parameters train"
            )
        )

    # Refusing what cannot work --------------------------------------------------------------------------

    def _typed(self, name: str) -> tuple[float | None, str | None]:
        """A number field's value as typed, or why the text is not one."""
        widget, title, kind = self._spins[name]
        text = widget.lineEdit().text()
        for affix in (widget.prefix(), widget.suffix()):
            text = text.replace(affix, "") if affix else text
        number = parse_number(text)
        if number is None:
            return None, f"{title} must be a number."
        if kind is int:
            if number != int(number):
                return None, f"{title} must be a whole number (got {text.strip()})."
            return int(number), None
        return number, None

    def _check_all(self) -> None:
        """Every setting as typed, checked together (the patience against the run's evaluations, LoRA against
        gradual unfreezing) by TrainConfig; a box whose text is no number says so."""
        unreadable: dict[str, str] = {}

        def number(name: str) -> Any:
            value, problem = self._typed(name)
            if problem and (name in self._fields or self.methods.in_use(name)):
                unreadable[name] = problem
            return self._spins[name][0].value() if value is None else value

        values = self._values(number)
        config = TrainConfig(train_csv="-", task=self._task, **values)
        found = {name: p for name, p in config.problems().items() if name in values}
        found.update(unreadable)
        for name, (widget, title, _) in self._fields.items():
            if name in found:
                continue
            # The form's own boxes one by one, as typed: the rate's text counts even while it follows the task.
            value, _ = self._typed(name)
            field: dict[str, Any] = {name: value}  # any one of TrainConfig's number fields
            problem = TrainConfig(train_csv="-", **field).problems().get(name)
            if problem is None and not widget.hasAcceptableInput():
                problem = self._limit_sentence(name, title, widget)
            if problem:
                found[name] = problem
        order = list(values)
        self._problems = {name: found[name] for name in sorted(found, key=order.index)}

    def _limit_sentence(self, name: str, title: str, widget: SpinBox) -> str:
        if name == "freeze_layers" and self.info is not None:
            return f"The model has {self.info.num_layers} layers, so at most {self.info.num_layers} can be frozen."
        if name == "max_length" and self.info is not None:
            return f"This model reads at most {self.info.max_length} tokens; set the maximum length to that or less."
        if isinstance(widget, QSpinBox):  # an int box takes only ints, a double box floats: one branch each
            low, high = widget.textFromValue(widget.minimum()), widget.textFromValue(widget.maximum())
        else:
            low, high = widget.textFromValue(widget.minimum()), widget.textFromValue(widget.maximum())
        return f"{title} must be from {low} to {high}."

    def _show_problems(self, note: str | None = None) -> None:
        # The form's own settings say it under the form; each method's in its section, which opens.
        mine = [p for name, p in self._problems.items() if name not in self.methods.section_of]
        problem = next(iter(mine), None) or note
        if problem:
            self.problem.show_error(problem)
        elif self.problem.has_error():
            self.problem.clear_message()  # a note about limits the model set stays until the next one
        self.methods.show_problems(self._problems, self._values(lambda name: self._spins[name][0].value()))
        self.problems_changed.emit()

    def _field_of(self, sender) -> str | None:
        for name, (widget, _, _) in self._spins.items():
            if sender is widget or sender is widget.lineEdit():
                return name
        return None

    @Slot()
    def _on_field_edited(self) -> None:
        sender = self.sender()
        name = self._field_of(sender)
        if name is None:
            return
        before = self._problems.get(name)
        self._check_all()
        note = None
        if before and name not in self._problems and isinstance(sender, QAbstractSpinBox):
            # Editing ended on a refused value and the spin box went back to its last good one: say so.
            note = f"{before} Kept {sender.text()}."
        self._show_problems(note)
        self.settings_changed.emit()

    @Slot()
    def _on_value_changed(self) -> None:
        # Stepped or set: the epochs and evaluations decide whether early stopping can work, among others.
        # A box that goes back to its last good value when editing ends emits this too, with the value it had:
        # that is _on_field_edited's to answer ("Kept 32."), not a change.
        sender = self.sender()
        name = self._field_of(sender)
        if name is not None:
            value = self._spins[name][0].value()
            if self._seen.get(name) == value:
                return
            self._seen[name] = value
        self._check_all()
        self._show_problems()
        self.settings_changed.emit()

    @Slot()
    def _on_methods_changed(self) -> None:
        self._show_task_rate()
        self._show_frozen()
        self._check_all()
        self._show_problems()
        self.settings_changed.emit()

    @Slot(int)
    def _on_frozen_spin_changed(self, value: int) -> None:
        self.frozen_slider.blockSignals(True)
        self.frozen_slider.setValue(value)
        self.frozen_slider.blockSignals(False)
        self._show_frozen()

    @Slot(int)
    def _on_frozen_slider_changed(self, value: int) -> None:
        self.frozen_layers.setValue(value)
