"""Where the app's files in studio.resources are: the sample dataset, the icon and the style sheet."""

from __future__ import annotations

import logging
from importlib.resources import as_file, files
from pathlib import Path

log = logging.getLogger(__name__)

SAMPLE_CSV = "sample_sms_spam.csv"


def resource_path(name: str) -> Path | None:
    """A file of studio.resources as a path on disk, or None when it is missing."""
    try:
        with as_file(files("studio.resources").joinpath(name)) as path:
            # An installed or editable package has real files, so the path stays valid after the `with`.
            return Path(path) if Path(path).is_file() else None
    except (ModuleNotFoundError, FileNotFoundError, OSError) as exc:
        log.warning("Resource %s not found: %s", name, exc)
        return None


def sample_csv() -> Path | None:
    return resource_path(SAMPLE_CSV)


def style_sheet() -> str:
    path = resource_path("style.qss")
    return path.read_text(encoding="utf-8") if path else ""


def icon_path() -> Path | None:
    return resource_path("icon.png") or resource_path("icon.svg")
