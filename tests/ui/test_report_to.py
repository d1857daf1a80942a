"""The Train page's Experiment tracking choice: a tracker whose package is missing is refused with its pip line."""

from __future__ import annotations

import importlib.util

from PySide6.QtWidgets import QComboBox, QLabel, QPushButton

from tests.ui.conftest import find, wait_for_data
from tests.ui.test_methods import _open, _section_problem


def test_a_tracker_without_its_package_is_refused_and_none_trains(qtbot, window, monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "mlflow" else real(name, *a))
    wait_for_data(qtbot, window)
    window.show_page("Train")
    _open(window, "tracking")
    combo = find(window, "reportTo", QComboBox)
    assert [combo.itemText(i) for i in range(combo.count())] == ["none", "tensorboard", "mlflow", "wandb"]
    assert find(window, "trackingSummary", QLabel).text() == "off"

    combo.setCurrentIndex(combo.findData("mlflow"))
    assert "`pip install mlflow`" in _section_problem(window, "tracking")
    find(window, "trainButton", QPushButton).click()
    assert "pip install mlflow" in find(window, "trainStatus", QLabel).text()
    assert not window.training.is_running()

    combo.setCurrentIndex(combo.findData("none"))
    assert not find(window, "trackingProblem", QLabel).isVisible()
    assert window.current_config().report_to == "none"
    assert window.pages.train.form.first_problem() is None
