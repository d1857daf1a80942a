"""The Data page checks the data in the background; clicking a finding selects its rows in the preview."""

from __future__ import annotations

import time

import pytest
from PySide6.QtCore import Qt, QTimer

from studio.ui.settings import Settings
from studio.ui.tasks import TaskRunner
from tests.conftest import write_csv
from tests.core.test_preflight import random_texts

# The offscreen platform says so when a top-level widget is shown; the page is one here.
pytestmark = pytest.mark.qt_log_ignore("propagateSizeHints")


@pytest.fixture
def page(qtbot):
    from studio.ui.pages.data_page import DataPage

    tasks = TaskRunner()
    page = DataPage(tasks, Settings())
    qtbot.addWidget(page)
    page.resize(1200, 900)
    page.show()
    yield page
    page.shutdown()
    tasks.wait(30_000)


def planted_csv(tmp_path, rows: int = 300):
    texts = random_texts(rows, seed=31)
    data = [(t, ("spam", "ham")[i % 2]) for i, t in enumerate(texts)]
    data.append((texts[6].upper(), "spam"))  # row rows+1: row 7 ("spam") with its case changed
    data.append((texts[199], "spam"))  # row rows+2: row 200 ("ham") again, with another label
    return write_csv(tmp_path / "planted.csv", data)


def wait_for_report(qtbot, page, timeout=30_000):
    qtbot.waitUntil(lambda: page.preflight_report() is not None, timeout=timeout)
    return page.preflight_report()


def selected_rows(page) -> list[int]:
    """The 1-based rows selected in the preview, as its row header numbers them."""
    model = page.preview.model()
    return sorted(
        int(model.headerData(i.row(), Qt.Orientation.Vertical)) for i in page.preview.selectionModel().selectedRows()
    )


def item_named(tree, prefix: str):
    for i in range(tree.topLevelItemCount()):
        item = tree.topLevelItem(i)
        if item.text(0).startswith(prefix):
            return item
    raise AssertionError(f"no finding starts with {prefix!r}: {[tree.topLevelItem(i).text(0) for i in range(3)]}")


def click(qtbot, tree, item, double: bool = False):
    tree.scrollToItem(item)
    point = tree.visualItemRect(item).center()
    if double:
        qtbot.mouseDClick(tree.viewport(), Qt.MouseButton.LeftButton, pos=point)
    else:
        qtbot.mouseClick(tree.viewport(), Qt.MouseButton.LeftButton, pos=point)


def test_findings_appear_under_the_preview_and_select_their_rows(qtbot, tmp_path, page):
    path = planted_csv(tmp_path)
    page.load_train(str(path))
    report = wait_for_report(qtbot, page)
    assert report.values["duplicates"] == [[7, 301], [200, 302]]
    panel = page.findings
    assert panel.isVisible() and panel.tree.topLevelItemCount() == len(report.findings)
    assert panel.summary.text().startswith(f"{len(report.findings)} findings in the training file")

    duplicates = item_named(panel.tree, "Duplicate texts: 2 groups of rows hold the same text")
    click(qtbot, panel.tree, duplicates)
    assert selected_rows(page) == [7, 200, 301, 302]

    # Open the finding (a double click) and click its second group: only those two rows stay selected.
    click(qtbot, panel.tree, duplicates, double=True)
    assert duplicates.isExpanded() and duplicates.childCount() == 2
    click(qtbot, panel.tree, duplicates.child(1))
    assert selected_rows(page) == [200, 302]
    assert panel.selection.text() == "Selected: rows 200, 302"
    assert page.preview.currentIndex().row() == 199  # the first row of the group, 0-based
    # Scrolled there: the row is inside the preview's viewport.
    rect = page.preview.visualRect(page.preview.model().index(199, 0))
    assert page.preview.viewport().rect().intersects(rect)

    conflicts = item_named(panel.tree, "Same text, different labels")
    click(qtbot, panel.tree, conflicts)
    assert selected_rows(page) == [200, 302]


def test_a_validation_file_adds_leakage_and_check_again_reruns(qtbot, tmp_path, page):
    path = planted_csv(tmp_path)
    page.load_train(str(path))
    wait_for_report(qtbot, page)
    texts = random_texts(300, seed=31)
    validation = write_csv(tmp_path / "validation.csv", [(texts[41], "ham"), *[(t, "ham") for t in random_texts(9)]])
    page.load_validation(str(validation))
    qtbot.waitUntil(
        lambda: page.preflight_report() is not None and page.preflight_report().validation is not None, timeout=30_000
    )
    report = page.preflight_report()
    assert report.values["leakage"] == [[42, 1]]
    leakage = item_named(page.findings.tree, "Validation texts also in training")
    click(qtbot, page.findings.tree, leakage)
    assert selected_rows(page) == [42]

    # Check again runs a new check (the button is a real one the user clicks).
    assert page.findings.check_button.isEnabled()
    qtbot.mouseClick(page.findings.check_button, Qt.MouseButton.LeftButton)
    assert page.preflight_report() is None and page.findings.summary.text().startswith("Checking the data")
    assert wait_for_report(qtbot, page).values["leakage"] == [[42, 1]]


def test_a_big_file_stays_responsive_and_far_rows_come_into_view(qtbot, tmp_path, page):
    rows = 40_000
    texts = random_texts(rows, seed=32, words=(12, 30))
    texts.append(texts[3].lower())  # row 40,001: row 4 again
    data = [(t, ("a", "b", "c")[i % 3]) for i, t in enumerate(texts)]
    path = write_csv(tmp_path / "big.csv", data)
    lateness: list[float] = []
    last = [0.0]

    def tick():
        now = time.perf_counter()
        if last[0]:
            lateness.append((now - last[0]) * 1000 - 5)
        last[0] = now

    timer = QTimer()
    timer.setTimerType(Qt.TimerType.PreciseTimer)
    timer.setInterval(5)
    timer.timeout.connect(tick)
    page.load_train(str(path))
    qtbot.waitUntil(lambda: page.loaded() is not None, timeout=30_000)
    timer.start()
    report = wait_for_report(qtbot, page, timeout=120_000)
    timer.stop()
    assert report.values["duplicates"] == [[4, rows + 1]]
    ordered = sorted(lateness)
    print(f"{len(ordered)} ticks while checking {rows:,} rows; lateness max {ordered[-1]:.1f} ms")
    assert ordered and ordered[-1] < 250

    # The preview holds the first thousand rows at first; the finding brings in the rows up to its last one.
    assert page.preview.model().rowCount() < rows
    duplicates = item_named(page.findings.tree, "Duplicate texts")
    click(qtbot, page.findings.tree, duplicates)
    assert page.preview.model().rowCount() == rows + 1
    assert selected_rows(page) == [4, rows + 1]
    rect = page.preview.visualRect(page.preview.model().index(3, 0))
    assert page.preview.currentIndex().row() == 3 and page.preview.viewport().rect().intersects(rect)


def test_a_new_max_length_checks_again(qtbot, tmp_path, page):
    page.load_train(str(planted_csv(tmp_path)))
    first = wait_for_report(qtbot, page)
    # Random letters make many word pieces: at the default 128 tokens some texts are cut.
    assert first.values["lengths"]["max_length"] == 128 and first.finding("too_long") is not None
    assert item_named(page.findings.tree, "Texts longer than the max length: ")
    page.set_check_options(None, 512)
    qtbot.waitUntil(lambda: page.preflight_report() not in (first, None), timeout=30_000)
    report = page.preflight_report()
    assert report.values["lengths"]["max_length"] == 512 and report.finding("too_long") is None
    texts = [page.findings.tree.topLevelItem(i).text(0) for i in range(page.findings.tree.topLevelItemCount())]
    assert not any(t.startswith("Texts longer") for t in texts)
