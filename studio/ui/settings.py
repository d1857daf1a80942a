"""The app's settings: one typed dataclass with a schema version, saved as JSON under the config folder."""

from __future__ import annotations

import json
import logging
import os
from dataclasses import asdict, dataclass, field, fields, make_dataclass
from pathlib import Path

from studio.core.config import TrainConfig
from studio.core.paths import config_dir

log = logging.getLogger(__name__)

SCHEMA_VERSION = 1
SETTINGS_FILE = "settings.json"
RECENT_LIMIT = 8


# The Train page's values, as the user last left them; their defaults are TrainConfig's, the one place they live.
HYPERPARAMETERS = (
    "learning_rate",
    "epochs",
    "batch_size",
    "max_length",
    "freeze_layers",
    "seed",
    "evaluations_per_epoch",
    "validation_share",
)
Hyperparameters = make_dataclass(
    "Hyperparameters",
    [(f.name, f.type, field(default=f.default)) for f in fields(TrainConfig) if f.name in HYPERPARAMETERS],
    namespace={"__doc__": "The Train page's values, as the user last left them (TrainConfig's defaults at first)."},
)
Hyperparameters.__module__ = __name__


@dataclass
class Settings:
    """Everything the app remembers between sessions, except the window geometry (QSettings keeps that)."""

    schema_version: int = SCHEMA_VERSION
    recent_models: list[str] = field(default_factory=list)
    recent_files: list[str] = field(default_factory=list)
    recent_exports: list[str] = field(default_factory=list)
    model: str | None = None
    train_csv: str | None = None
    validation_csv: str | None = None
    allow_pickle: bool = False
    hyperparameters: Hyperparameters = field(default_factory=Hyperparameters)

    def remember(self, kind: str, value: str) -> None:
        """Put value first in one of the recent lists (recent_models, recent_files, recent_exports)."""
        items = [v for v in getattr(self, kind) if v != value]
        setattr(self, kind, [value, *items][:RECENT_LIMIT])


def settings_path() -> Path:
    return config_dir() / SETTINGS_FILE


def _known(cls, data: dict) -> dict:
    # Keys from a newer version are dropped, so that an older app still starts.
    names = {f.name for f in fields(cls)}
    return {k: v for k, v in data.items() if k in names}


def _migrate(data: dict) -> dict:
    """Bring settings written by an older schema up to SCHEMA_VERSION (nothing to do yet at version 1)."""
    data["schema_version"] = SCHEMA_VERSION
    return data


def load_settings(path: Path | None = None) -> Settings:
    """The saved settings, or the defaults when there are none or they cannot be read."""
    path = path or settings_path()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(data, dict):
            raise TypeError("not a JSON object")
        data = _migrate(data)
        hyper = Hyperparameters(**_known(Hyperparameters, data.pop("hyperparameters", None) or {}))
        settings = Settings(**_known(Settings, data), hyperparameters=hyper)
        for kind in ("recent_models", "recent_files", "recent_exports"):
            setattr(settings, kind, [str(v) for v in getattr(settings, kind) if isinstance(v, str)][:RECENT_LIMIT])
        return settings
    except FileNotFoundError:
        return Settings()
    except (OSError, ValueError, TypeError) as exc:
        # A damaged file must not stop the app from starting: start afresh and say so in the log.
        log.warning("Ignoring unreadable settings in %s: %s", path, exc)
        return Settings()


def save_settings(settings: Settings, path: Path | None = None) -> None:
    """Write the settings atomically, so that a crash never leaves half a file."""
    path = path or settings_path()
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        tmp.write_text(json.dumps(asdict(settings), indent=2), encoding="utf-8")
        os.replace(tmp, path)
    except OSError as exc:
        log.warning("Could not save the settings to %s: %s", path, exc)
