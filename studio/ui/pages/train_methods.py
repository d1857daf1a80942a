"""The Train page's fine-tuning methods: schedule, layers, LoRA, early stopping, regularisation and rare classes."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QSpinBox,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from studio.core.config import CLASS_WEIGHTS, REPORT_TO, SCHEDULERS, UNFREEZE_UNITS
from studio.ui.settings import Hyperparameters
from studio.ui.widgets import MessageLabel, row

CUSTOM_WEIGHTS = "custom"
# The spin boxes take impossible values too (a rank of 0, a decay of 1.5), so that what is typed stays in
# the box and TrainConfig's sentence says what would work, instead of Qt silently refusing the keystroke.
WIDE = 100_000


class TrimmedSpinBox(QDoubleSpinBox):
    """A decimal spin box that shows 0.1 rather than 0.100."""

    def __init__(self, decimals: int, high: float, step: float):
        super().__init__()
        self.setDecimals(decimals)
        self.setRange(0, high)
        self.setSingleStep(step)

    def textFromValue(self, value: float) -> str:
        return f"{value:.{self.decimals()}f}".rstrip("0").rstrip(".")


def _whole(low: int = 0, high: int = WIDE, suffix: str = "") -> QSpinBox:
    box = QSpinBox()
    box.setRange(low, high)
    if suffix:
        box.setSuffix(suffix)
    return box


class Section(QWidget):
    """A collapsible group: a header that says what is set (or that something is wrong), its fields below."""

    def __init__(self, title: str, name: str, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName(f"{name}Section")
        self.title = title
        self.header = QToolButton()
        self.header.setObjectName(f"{name}Header")
        self.header.setText(title)
        self.header.setCheckable(True)
        self.header.setAutoRaise(True)
        self.header.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.header.setArrowType(Qt.ArrowType.RightArrow)
        self.header.setStyleSheet("QToolButton { font-weight: 600; border: none; padding: 2px 0; }")
        self.summary = QLabel()
        self.summary.setObjectName(f"{name}Summary")
        self.summary.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        self.body = QWidget()
        self.body.setObjectName(f"{name}Body")
        self.form = QFormLayout(self.body)
        self.form.setContentsMargins(18, 0, 0, 4)
        self.form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        self.problem = MessageLabel()
        self.problem.setObjectName(f"{name}Problem")
        self.form.addRow(self.problem)
        self.body.setVisible(False)
        top = QHBoxLayout()
        top.setContentsMargins(0, 0, 0, 0)
        top.addWidget(self.header)
        top.addWidget(self.summary, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addLayout(top)
        layout.addWidget(self.body)
        self.header.toggled.connect(self._on_header_toggled)

    def add_row(self, label: str, field) -> None:
        """A row above the section's problem line; without a label (a checkbox) it spans the section's width."""
        at = self.form.rowCount() - 1
        if label:
            self.form.insertRow(at, label, field)
        else:
            self.form.insertRow(at, field)

    def expanded(self) -> bool:
        return self.header.isChecked()

    def set_expanded(self, expanded: bool) -> None:
        self.header.setChecked(expanded)

    def show_state(self, summary: str, problem: str | None) -> None:
        """The header's summary, or that a setting inside cannot work (the section opens to show it)."""
        if problem:
            self.summary.setText("cannot work - see below")
            self.summary.setStyleSheet("QLabel { color: #b00020; } QLabel:disabled { color: #9aa5b1; }")
            self.problem.show_error(problem)
            self.set_expanded(True)
        else:
            self.summary.setText(summary)
            self.summary.setStyleSheet("QLabel { color: #52606d; } QLabel:disabled { color: #9aa5b1; }")
            self.problem.clear_message()

    @Slot(bool)
    def _on_header_toggled(self, checked: bool) -> None:
        self.header.setArrowType(Qt.ArrowType.DownArrow if checked else Qt.ArrowType.RightArrow)
        self.body.setVisible(checked)


class MethodSettings(QWidget):
    """The methods' widgets in six sections; HyperparameterForm checks them with the rest of the form."""

    changed = Signal()  # any of the values changed (typed, stepped, toggled or chosen)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("methodSettings")
        self._problems: dict[str, str] = {}  # as the form last checked them

        self.scheduler = QComboBox()
        self.scheduler.setObjectName("scheduler")
        for name in SCHEDULERS:
            self.scheduler.addItem(name, name)
        self.scheduler.setToolTip(
            "How the learning rate changes after the warm-up: linear and cosine go down to 0, constant stays"
        )
        self.warmup_ratio = TrimmedSpinBox(3, 10, 0.05)
        self.warmup_ratio.setObjectName("warmupRatio")
        self.warmup_ratio.setToolTip("Share of the steps over which the rate climbs from 0 to its peak (0.06 to 0.1)")
        self.warmup_steps = _whole(suffix=" steps")
        self.warmup_steps.setObjectName("warmupSteps")
        self.warmup_steps.setToolTip("Warm-up in steps; above 0 it replaces the share")

        self.gradual = QCheckBox("Gradual unfreezing from the top")
        self.gradual.setObjectName("gradualUnfreezing")
        self.gradual.setToolTip(
            "Start with the head (and the top blocks below) training, then unfreeze one more block from the top "
            "at a time"
        )
        self.unfreeze_every = _whole()
        self.unfreeze_every.setObjectName("unfreezeEvery")
        self.unfreeze_every.setToolTip("Unfreeze one more block after this many steps or epochs")
        self.unfreeze_unit = QComboBox()
        self.unfreeze_unit.setObjectName("unfreezeUnit")
        for unit in UNFREEZE_UNITS:
            self.unfreeze_unit.addItem(unit, unit)
        self.unfreeze_start = _whole(suffix=" blocks")
        self.unfreeze_start.setObjectName("unfreezeStart")
        self.unfreeze_start.setToolTip("Top blocks that train from the start, besides the head")
        self.layer_lr_decay = TrimmedSpinBox(3, 10, 0.05)
        self.layer_lr_decay.setObjectName("layerLrDecay")
        self.layer_lr_decay.setToolTip(
            "Each block's rate is the one above it times this; the head takes the full rate (1: the same rate "
            "everywhere; 0.8 to 0.95 is usual)"
        )

        self.lora = QCheckBox("Train LoRA adapters, not every weight")
        self.lora.setObjectName("lora")
        self.lora.setToolTip(
            "Small low-rank adapters on the attention learn while the model's own weights stay frozen; the head "
            "trains whole. Far fewer weights train, and a larger learning rate suits them."
        )
        self.lora_rank = _whole()
        self.lora_rank.setObjectName("loraRank")
        self.lora_rank.setToolTip("Rank of each adapter; 8 or 16 is usual")
        self.lora_alpha = _whole()
        self.lora_alpha.setObjectName("loraAlpha")
        self.lora_alpha.setToolTip("Scale of the adapters (alpha / rank multiplies them); twice the rank is usual")
        self.lora_dropout = TrimmedSpinBox(3, 10, 0.05)
        self.lora_dropout.setObjectName("loraDropout")
        self.lora_dropout.setToolTip("Dropout on the adapters' input")
        self.lora_targets = QLineEdit()
        self.lora_targets.setObjectName("loraTargets")
        self.lora_targets.setPlaceholderText("the attention projections")
        self.lora_targets.setToolTip(
            "Names of the layers to adapt, separated by commas (such as query,value); empty: the attention "
            "projections of the architecture"
        )

        self.early = QCheckBox("Stop when the validation score stops improving")
        self.early.setObjectName("earlyStopping")
        self.early.setToolTip("The best checkpoint is the one exported")
        self.patience = _whole(suffix=" evaluations")
        self.patience.setObjectName("patience")
        self.patience.setToolTip("Evaluations in a row without improvement before the run stops")
        self.min_improvement = TrimmedSpinBox(4, 10, 0.001)
        self.min_improvement.setObjectName("minImprovement")
        self.min_improvement.setToolTip("The least rise of the main score that counts as an improvement")

        self.weight_decay = TrimmedSpinBox(4, 10, 0.01)
        self.weight_decay.setObjectName("weightDecay")
        self.weight_decay.setToolTip("AdamW weight decay (not on biases and norms); 0.01 is usual")
        self.dropout_override = QCheckBox("Override")
        self.dropout_override.setObjectName("dropoutOverride")
        self.dropout_override.setToolTip("Replace the model's own dropout on the hidden states and the attention")
        self.dropout = TrimmedSpinBox(3, 10, 0.05)
        self.dropout.setObjectName("dropout")
        self.label_smoothing = TrimmedSpinBox(3, 10, 0.05)
        self.label_smoothing.setObjectName("labelSmoothing")
        self.label_smoothing.setToolTip("Share of each target spread over the other classes (0.1 is usual)")

        self.class_weights = QComboBox()
        self.class_weights.setObjectName("classWeights")
        for name in (*CLASS_WEIGHTS, CUSTOM_WEIGHTS):
            self.class_weights.addItem(name, name)
        self.class_weights.setToolTip("none: every row counts the same; balanced: rare classes count more")
        self.custom_weights = QLineEdit()
        self.custom_weights.setObjectName("customClassWeights")
        self.custom_weights.setPlaceholderText("spam=3,ham=1")
        self.custom_weights.setToolTip("A weight per label: LABEL=W separated by commas")
        self.oversample = QCheckBox("Oversample rare classes")
        self.oversample.setObjectName("oversample")
        self.oversample.setToolTip("Repeat rows of rare classes so that each is seen about as often as the largest")

        self.report_to = QComboBox()
        self.report_to.setObjectName("reportTo")
        for name in REPORT_TO:
            self.report_to.addItem(name, name)
        self.report_to.setToolTip(
            "Also log the run where your team keeps its experiments: TensorBoard (event files in the run folder), "
            "MLflow or Weights & Biases (set up by their environment variables); needs the tracker's package"
        )

        self.schedule_section = Section("Schedule", "schedule")
        self.schedule_section.add_row("Scheduler", self.scheduler)
        self.schedule_section.add_row("Warm-up share", self.warmup_ratio)
        self.schedule_section.add_row("or warm-up", self.warmup_steps)
        self.layers_section = Section("Layers", "layers")
        self.layers_section.add_row("", self.gradual)
        self.layers_section.add_row("Every", row(self.unfreeze_every, self.unfreeze_unit, stretch_first=True))
        self.layers_section.add_row("From the start", self.unfreeze_start)
        self.layers_section.add_row("Rate decay", self.layer_lr_decay)
        self.lora_section = Section("LoRA", "lora")
        self.lora_section.add_row("", self.lora)
        self.lora_section.add_row("Rank", self.lora_rank)
        self.lora_section.add_row("Alpha", self.lora_alpha)
        self.lora_section.add_row("Dropout", self.lora_dropout)
        self.lora_section.add_row("Target layers", self.lora_targets)
        self.early_section = Section("Early stopping", "early")
        self.early_section.add_row("", self.early)
        self.early_section.add_row("Patience", self.patience)
        self.early_section.add_row("Least gain", self.min_improvement)
        self.regularisation_section = Section("Regularisation", "regularisation")
        self.regularisation_section.add_row("Weight decay", self.weight_decay)
        self.regularisation_section.add_row("Dropout", row(self.dropout, self.dropout_override))
        self.regularisation_section.add_row("Label smoothing", self.label_smoothing)
        self.rare_section = Section("Rare classes", "rare")
        self.rare_section.add_row("Class weights", self.class_weights)
        self.rare_section.add_row("", self.custom_weights)
        self.rare_section.add_row("", self.oversample)
        self.tracking_section = Section("Experiment tracking", "tracking")
        self.tracking_section.add_row("Report to", self.report_to)
        self.sections = (
            self.schedule_section,
            self.layers_section,
            self.lora_section,
            self.early_section,
            self.regularisation_section,
            self.rare_section,
            self.tracking_section,
        )
        # Which section shows each setting's problem.
        self.section_of: dict[str, Section] = {}
        for section, names in (
            (self.schedule_section, ("scheduler", "warmup_ratio", "warmup_steps")),
            (self.layers_section, ("layer_lr_decay", "unfreeze_every", "unfreeze_unit", "unfreeze_start")),
            (self.lora_section, ("lora", "lora_rank", "lora_alpha", "lora_dropout", "lora_targets")),
            (self.early_section, ("early_stopping", "min_improvement")),
            (self.regularisation_section, ("weight_decay", "dropout", "label_smoothing")),
            (self.rare_section, ("class_weights", "oversample")),
            (self.tracking_section, ("report_to",)),
        ):
            for name in names:
                self.section_of[name] = section
        # The number fields, as HyperparameterForm checks them: widget, title for "must be a number", kind.
        self.spin_fields: dict[str, tuple[QSpinBox | QDoubleSpinBox, str, type]] = {
            "warmup_ratio": (self.warmup_ratio, "The warm-up share", float),
            "warmup_steps": (self.warmup_steps, "The warm-up steps", int),
            "unfreeze_every": (self.unfreeze_every, "Gradual unfreezing's interval", int),
            "unfreeze_start": (self.unfreeze_start, "The blocks that train from the start", int),
            "layer_lr_decay": (self.layer_lr_decay, "The layer-wise learning-rate decay", float),
            "lora_rank": (self.lora_rank, "The LoRA rank", int),
            "lora_alpha": (self.lora_alpha, "The LoRA alpha", int),
            "lora_dropout": (self.lora_dropout, "The LoRA dropout", float),
            "early_stopping": (self.patience, "The patience", int),
            "min_improvement": (self.min_improvement, "The least improvement", float),
            "weight_decay": (self.weight_decay, "The weight decay", float),
            "dropout": (self.dropout, "The dropout", float),
            "label_smoothing": (self.label_smoothing, "The label smoothing", float),
        }

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 4, 0, 0)
        layout.setSpacing(2)
        for section in self.sections:
            layout.addWidget(section)

        for widget, _, _ in self.spin_fields.values():
            widget.valueChanged.connect(self._on_changed)
        for combo in (self.scheduler, self.unfreeze_unit, self.class_weights, self.report_to):
            combo.currentIndexChanged.connect(self._on_changed)
        for box in (self.gradual, self.lora, self.early, self.dropout_override, self.oversample):
            box.toggled.connect(self._on_changed)
        for edit in (self.lora_targets, self.custom_weights):
            edit.textChanged.connect(self._on_changed)
        self._enable()

    # Values ------------------------------------------------------------------------------------------

    def set_values(self, values: Hyperparameters) -> None:
        self.blockSignals(True)
        try:
            _choose(self.scheduler, values.scheduler)
            self.warmup_ratio.setValue(values.warmup_ratio)
            self.warmup_steps.setValue(values.warmup_steps)
            self.gradual.setChecked(values.unfreeze_every is not None)
            self.unfreeze_every.setValue(values.unfreeze_every if values.unfreeze_every is not None else 1)
            _choose(self.unfreeze_unit, values.unfreeze_unit)
            self.unfreeze_start.setValue(values.unfreeze_start)
            self.layer_lr_decay.setValue(values.layer_lr_decay)
            self.lora.setChecked(bool(values.lora))
            self.lora_rank.setValue(values.lora_rank)
            self.lora_alpha.setValue(values.lora_alpha)
            self.lora_dropout.setValue(values.lora_dropout)
            self.lora_targets.setText(values.lora_targets or "")
            self.early.setChecked(values.early_stopping is not None)
            self.patience.setValue(values.early_stopping if values.early_stopping is not None else 3)
            self.min_improvement.setValue(values.min_improvement)
            self.weight_decay.setValue(values.weight_decay)
            self.dropout_override.setChecked(values.dropout is not None)
            self.dropout.setValue(values.dropout if values.dropout is not None else 0.1)
            self.label_smoothing.setValue(values.label_smoothing)
            self.set_class_weights(values.class_weights, values.oversample)
            # Settings saved before the tracker choice existed have no report_to.
            _choose(self.report_to, getattr(values, "report_to", "none"))
        finally:
            self.blockSignals(False)
        self._enable()
        self.changed.emit()

    def set_class_weights(self, class_weights: str, oversample: bool) -> None:
        """Choose the class weights (none, balanced or LABEL=W text) and oversampling, as the Data page suggests."""
        if class_weights in CLASS_WEIGHTS:
            _choose(self.class_weights, class_weights)
        else:
            _choose(self.class_weights, CUSTOM_WEIGHTS)
            self.custom_weights.setText(class_weights)
        self.oversample.setChecked(bool(oversample))

    def values(self, number: Callable[[str], float]) -> dict:
        """The TrainConfig fields these sections set; `number(name)` reads a number field (as typed, or kept)."""
        weights = self.class_weights.currentData()
        return {
            "scheduler": self.scheduler.currentData(),
            "warmup_ratio": number("warmup_ratio"),
            "warmup_steps": number("warmup_steps"),
            "layer_lr_decay": number("layer_lr_decay"),
            "unfreeze_every": number("unfreeze_every") if self.gradual.isChecked() else None,
            "unfreeze_unit": self.unfreeze_unit.currentData(),
            "unfreeze_start": number("unfreeze_start"),
            "lora": self.lora.isChecked(),
            "lora_rank": number("lora_rank"),
            "lora_alpha": number("lora_alpha"),
            "lora_dropout": number("lora_dropout"),
            "lora_targets": self.lora_targets.text().strip() or None,
            "early_stopping": number("early_stopping") if self.early.isChecked() else None,
            "min_improvement": number("min_improvement"),
            "weight_decay": number("weight_decay"),
            "dropout": number("dropout") if self.dropout_override.isChecked() else None,
            "label_smoothing": number("label_smoothing"),
            "class_weights": self.custom_weights.text().strip() if weights == CUSTOM_WEIGHTS else weights,
            "oversample": self.oversample.isChecked(),
            "report_to": self.report_to.currentData(),
        }

    def in_use(self, name: str) -> bool:
        """Whether a number field counts now (the patience only with early stopping on, and so on)."""
        switch = {
            "unfreeze_every": self.gradual,
            "unfreeze_unit": self.gradual,
            "unfreeze_start": self.gradual,
            "early_stopping": self.early,
            "min_improvement": self.early,
            "dropout": self.dropout_override,
            "lora_rank": self.lora,
            "lora_alpha": self.lora,
            "lora_dropout": self.lora,
            "lora_targets": self.lora,
        }.get(name)
        return switch is None or switch.isChecked()

    # What the headers say --------------------------------------------------------------------------------

    def show_problems(self, problems: dict[str, str], values: dict) -> None:
        """Each section's first problem in it (opening it), else a short summary of what it sets."""
        self._problems = problems
        self._enable()
        for section in self.sections:
            mine = [p for name, p in problems.items() if self.section_of.get(name) is section]
            section.show_state(self._summary(section, values), mine[0] if mine else None)

    def _summary(self, section: Section, v: dict) -> str:
        if section is self.schedule_section:
            if v["warmup_steps"]:
                warmup = f"warm-up {v['warmup_steps']} steps"
            elif v["warmup_ratio"]:
                warmup = f"warm-up {v['warmup_ratio']:g}"
            else:
                warmup = "no warm-up"
            return f"{v['scheduler']}, {warmup}"
        if section is self.layers_section:
            parts = []
            if v["lora"] and v["unfreeze_every"] is not None:
                parts.append("unfreezing")
            elif v["unfreeze_every"] is not None:
                every = v["unfreeze_every"]
                unit = v["unfreeze_unit"] if every != 1 else v["unfreeze_unit"].rstrip("s")
                parts.append(f"unfreeze every {every:g} {unit}")
            if v["layer_lr_decay"] != 1:
                parts.append(f"rate x{v['layer_lr_decay']:g} per block")
            return ", ".join(parts) or "all at one rate"
        if section is self.lora_section:
            return f"rank {v['lora_rank']}, alpha {v['lora_alpha']}" if v["lora"] else "off"
        if section is self.early_section:
            if v["early_stopping"] is None:
                return "off"
            return f"patience {v['early_stopping']}" + (
                f", gain {v['min_improvement']:g}" if v["min_improvement"] else ""
            )
        if section is self.regularisation_section:
            parts = [f"decay {v['weight_decay']:g}"]
            if v["dropout"] is not None:
                parts.append(f"dropout {v['dropout']:g}")
            if v["label_smoothing"]:
                parts.append(f"smoothing {v['label_smoothing']:g}")
            return ", ".join(parts)
        if section is self.tracking_section:
            return "off" if v.get("report_to", "none") == "none" else str(v["report_to"])
        weights = v["class_weights"]
        parts = [] if weights == "none" else ["balanced weights" if weights == "balanced" else "custom weights"]
        if v["oversample"]:
            parts.append("oversampling")
        return ", ".join(parts) or "off"

    # Switches ----------------------------------------------------------------------------------------

    def _enable(self) -> None:
        # A field whose switch is off is greyed, unless it holds a value that cannot work: that must stay
        # editable, or the sentence about it could not be answered.
        for name, widget in (
            ("unfreeze_every", self.unfreeze_every),
            ("unfreeze_unit", self.unfreeze_unit),
            ("unfreeze_start", self.unfreeze_start),
            ("lora_rank", self.lora_rank),
            ("lora_alpha", self.lora_alpha),
            ("lora_dropout", self.lora_dropout),
            ("lora_targets", self.lora_targets),
            ("early_stopping", self.patience),
            ("min_improvement", self.min_improvement),
            ("dropout", self.dropout),
        ):
            widget.setEnabled(self.in_use(name) or name in self._problems)
        custom = self.class_weights.currentData() == CUSTOM_WEIGHTS
        self.custom_weights.setVisible(custom)
        label = self.rare_section.form.labelForField(self.custom_weights)
        if label is not None:
            label.setVisible(custom)

    @Slot()
    def _on_changed(self) -> None:
        self._enable()
        self.changed.emit()


def _choose(combo: QComboBox, value: str) -> None:
    index = combo.findData(value)
    if index >= 0:
        combo.setCurrentIndex(index)
