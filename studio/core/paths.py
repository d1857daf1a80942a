"""Where the studio keeps settings, runs, caches and logs (platformdirs, overridable with STUDIO_HOME)."""

from __future__ import annotations

import os
from pathlib import Path

from platformdirs import user_cache_path, user_config_path, user_data_path, user_log_path

_APP = "studio"


def _home() -> Path | None:
    # STUDIO_HOME puts everything in one folder: used by tests and by portable installs.
    home = os.environ.get("STUDIO_HOME")
    return Path(home).expanduser() if home else None


def _dir(kind: str, default: Path) -> Path:
    home = _home()
    path = home / kind if home else default
    path.mkdir(parents=True, exist_ok=True)
    return path


def data_dir() -> Path:
    return _dir("data", user_data_path(_APP, appauthor=False))


def runs_dir() -> Path:
    path = data_dir() / "runs"
    path.mkdir(parents=True, exist_ok=True)
    return path


def config_dir() -> Path:
    return _dir("config", user_config_path(_APP, appauthor=False))


def cache_dir() -> Path:
    return _dir("cache", user_cache_path(_APP, appauthor=False))


def log_dir() -> Path:
    return _dir("logs", user_log_path(_APP, appauthor=False))
