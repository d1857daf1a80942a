"""Fixtures for the app's tests: the main window, found widgets, and no modal dialog that could hang a test."""

from __future__ import annotations

import gc
import subprocess
import sys

import pytest
from PySide6.QtWidgets import QMessageBox, QWidget


@pytest.fixture(autouse=True)
def collect_on_the_gui_thread():
    """After each test (and after qtbot closed its widgets): its garbage Qt wrappers are freed here, on the GUI
    thread. Left to the collector, they were freed on a later test's pool thread, where ~QObject took a pooled Qt
    mutex and waited for the GIL that the GUI thread held while waiting for that mutex: CI hung in
    test_preflight_page (gdb: a Qt-wrapped object's dict freeing a list of QObjects on 'Thread (pooled)')."""
    yield
    gc.collect()


@pytest.fixture(autouse=True)
def no_modal_questions(monkeypatch):
    """A test that ends while training would otherwise hang on the close question: answer Yes."""
    monkeypatch.setattr(QMessageBox, "question", staticmethod(lambda *a, **k: QMessageBox.StandardButton.Yes))


@pytest.fixture
def window(qtbot):
    from studio.ui.main_window import MainWindow

    w = MainWindow()
    qtbot.addWidget(w)
    w.show()
    return w


def find(window: QWidget, name: str, kind=QWidget):
    widget = window.findChild(kind, name)
    assert widget is not None, f"no widget named {name!r}"
    return widget


def wait_for_data(qtbot, window, path=None, timeout=10_000):
    """Until the Data page has read the file in trainCsv (the sample, at first)."""
    page = window.data_page

    def loaded():
        table = page.loaded()
        assert table is not None
        if path is not None:
            assert str(table.table.path) == str(path)

    qtbot.waitUntil(loaded, timeout=timeout)


def launch_app(env: dict[str, str]) -> subprocess.CompletedProcess:
    """`studio` with no arguments in a fresh Python, as the launchers run it; its exit status and output."""
    return subprocess.run(
        [sys.executable, "-c", "import sys; from studio.launcher import main; sys.exit(main([]))"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
