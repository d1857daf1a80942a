"""The Train page remembers the device and precision between sessions, and falls back to auto on another machine."""

from __future__ import annotations

import json

from PySide6.QtWidgets import QComboBox

from studio.ui.settings import settings_path
from tests.ui.conftest import find


def _open(qtbot):
    from studio.ui.main_window import MainWindow

    window = MainWindow()
    qtbot.addWidget(window)
    window.show()
    device = find(window, "device", QComboBox)
    # The machine's devices are listed in the background a moment after the window shows.
    qtbot.waitUntil(lambda: device.findData("cpu") >= 0, timeout=60_000)
    return window, device, find(window, "precision", QComboBox)


def test_the_hardware_choice_comes_back_and_a_missing_gpu_falls_back_to_auto(qtbot):
    settings_path().parent.mkdir(parents=True, exist_ok=True)
    settings_path().write_text(json.dumps({"schema_version": 2, "device": "cpu", "precision": "fp32"}), "utf-8")
    window, device, precision = _open(qtbot)
    assert (device.currentData(), precision.currentData()) == ("cpu", "fp32")

    device.setCurrentIndex(device.findData("auto"))
    precision.setCurrentIndex(precision.findData("auto"))
    window.close()
    saved = json.loads(settings_path().read_text("utf-8"))
    assert (saved["device"], saved["precision"]) == ("auto", "auto")

    # Settings copied from a machine with four GPUs: this one has no cuda:3, so auto it is, and the page says so.
    saved.update(device="cuda:3", precision="nonsense")
    settings_path().write_text(json.dumps(saved), "utf-8")
    window, device, precision = _open(qtbot)
    assert (device.currentData(), precision.currentData()) == ("auto", "auto")
    assert find(window, "deviceSummary").text().startswith("Trains on ")
    window.close()
