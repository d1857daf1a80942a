"""Clicking a confusion-matrix cell lists exactly the validation rows counted in it; rows copy and open elsewhere."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

from tests.conftest import write_csv

# The offscreen platform says so when a shown top-level widget's size hints change (the rows' title grows).
pytestmark = pytest.mark.qt_log_ignore("propagateSizeHints")


@pytest.fixture
def trained(tmp_path, tiny_model_dir):
    from studio.core.config import TrainConfig
    from studio.core.training import run_training

    words = {"red": "apple cherry tomato", "green": "grass leaf lime", "blue": "sky sea ocean"}
    rows = [(f"{w.split()[i % 3]} {i} {w}", label) for label, w in words.items() for i in range(16)]
    train = write_csv(tmp_path / "train.csv", rows)
    return run_training(
        TrainConfig(
            train_csv=str(train),
            model=str(tiny_model_dir),
            epochs=1,
            batch_size=8,
            max_length=16,
            validation_share=0.3,
        )
    )


@pytest.fixture
def page(qtbot):
    from studio.ui.pages.evaluate_page import EvaluatePage
    from studio.ui.settings import Settings
    from studio.ui.tasks import TaskRunner

    tasks = TaskRunner()
    widget = EvaluatePage(tasks, Settings())
    widget._test_tasks = tasks
    qtbot.addWidget(widget)
    widget.resize(1200, 900)
    widget.show()
    yield widget
    tasks.wait(30_000)


def _click_cell(qtbot, page, row: int, column: int) -> None:
    heatmap = page.heatmap
    qtbot.mouseClick(heatmap.viewport(), Qt.MouseButton.LeftButton, pos=heatmap.cell_center(row, column))


def test_every_cell_lists_exactly_its_rows(qtbot, page, trained):
    page.show_results(str(trained.model_dir), trained.metrics)
    matrix = trained.metrics["confusion"]
    labels = trained.metrics["labels"]
    qtbot.waitUntil(lambda: page.heatmap.isVisible() and page.heatmap.getViewBox().width() > 50, timeout=5000)
    with qtbot.waitSignal(page.rows_ready, timeout=60_000):
        _click_cell(qtbot, page, 0, 0)
    for i in range(len(labels)):
        for j in range(len(labels)):
            _click_cell(qtbot, page, i, j)
            listed = page.cell_rows.shown_rows()
            assert len(listed) == matrix[i][j], (i, j)
            assert page.cell_rows.proxy.rowCount() == matrix[i][j]
            assert {(r.true, r.predicted) for r in listed} <= {(labels[i], labels[j])}
            assert f"'{labels[i]}' predicted as '{labels[j]}'" in page.cell_rows.title.text()
            assert page.heatmap.outline.isVisible()
            assert page.heatmap.outline.rect().topLeft().toTuple() == (j, i)


def test_rows_sort_copy_and_open_in_inference(qtbot, page, trained):
    page.show_results(str(trained.model_dir), trained.metrics)
    matrix = trained.metrics["confusion"]
    # The fullest cell, so that there is something to sort.
    i, j = max(((i, j) for i in range(3) for j in range(3)), key=lambda c: matrix[c[0]][c[1]])
    qtbot.waitUntil(lambda: page.heatmap.getViewBox().width() > 50, timeout=5000)
    with qtbot.waitSignal(page.rows_ready, timeout=60_000):
        _click_cell(qtbot, page, i, j)
    panel = page.cell_rows
    assert panel.proxy.rowCount() == matrix[i][j] >= 2
    header = panel.table.horizontalHeader()
    qtbot.mouseClick(header.viewport(), Qt.MouseButton.LeftButton, pos=_section_center(header, 3))
    shown = [r.confidence for r in panel.shown_rows()]
    assert shown == sorted(shown) or shown == sorted(shown, reverse=True)
    qtbot.mouseClick(header.viewport(), Qt.MouseButton.LeftButton, pos=_section_center(header, 3))
    again = [r.confidence for r in panel.shown_rows()]
    assert again == list(reversed(shown)) or (again == shown and len(set(shown)) == 1)

    qtbot.mouseClick(panel.copy_button, Qt.MouseButton.LeftButton)
    copied = QApplication.clipboard().text().splitlines()
    assert copied[0].split("\t") == ["Text", "True", "Predicted", "Confidence"]
    assert len(copied) == matrix[i][j] + 1

    first = panel.table.visualRect(panel.proxy.index(0, 0)).center()
    qtbot.mouseClick(panel.table.viewport(), Qt.MouseButton.LeftButton, pos=first)
    assert panel.open_button.isEnabled()
    with qtbot.waitSignal(page.open_in_inference, timeout=2000) as sent:
        qtbot.mouseClick(panel.open_button, Qt.MouseButton.LeftButton)
    assert sent.args == [panel.shown_rows()[0].text]


def _section_center(header, section: int):
    from PySide6.QtCore import QPoint

    x = header.sectionViewportPosition(section) + header.sectionSize(section) // 2
    return QPoint(x, header.height() // 2)
