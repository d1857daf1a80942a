"""Where the app's files in studio.resources are: the sample dataset, the icon and the style sheet."""

from __future__ import annotations

import logging
from pathlib import Path

log = logging.getLogger(__name__)

SAMPLE_CSV = "sample_sms_spam.csv"


def resource_path(name: str) -> Path | None:
    """A file of studio.resources as a path on disk, or None when it is missing."""
    # The package's folder, not importlib.resources: its import (zipfile and more) would cost the first window
    # about 10 ms, and the studio is always installed as real files (wheel, editable, or a PyInstaller folder).
    try:
        import studio.resources as package
    except ImportError as exc:
        log.warning("Resource %s not found: %s", name, exc)
        return None
    path = Path(package.__file__).parent / name
    if not path.is_file():
        log.warning("Resource %s not found in %s", name, path.parent)
        return None
    return path


def sample_csv() -> Path | None:
    return resource_path(SAMPLE_CSV)


def style_sheet() -> str:
    path = resource_path("style.qss")
    return path.read_text(encoding="utf-8") if path else ""


def icon_path() -> Path | None:
    return resource_path("icon.png") or resource_path("icon.svg")
