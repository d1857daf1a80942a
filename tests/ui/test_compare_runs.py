"""The Runs list: select two runs with the mouse, Compare shows both curves per plot and the differing setting;
Save report writes the HTML file."""

from __future__ import annotations

import os

import pytest
from PySide6.QtCore import Qt

from studio.core.paths import runs_dir
from tests.run_pairs import RATES, copy_runs

pytestmark = pytest.mark.qt_log_ignore("propagateSizeHints")


@pytest.fixture
def panel(qtbot, tiny_model_dir):
    from studio.ui.pages.runs_panel import RunsPanel
    from studio.ui.tasks import TaskRunner

    runs_dir().mkdir(parents=True, exist_ok=True)
    copy_runs(runs_dir(), tiny_model_dir)
    tasks = TaskRunner()
    widget = RunsPanel(tasks)
    widget.tasks = tasks  # kept alive with the panel
    qtbot.addWidget(widget)
    widget.resize(900, 400)
    widget.show()
    widget.refresh()
    qtbot.waitUntil(lambda: widget.tree.topLevelItemCount() == 2, timeout=10_000)
    yield widget
    if widget.compare_view is not None:
        widget.compare_view.close()
    tasks.wait(10_000)


def _click(qtbot, tree, row: int, modifier=Qt.KeyboardModifier.NoModifier) -> None:
    item = tree.topLevelItem(row)
    rect = tree.visualItemRect(item)
    qtbot.mouseClick(tree.viewport(), Qt.MouseButton.LeftButton, modifier, rect.center())


def test_two_selected_runs_compare_with_both_curves_and_the_rate_highlighted(qtbot, panel):
    tree = panel.tree
    _click(qtbot, tree, 0)
    assert not panel.compare_button.isEnabled() and panel.report_button.isEnabled()
    _click(qtbot, tree, 1, Qt.KeyboardModifier.ControlModifier)
    assert len(tree.selectedItems()) == 2
    assert panel.compare_button.isEnabled()
    assert not panel.resume_button.isEnabled() and not panel.results_button.isEnabled()
    qtbot.mouseClick(panel.compare_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: panel.compare_view is not None and panel.compare_view.isVisible(), timeout=10_000)
    view = panel.compare_view
    assert view.curve_counts() == (2, 2)
    names = sorted(item.name() for item in view.metric_plot.listDataItems() if item.name())
    runs = {tree.topLevelItem(i).text(0) for i in range(2)}
    assert {name.split(" (")[0] for name in names} == runs
    assert all("(learning_rate " in name for name in names)
    assert view.differing_rows() == ["learning_rate"]
    assert "learning_rate" in view.summary.text()
    rates = {view.settings.item(0, c).text() for c in range(2)}
    assert view.settings.verticalHeaderItem(0).text() == "* learning_rate"
    assert rates == {f"{r:g}" for r in RATES}
    figures = [view.figures.verticalHeaderItem(r).text() for r in range(view.figures.rowCount())]
    assert figures[0] == "Macro F1" and "validation loss" in figures
    view.only_differences.click()
    hidden = [view.settings.isRowHidden(r) for r in range(view.settings.rowCount())]
    assert hidden[0] is False and all(hidden[1:])
    shot = os.environ.get("STUDIO_SCREENSHOT")
    if shot:  # a human looks at it: `STUDIO_SCREENSHOT=/tmp/compare.png xvfb-run -a pytest ...`
        view.only_differences.click()
        qtbot.wait(300)
        view.grab().save(shot)


def test_save_report_writes_the_selected_runs_html(qtbot, panel, tmp_path, monkeypatch):
    from PySide6.QtWidgets import QFileDialog

    out = tmp_path / "chosen"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", staticmethod(lambda *a, **k: (str(out), "")))
    _click(qtbot, panel.tree, 0)
    qtbot.mouseClick(panel.report_button, Qt.MouseButton.LeftButton)
    report = tmp_path / "chosen.html"
    qtbot.waitUntil(lambda: report.is_file() and "Saved" in panel.message.text(), timeout=120_000)
    assert panel.message.text() == f"Saved the report to {report}"
    assert "<svg" in report.read_text(encoding="utf-8")
    assert panel.report_button.isEnabled()


def test_the_runs_tab_shows_each_buttons_whole_name_in_the_default_window(qtbot, window):
    from PySide6.QtGui import QFontMetrics

    window.resize(1280, 820)
    window.show_page("Train")
    page = window.train_page
    page.tabs.setCurrentWidget(page.runs)
    qtbot.waitUntil(lambda: page.runs.isVisible())
    panel = page.runs
    for button in (panel.resume_button, panel.results_button, panel.compare_button, panel.report_button):
        text = QFontMetrics(button.font()).horizontalAdvance(button.text())
        assert button.width() >= text + 8, f"{button.text()!r} is cut: {button.width()} px for {text} px of text"
