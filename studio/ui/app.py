"""run_app(): the QApplication, an excepthook that shows a dialog and writes the log, and the main window."""

from __future__ import annotations

import logging
import os
import sys
import threading
import traceback

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
    app = QApplication.instance() or QApplication(list(argv if argv is not None else sys.argv))
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
    """Open the main window and run until it closes; returns the exit status."""
    from studio.core.logfile import log_file
    from studio.ui.main_window import MainWindow

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
    log.info("Fine-Tuning Studio %s started", __version__)


def _quit_after_env_delay(window) -> None:
    """Close the window after STUDIO_QUIT_AFTER_MS milliseconds when set: the bundle smoke test checks a clean exit."""
    delay = os.environ.get("STUDIO_QUIT_AFTER_MS", "").strip()
    if delay.isdigit():
        QTimer.singleShot(int(delay), window.close)
