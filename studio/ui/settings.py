"""The app's settings: one typed dataclass with a schema version, saved as JSON, repaired and migrated on load."""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from studio.core.config import TrainConfig
from studio.core.paths import config_dir

log = logging.getLogger(__name__)

# 2: settings repair themselves on load, and remember the settings files saved or loaded (recent_configs).
SCHEMA_VERSION = 2
SETTINGS_FILE = "settings.json"
RECENT_LIMIT = 8

# TrainConfig's defaults, the one place they live; the remembered values start from them.
_TRAIN_DEFAULTS: dict[str, Any] = {f.name: f.default for f in fields(TrainConfig)}


@dataclass
class Hyperparameters:
    """The Train page's values (and the Data page's hold-out share), as the user last left them."""

    # None: the task's own learning rate (TrainConfig's default); a number: the user's.
    learning_rate: float | None = _TRAIN_DEFAULTS["learning_rate"]
    epochs: float = _TRAIN_DEFAULTS["epochs"]
    batch_size: int = _TRAIN_DEFAULTS["batch_size"]
    max_length: int = _TRAIN_DEFAULTS["max_length"]
    freeze_layers: int = _TRAIN_DEFAULTS["freeze_layers"]
    seed: int = _TRAIN_DEFAULTS["seed"]
    evaluations_per_epoch: int = _TRAIN_DEFAULTS["evaluations_per_epoch"]
    validation_share: float = _TRAIN_DEFAULTS["validation_share"]
    # The fine-tuning methods (the Train page's sections): schedule, layers, LoRA, early stopping,
    # regularisation and rare classes. Files from before them lack these keys and get the defaults.
    scheduler: str = _TRAIN_DEFAULTS["scheduler"]
    warmup_ratio: float = _TRAIN_DEFAULTS["warmup_ratio"]
    warmup_steps: int = _TRAIN_DEFAULTS["warmup_steps"]
    layer_lr_decay: float = _TRAIN_DEFAULTS["layer_lr_decay"]
    unfreeze_every: int | None = _TRAIN_DEFAULTS["unfreeze_every"]
    unfreeze_unit: str = _TRAIN_DEFAULTS["unfreeze_unit"]
    unfreeze_start: int = _TRAIN_DEFAULTS["unfreeze_start"]
    lora: bool = _TRAIN_DEFAULTS["lora"]
    lora_rank: int = _TRAIN_DEFAULTS["lora_rank"]
    lora_alpha: int = _TRAIN_DEFAULTS["lora_alpha"]
    lora_dropout: float = _TRAIN_DEFAULTS["lora_dropout"]
    lora_targets: str | None = _TRAIN_DEFAULTS["lora_targets"]
    early_stopping: int | None = _TRAIN_DEFAULTS["early_stopping"]
    min_improvement: float = _TRAIN_DEFAULTS["min_improvement"]
    weight_decay: float = _TRAIN_DEFAULTS["weight_decay"]
    dropout: float | None = _TRAIN_DEFAULTS["dropout"]
    label_smoothing: float = _TRAIN_DEFAULTS["label_smoothing"]
    class_weights: str = _TRAIN_DEFAULTS["class_weights"]
    oversample: bool = _TRAIN_DEFAULTS["oversample"]
    report_to: str = _TRAIN_DEFAULTS["report_to"]


@dataclass
class Settings:
    """Everything the app remembers between sessions, except the window geometry (QSettings keeps that)."""

    schema_version: int = SCHEMA_VERSION
    recent_models: list[str] = field(default_factory=list)
    recent_files: list[str] = field(default_factory=list)
    recent_exports: list[str] = field(default_factory=list)
    recent_configs: list[str] = field(default_factory=list)
    model: str | None = None
    train_csv: str | None = None
    validation_csv: str | None = None
    allow_pickle: bool = False
    # The Train page's hardware choice: a device key ("auto", "cpu", "cuda:1", "all-gpus"...) and a precision.
    # A key this machine does not have (another computer's GPU) falls back to auto when the devices are listed.
    device: str | None = None
    precision: str | None = None
    hyperparameters: Hyperparameters = field(default_factory=Hyperparameters)

    def remember(self, kind: str, value: str) -> None:
        """Put value first in one of the recent lists (recent_models, recent_files, recent_exports, recent_configs)."""
        items = [v for v in getattr(self, kind) if v != value]
        setattr(self, kind, [value, *items][:RECENT_LIMIT])


def settings_path() -> Path:
    return config_dir() / SETTINGS_FILE


# Schema migrations: MIGRATIONS[n] turns a file written at version n into version n + 1 (rename or move keys,
# convert units). A version that only adds keys needs no entry: a missing key takes its default. Each entry
# gets the whole JSON object and returns it; load_settings applies them in order from the file's version.
Migration = Callable[[dict[str, Any]], dict[str, Any]]
MIGRATIONS: dict[int, Migration] = {}


def migrate(data: dict[str, Any], path: Path | None = None) -> dict[str, Any]:
    """Bring settings written at an older schema version up to SCHEMA_VERSION, one step at a time."""
    version = data.get("schema_version", 1)
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        log.warning("Settings in %s have no usable schema version (%r); reading them as version 1.", path, version)
        version = 1
    if version > SCHEMA_VERSION:
        # A newer app wrote them: what this version knows is read (and repaired); the rest is left out.
        log.warning(
            "Settings in %s come from a newer version of the app (schema %d, this one reads %d); "
            "reading the settings this version knows.",
            path,
            version,
            SCHEMA_VERSION,
        )
    while version < SCHEMA_VERSION:
        step = MIGRATIONS.get(version)
        if step is not None:
            data = step(data)
            log.info("Settings in %s migrated from schema %d to %d.", path, version, version + 1)
        version += 1
    data["schema_version"] = SCHEMA_VERSION
    return data


# Repair: each value is checked for its type and, for the hyperparameters, by TrainConfig's own validation;
# what fails takes its default with one log line, so that a hand-edited or damaged file never breaks the app.

# The remembered values TrainConfig holds as floats: a whole number in the file (3 epochs) is read as 3.0,
# which the spin boxes want.
_FLOATS = {f.name for f in fields(Hyperparameters) if f.type in (float, "float", "float | None")}


def hyperparameter_problem(name: str, value: Any) -> str | None:
    """Why value cannot be the hyperparameter name (TrainConfig's sentence, for a wrong type too), or None."""
    return TrainConfig(**{name: value}).problems().get(name)


def _repaired_hyperparameters(raw: Any, path: Path | None) -> Hyperparameters:
    if raw is None:
        return Hyperparameters()
    if not isinstance(raw, dict):
        log.warning("Settings in %s: hyperparameters were %r, not a set of values; using the defaults.", path, raw)
        return Hyperparameters()
    defaults = Hyperparameters()
    values: dict[str, Any] = {}
    for f in fields(Hyperparameters):
        if f.name not in raw:
            continue
        value = raw[f.name]
        problem = hyperparameter_problem(f.name, value)
        if problem:
            default = getattr(defaults, f.name)
            log.warning(
                "Settings in %s: hyperparameter %s was %r: %s; using the default, %s.",
                path,
                f.name,
                value,
                problem[0].lower() + problem[1:].rstrip("."),
                "the task's own" if default is None else repr(default),
            )
            continue
        values[f.name] = float(value) if f.name in _FLOATS and value is not None else value
    # Settings that are possible alone but not together (early stopping's patience and the run's evaluations,
    # LoRA and gradual unfreezing): the later one of each pair, as TrainConfig names it, takes its default.
    for _ in range(len(values)):
        together = {n: p for n, p in TrainConfig(**values).problems().items() if n in values}
        if not together:
            break
        name, problem = next(iter(together.items()))
        log.warning(
            "Settings in %s: hyperparameter %s was %r: %s; using the default, %r.",
            path,
            name,
            values.pop(name),
            problem[0].lower() + problem[1:].rstrip("."),
            getattr(defaults, name),
        )
    return Hyperparameters(**values)


def _optional_text(value: Any) -> bool:
    return value is None or isinstance(value, str)


def _repaired_settings(data: dict[str, Any], path: Path | None) -> Settings:
    defaults = Settings()
    values: dict[str, Any] = {"schema_version": SCHEMA_VERSION}
    for f in fields(Settings):
        if f.name in ("schema_version", "hyperparameters") or f.name not in data:
            continue
        value = data[f.name]
        default = getattr(defaults, f.name)
        if f.name.startswith("recent_"):
            if not isinstance(value, list):
                log.warning("Settings in %s: %s was %r, not a list; starting it afresh.", path, f.name, value)
                continue
            kept = [v for v in value if isinstance(v, str) and v.strip()]
            if len(kept) != len(value):
                log.warning("Settings in %s: %s had entries that are not paths or names; left out.", path, f.name)
            value = list(dict.fromkeys(kept))[:RECENT_LIMIT]
        elif f.name == "allow_pickle":
            if not isinstance(value, bool):
                log.warning("Settings in %s: allow_pickle was %r, not true or false; using %r.", path, value, default)
                continue
        elif not _optional_text(value):
            log.warning("Settings in %s: %s was %r, not text; using %r.", path, f.name, value, default)
            continue
        elif isinstance(value, str) and not value.strip():
            value = None
        values[f.name] = value
    return Settings(**values, hyperparameters=_repaired_hyperparameters(data.get("hyperparameters"), path))


def load_settings(path: Path | None = None) -> Settings:
    """The saved settings, migrated to this schema and repaired value by value; the defaults when unreadable."""
    path = path or settings_path()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return Settings()
    except (OSError, ValueError) as exc:
        # A damaged file must not stop the app from starting: start afresh and say so in the log.
        log.warning("Ignoring unreadable settings in %s: %s", path, exc)
        return Settings()
    if not isinstance(data, dict):
        log.warning("Ignoring settings in %s: not a JSON object but %s.", path, type(data).__name__)
        return Settings()
    return _repaired_settings(migrate(data, path), path)


def save_settings(settings: Settings, path: Path | None = None) -> None:
    """Write the settings atomically, so that a crash never leaves half a file."""
    path = path or settings_path()
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        tmp.write_text(json.dumps(asdict(settings), indent=2), encoding="utf-8")
        os.replace(tmp, path)
    except (OSError, TypeError, ValueError) as exc:
        log.warning("Could not save the settings to %s: %s", path, exc)
