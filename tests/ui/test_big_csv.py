"""A big file on the Data page: the preview grows in pieces, the columns and counts cover every row."""

from __future__ import annotations

import csv
from collections import Counter

import pytest
from PySide6.QtCore import Qt

from studio.ui.settings import Settings
from studio.ui.table_model import FETCH_ROWS
from studio.ui.tasks import TaskRunner

# The offscreen platform says so when a top-level widget is shown; the page is one here.
pytestmark = pytest.mark.qt_log_ignore("propagateSizeHints")

ROWS = 30_000  # more than the model's first piece and several of the reader's blocks; written in well under 1 s


def _write_big_csv(path, rows: int = ROWS):
    labels = ("business", "science", "sports", "world", "rare")
    written = []
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "headline", "topic"])
        for i in range(rows):
            # One row in a thousand is "rare", so the rarest label has 30 rows and the others share the rest.
            label = labels[4] if i % 1000 == 999 else labels[i % 4]
            row = (str(i), f"headline number {i}, about {label}, with a comma and some words", label)
            writer.writerow(row)
            written.append(row)
    return path, written


@pytest.fixture
def page(qtbot):
    from studio.ui.pages.data_page import DataPage

    tasks = TaskRunner()
    page = DataPage(tasks, Settings())
    qtbot.addWidget(page)
    page.resize(1000, 700)
    page.show()
    yield page
    tasks.wait(10_000)


def test_a_big_file_shows_its_preview_columns_and_counts(qtbot, tmp_path, page):
    path, written = _write_big_csv(tmp_path / "big.csv")
    page.load_train(str(path))
    qtbot.waitUntil(lambda: page.loaded() is not None, timeout=30_000)

    # The whole file is counted, even though the view holds only its first piece of rows.
    assert page.summary.text().startswith(f"big.csv: {ROWS:,} rows, 3 columns")
    assert (page.text_column.currentText(), page.label_column.currentText()) == ("headline", "topic")
    expected = Counter(row[2] for row in written)
    assert dict(page.loaded().distribution) == expected and sum(expected.values()) == ROWS
    assert page.columns_message.text() == "5 labels; the rarest, 'rare', has 30 rows."

    model = page.model
    assert model.rowCount() == FETCH_ROWS and model.total_rows() == ROWS and model.columnCount() == 3
    assert model.headerData(1, Qt.Orientation.Horizontal) == "headline (text)"
    assert [model.data(model.index(r, c)) for r, c in ((0, 1), (FETCH_ROWS - 1, 2))] == [
        written[0][1],
        written[FETCH_ROWS - 1][2],
    ]
    # Scrolling to the end asks for the next piece, and only that piece.
    page.preview.scrollToBottom()
    qtbot.waitUntil(lambda: model.rowCount() > FETCH_ROWS)
    assert model.rowCount() == 2 * FETCH_ROWS
    assert model.data(model.index(2 * FETCH_ROWS - 1, 0)) == str(2 * FETCH_ROWS - 1)
    while model.canFetchMore():
        model.fetchMore()
    assert model.rowCount() == ROWS and model.data(model.index(ROWS - 1, 1)) == written[-1][1]


def test_a_new_label_column_is_counted_in_the_background(qtbot, tmp_path, page):
    path, _ = _write_big_csv(tmp_path / "big.csv")
    page.load_train(str(path))
    qtbot.waitUntil(lambda: page.loaded() is not None, timeout=30_000)

    # "id" as the label: every value differs, which the page questions once the background count is in.
    page.label_column.setCurrentIndex(page.label_column.findText("id"))
    page.label_column.activated.emit(page.label_column.currentIndex())
    qtbot.waitUntil(lambda: "different numbers" in page.columns_message.text(), timeout=10_000)
    assert page.columns_message.text().startswith(f"The column 'id' holds {ROWS:,} different numbers")
    assert "choose regression" in page.columns_message.text()
    assert page.model.headerData(0, Qt.Orientation.Horizontal) == "id (label)"


def test_a_replaced_big_table_is_freed_off_the_gui_thread(qtbot, tmp_path, page):
    first, _ = _write_big_csv(tmp_path / "first.csv")
    second, _ = _write_big_csv(tmp_path / "second.csv", rows=50)
    page.load_train(str(first))
    qtbot.waitUntil(lambda: page.loaded() is not None, timeout=30_000)
    old_rows = page.loaded().table.rows
    page.load_train(str(second))
    qtbot.waitUntil(lambda: page.loaded().table.path == second, timeout=30_000)
    qtbot.waitUntil(lambda: len(old_rows) == 0, timeout=10_000)
    assert page.model.total_rows() == 50 and page.summary.text().startswith("second.csv: 50 rows")
