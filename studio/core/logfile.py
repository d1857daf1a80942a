"""The log file where unexpected errors go with their traceback, for the app and the CLI."""

from __future__ import annotations

import logging
from pathlib import Path

from studio.core.paths import log_dir

_handler: logging.Handler | None = None


def log_file() -> Path:
    return log_dir() / "studio.log"


def setup_file_logging(level: int = logging.INFO) -> Path:
    """Send the studio's log records to a rotating file once per process; return its path."""
    global _handler
    path = log_file()
    if _handler is None:
        # Imported here: logging.handlers brings socket, pickle and queue, which the app's first window can do without.
        from logging.handlers import RotatingFileHandler

        _handler = RotatingFileHandler(path, maxBytes=2_000_000, backupCount=3, encoding="utf-8")
        _handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        root = logging.getLogger("studio")
        root.addHandler(_handler)
        root.setLevel(level)
    return path
