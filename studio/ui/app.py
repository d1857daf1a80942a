"""run_app(): the QApplication, an excepthook that shows a dialog and writes the log, and the main window."""

from __future__ import annotations

import contextlib
import faulthandler
import logging
import os
import sys
import threading
import traceback
from pathlib import Path

from PySide6.QtCore import QObject, Qt, QTimer, QtMsgType, Signal, Slot, qInstallMessageHandler
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QApplication, QMessageBox

from studio import __version__
from studio.ui import assets

log = logging.getLogger(__name__)

APP_NAME = "Fine-Tuning Studio"


class ErrorReporter(QObject):
    """Shows unexpected errors from any thread in a dialog on the GUI thread; the app goes on."""

    error_raised = Signal(str, str)  # summary, traceback

    def __init__(self, log_path, parent: QObject | None = None):
        super().__init__(parent)
        self.log_path = log_path
        self._open: QMessageBox | None = None
        self.error_raised.connect(self._on_error_raised)

    def excepthook(self, exc_type, exc, tb) -> None:
        """sys.excepthook and threading.excepthook: log the traceback, then tell the user."""
        if issubclass(exc_type, KeyboardInterrupt):
            sys.__excepthook__(exc_type, exc, tb)
            return
        log.error("Unexpected error", exc_info=(exc_type, exc, tb))
        summary = f"{exc_type.__name__}: {exc}"
        # A signal, so that an error on a worker thread still reaches the dialog on the GUI thread.
        self.error_raised.emit(summary, "".join(traceback.format_exception(exc_type, exc, tb)))

    def thread_excepthook(self, args) -> None:
        self.excepthook(args.exc_type, args.exc_value, args.exc_traceback)

    def install(self) -> None:
        sys.excepthook = self.excepthook
        threading.excepthook = self.thread_excepthook

    @Slot(str, str)
    def _on_error_raised(self, summary: str, details: str) -> None:
        if self._open is not None and self._open.isVisible():
            return  # one dialog at a time; a burst of the same error is in the log file
        box = QMessageBox(
            QMessageBox.Icon.Critical,
            APP_NAME,
            f"Something unexpected went wrong: {summary}\n\nThe app goes on; the details are in {self.log_path}.",
        )
        box.setDetailedText(details)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.setObjectName("errorDialog")
        self._open = box
        box.finished.connect(self._on_dialog_finished)
        box.show()  # not exec(): a modal loop inside whatever failed would make things worse

    @Slot(int)
    def _on_dialog_finished(self, result: int) -> None:
        self._open = None


def _qt_message_handler(mode, context, message) -> None:
    # Qt's own warnings go to the log file too, where a user's bug report can include them.
    level = {
        QtMsgType.QtDebugMsg: logging.DEBUG,
        QtMsgType.QtInfoMsg: logging.INFO,
        QtMsgType.QtWarningMsg: logging.WARNING,
    }.get(mode, logging.ERROR)
    logging.getLogger("studio.qt").log(level, "%s", message)


def create_application(argv: list[str] | None = None) -> QApplication:
    """The QApplication with the studio's name, icon, style and style sheet."""
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    existing = QApplication.instance()
    app = existing if isinstance(existing, QApplication) else QApplication(list(argv if argv is not None else sys.argv))
    app.setApplicationName("studio")
    app.setApplicationDisplayName(APP_NAME)
    app.setOrganizationName(APP_NAME)
    app.setApplicationVersion(__version__)
    app.setDesktopFileName("fine-tuning-studio")
    icon = assets.icon_path()
    if icon is not None:
        app.setWindowIcon(QIcon(str(icon)))
    app.setStyle("Fusion")
    app.setStyleSheet(assets.style_sheet())
    return app


def run_app(argv: list[str] | None = None) -> int:
    """Open the main window and run until it closes; returns the exit status (2: Qt cannot start here)."""
    from studio.ui.platform_check import platform_problem

    # Before the QApplication: Qt's own message for a missing X11 library names no package and suggests reinstalling.
    problem = platform_problem()
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return 2
    from studio.core.logfile import log_file
    from studio.ui.main_window import MainWindow

    enable_crash_log(log_file().with_name(CRASH_LOG))
    _hold_early_records()
    app = create_application(argv)
    reporter = ErrorReporter(log_file(), app)
    reporter.install()
    window = MainWindow(deferred=True)
    app.aboutToQuit.connect(window.shutdown)
    # The log file opens once the window has painted (or a second on at the latest): the user sees it sooner.
    window.first_painted.connect(_start_file_log)
    QTimer.singleShot(1000, _start_file_log)
    window.show()
    _quit_after_env_delay(window)
    return app.exec()


CRASH_LOG = "crash.log"
# Past this size the crash log starts afresh, so that years of crashes cannot fill a disk.
CRASH_LOG_LIMIT = 1_000_000
_crash_log = None  # the open file faulthandler writes to: it must stay open for the whole run


def enable_crash_log(path: Path) -> Path | None:
    """A native crash (a segfault in Qt or torch) leaves every thread's Python stack in path; returns where it goes.

    Opening one file at start is all it costs. Appended to, so that the stack of the crash that ended the last run is
    still there when the app is opened again to report it. Left alone when faulthandler is already on (python -X
    faulthandler, PYTHONFAULTHANDLER, pytest), which a developer chose on purpose.
    """
    global _crash_log
    if faulthandler.is_enabled():
        return None
    try:
        big = path.is_file() and path.stat().st_size > CRASH_LOG_LIMIT
        _crash_log = open(path, "w" if big else "a", encoding="utf-8")  # noqa: SIM115 - open while the app runs
        faulthandler.enable(file=_crash_log, all_threads=True)
        return path
    except (OSError, RuntimeError, ValueError) as exc:
        log.warning("Native crashes will leave no stack: %s cannot be written (%s)", path, exc)
        # To stderr instead, when there is one (a windowed launcher may have none).
        with contextlib.suppress(AttributeError, OSError, RuntimeError, ValueError):
            faulthandler.enable(all_threads=True)
        return None


class _EarlyRecords(logging.Handler):
    """Keeps what is logged before the log file opens (a settings file repaired at start) to write it there then."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


_early_records: _EarlyRecords | None = None


def _hold_early_records() -> None:
    global _early_records
    _early_records = _EarlyRecords()
    studio_log = logging.getLogger("studio")
    studio_log.addHandler(_early_records)
    if studio_log.getEffectiveLevel() > logging.INFO:
        studio_log.setLevel(logging.INFO)  # as the log file will have it


_file_log_started = False


def _start_file_log() -> None:
    """The studio's and Qt's log records go to the log file from now on (once)."""
    global _file_log_started
    if _file_log_started:
        return
    _file_log_started = True
    from studio.core.logfile import setup_file_logging

    setup_file_logging()
    qInstallMessageHandler(_qt_message_handler)
    studio_log = logging.getLogger("studio")
    if _early_records is not None:
        studio_log.removeHandler(_early_records)
    log.info("Fine-Tuning Studio %s started", __version__)
    for record in _early_records.records if _early_records is not None else ():
        studio_log.handle(record)
    if _crash_log is not None:
        log.info("A native crash leaves its stack in %s", _crash_log.name)


def _quit_after_env_delay(window) -> None:
    """Close the window after STUDIO_QUIT_AFTER_MS milliseconds when set: the bundle smoke test checks a clean exit."""
    delay = os.environ.get("STUDIO_QUIT_AFTER_MS", "").strip()
    if delay.isdigit():
        QTimer.singleShot(int(delay), window.close)
