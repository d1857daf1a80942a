"""DeviceChoice: the Train page's device and precision, with what `auto` picks spelled out before training."""

from __future__ import annotations

from PySide6.QtCore import Slot
from PySide6.QtWidgets import QComboBox, QFormLayout, QGroupBox, QVBoxLayout, QWidget

from studio.core.config import PRECISIONS
from studio.core.devices import DeviceOption
from studio.core.launch import IN_PROCESS, Launch
from studio.ui.widgets import MessageLabel

# Until the hardware is known (torch loads in the background), auto is all there is to choose.
CHECKING = DeviceOption("auto", "auto (checking the hardware…)", "auto")


class DeviceChoice(QGroupBox):
    """Device (auto, each GPU by name, all GPUs, MPS, CPU) and precision (auto, bf16, fp16, fp32)."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__("Hardware", parent)
        self._options: list[DeviceOption] = [CHECKING]
        # The device the user chose (or last time's): selected as soon as the machine's devices are listed.
        self._wanted = "auto"
        self.device = QComboBox()
        self.device.setObjectName("device")
        self.precision = QComboBox()
        self.precision.setObjectName("precision")
        self.precision.setToolTip("bf16 and fp16 train faster where the hardware has them; fp32 works everywhere")
        for combo in (self.device, self.precision):
            # auto's spelled-out choice is long: the combo shows what fits, not widen the page past its column.
            combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
            combo.setMinimumContentsLength(12)
        for name in PRECISIONS:
            self.precision.addItem(name, name)
        self.summary = MessageLabel()
        self.summary.setObjectName("deviceSummary")
        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        form.addRow("Device", self.device)
        form.addRow("Precision", self.precision)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.summary)
        self._fill_devices("auto")
        self.device.currentIndexChanged.connect(self._on_choice_changed)
        self.precision.currentIndexChanged.connect(self._on_choice_changed)

    def set_options(self, options: list[DeviceOption]) -> None:
        """The devices this machine has (from devices.list_devices); the current choice is kept where it can be."""
        self._options = list(options) or [CHECKING]
        self._fill_devices(self._wanted)

    def restore(self, device: str | None, precision: str | None) -> None:
        """Last session's choice; a device this machine lacks, or an unknown precision, stays auto."""
        self._wanted = device or "auto"
        index = self.precision.findData(precision or "auto")
        self.precision.setCurrentIndex(max(index, 0))
        if self._options[0] is not CHECKING:
            self._fill_devices(self._wanted)

    def chosen(self) -> tuple[str, str]:
        """(device key, precision) to remember for the next session."""
        return self._wanted, str(self.precision.currentData())

    def current(self) -> DeviceOption:
        index = self.device.currentIndex()
        return self._options[index] if 0 <= index < len(self._options) else self._options[0]

    def values(self) -> dict:
        """The TrainConfig fields this choice sets."""
        return {"device": self.current().device, "precision": self.precision.currentData()}

    def launch(self) -> Launch:
        return self.current().launch if self.problem() is None else IN_PROCESS

    def problem(self) -> str | None:
        """Why the chosen precision cannot train on the chosen device, or None."""
        option, precision = self.current(), self.precision.currentData()
        if precision == "auto" or option is CHECKING or precision in option.precisions:
            return None
        return f"{option.where} cannot train in {precision}; choose {' or '.join(option.precisions)}, or auto."

    def _fill_devices(self, key: str) -> None:
        self.device.blockSignals(True)
        self.device.clear()
        for option in self._options:
            self.device.addItem(option.label, option.key)
        found = self.device.findData(key)
        self.device.setCurrentIndex(max(found, 0))
        self.device.blockSignals(False)
        self._on_choice_changed()

    @Slot()
    def _on_choice_changed(self) -> None:
        option = self.current()
        if option is not CHECKING:
            self._wanted = option.key
        self.device.setToolTip(f"{option.label}: where to train; several GPUs train together under torchrun")
        auto = self.precision.findData("auto")
        known = option is not CHECKING
        self.precision.setItemText(auto, f"auto ({option.auto_precision})" if known else "auto")
        problem = self.problem()
        if problem:
            self.summary.show_error(problem)
        elif known:
            precision = self.precision.currentData()
            chosen = option.auto_precision if precision == "auto" else precision
            reason = f": {option.precision_reason}" if precision == "auto" and option.precision_reason else ""
            self.summary.show_message(f"Trains on {option.where} in {chosen}{reason}.", "info")
        else:
            self.summary.clear_message()
