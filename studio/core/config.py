"""TrainConfig: every setting of a training run, typed and validated; its fields also define the CLI's flags."""

from __future__ import annotations

import json
import logging
import math
import sys
import typing
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from studio.core.errors import ConfigError
from studio.core.tasks import TASK_NAMES

log = logging.getLogger(__name__)

BUILTIN_MODEL = "builtin:all-MiniLM-L6-v2"
SCHEMA_VERSION = 1

DEVICES = ("auto", "cpu", "cuda", "mps")
PRECISIONS = ("auto", "fp32", "bf16", "fp16")


def setting(default: Any, flag: str, help: str, **metadata: Any) -> Any:
    """A TrainConfig field that `studio train` offers as `flag`, with `help` (the default is added to it).

    Other metadata the command line reads: `choices` (the allowed values) and `metavar` (the value's name in help).
    """
    return field(default=default, metadata={"flag": flag, "help": help, **metadata})


@dataclass(frozen=True)
class TrainConfig:
    """What to train on, from what, and how. A new setting is one field here (and its widget in the app)."""

    # Empty until chosen: a saved set of hyperparameters may leave the data to the command line or the app.
    train_csv: str = setting("", "--train", "training CSV file", metavar="CSV")
    validation_csv: str | None = setting(
        None,
        "--validation",
        "validation CSV (default: hold out --validation-share of the training file)",
        metavar="CSV",
    )
    model: str = setting(BUILTIN_MODEL, "--model", "hub id or model folder", metavar="MODEL")
    text_column: str | None = setting(
        None, "--text-column", "column holding the text (default: inferred)", metavar="NAME"
    )
    label_column: str | None = setting(
        None,
        "--label-column",
        "column holding the label, or the tags for token classification (default: inferred)",
        metavar="NAME",
    )
    task: str | None = setting(
        None,
        "--task",
        "what to learn: single (one class per text), multi (several labels per text), regression (a number), "
        "pair (one class per pair of texts), token (a tag per word: NER) (default: detected from the file)",
        choices=TASK_NAMES,
    )
    pair_column: str | None = setting(
        None,
        "--pair-column",
        "column holding the second text of a pair (default: one named text_pair, sentence2, hypothesis... "
        'when the task takes pairs; "" for none: the text alone)',
        metavar="NAME",
    )
    learning_rate: float | None = setting(
        None,
        "--lr",
        "learning rate (default: the task's own: 5e-5 single and pair, 2e-4 multi and regression, 3e-4 token)",
        metavar="LR",
    )
    epochs: float = setting(3.0, "--epochs", "passes over the training data; a fraction trains part of the last one")
    batch_size: int = setting(32, "--batch-size", "texts per batch")
    max_length: int = setting(128, "--max-length", "maximum tokens per text; longer texts are cut")
    freeze_layers: int = setting(0, "--freeze-layers", "freeze the embeddings and the bottom N layers", metavar="N")
    seed: int = setting(42, "--seed", "random seed")
    validation_share: float = setting(
        0.1, "--validation-share", "share of the training file held out when there is no validation file"
    )
    weight_decay: float = setting(0.01, "--weight-decay", "AdamW weight decay")
    warmup_ratio: float = setting(0.0, "--warmup-ratio", "share of steps for learning-rate warm-up")
    gradient_accumulation: int = setting(1, "--gradient-accumulation", "batches per optimizer step")
    evaluations_per_epoch: int = setting(1, "--evaluations-per-epoch", "validation passes per epoch")
    checkpoint_minutes: float = setting(
        5.0, "--checkpoint-minutes", "minutes between checkpoints to resume from after a crash"
    )
    device: str = setting("auto", "--device", "where to train; auto takes a GPU when there is one", choices=DEVICES)
    precision: str = setting(
        "auto",
        "--precision",
        "number format for training; auto takes bf16 where the hardware has it (fp16 on older GPUs), else fp32",
        choices=PRECISIONS,
    )
    allow_pickle: bool = setting(False, "--allow-pickle", "allow pickle weights (only from sources you trust)")
    trust_remote_code: bool = setting(False, "--trust-remote-code", "run the model repository's own code")
    output_dir: str | None = setting(None, "--output", "folder to export the trained model to", metavar="DIR")

    def problems(self) -> dict[str, str]:
        """Each impossible setting, by field name, with a sentence that says what would work.

        A value of the wrong type (text for a number, None for a whole number) is a problem too, never an exception.
        """
        found: dict[str, str] = {}
        for name, (kind, optional) in field_types(type(self)).items():
            problem = _type_problem(name, getattr(self, name), kind, optional)
            if problem:
                found[name] = problem

        def need(name: str, ok: bool, message: str) -> None:
            if not ok and name not in found:
                found[name] = message

        need("train_csv", bool(self.train_csv and str(self.train_csv).strip()), "Choose a training CSV file.")
        need(
            "model",
            bool(self.model and str(self.model).strip()),
            "Choose a model: the built-in one, a local folder or a Hugging Face hub id.",
        )
        need(
            "learning_rate",
            self.learning_rate is None or (_finite(self.learning_rate) and 0 < self.learning_rate < 1),
            f"The learning rate must be above 0 and below 1 (got {self.learning_rate}); 2e-5 to 1e-4 is usual.",
        )
        need(
            "epochs",
            _finite(self.epochs) and 0 < self.epochs <= 1000,
            f"The number of epochs must be above 0 (got {self.epochs}); 1 to 5 is usual.",
        )
        need(
            "batch_size",
            _int(self.batch_size) and 1 <= self.batch_size <= 65536,
            f"The batch size must be a whole number of at least 1 (got {self.batch_size}).",
        )
        need(
            "max_length",
            _int(self.max_length) and 8 <= self.max_length <= 65536,
            f"The maximum length must be a whole number of tokens, at least 8 (got {self.max_length}).",
        )
        need(
            "freeze_layers",
            _int(self.freeze_layers) and self.freeze_layers >= 0,
            f"The number of frozen layers must be 0 or more (got {self.freeze_layers}).",
        )
        need(
            "seed",
            _int(self.seed) and 0 <= self.seed < 2**32,
            f"The seed must be a whole number from 0 to 4294967295 (got {self.seed}).",
        )
        need(
            "validation_share",
            _finite(self.validation_share) and 0 < self.validation_share < 1,
            f"The validation share must be between 0 and 1, such as 0.1 (got {self.validation_share}).",
        )
        need(
            "weight_decay",
            _finite(self.weight_decay) and 0 <= self.weight_decay < 1,
            f"The weight decay must be from 0 to below 1 (got {self.weight_decay}).",
        )
        need(
            "warmup_ratio",
            _finite(self.warmup_ratio) and 0 <= self.warmup_ratio < 1,
            f"The warm-up share must be from 0 to below 1 (got {self.warmup_ratio}).",
        )
        need(
            "gradient_accumulation",
            _int(self.gradient_accumulation) and self.gradient_accumulation >= 1,
            f"Gradient accumulation must be a whole number of at least 1 (got {self.gradient_accumulation}).",
        )
        need(
            "evaluations_per_epoch",
            _int(self.evaluations_per_epoch) and 1 <= self.evaluations_per_epoch <= 100,
            f"Evaluations per epoch must be from 1 to 100 (got {self.evaluations_per_epoch}).",
        )
        need(
            "checkpoint_minutes",
            _finite(self.checkpoint_minutes) and self.checkpoint_minutes > 0,
            f"Minutes between checkpoints must be above 0 (got {self.checkpoint_minutes}).",
        )
        types = field_types(type(self))
        for f in fields(self):
            choices = f.metadata.get("choices")
            if choices:
                value = getattr(self, f.name)
                need(
                    f.name,
                    value in choices or (value is None and types[f.name][1]),
                    f"The {f.name} must be one of {', '.join(choices)} (got {value!r}).",
                )
        # In field order, so that the first problem is the first setting on the form and in the file.
        return {f.name: found[f.name] for f in fields(self) if f.name in found}

    def validate(self) -> TrainConfig:
        """Raise ConfigError naming the first impossible setting; return self when all is well."""
        problems = self.problems()
        if problems:
            raise ConfigError(next(iter(problems.values())))
        return self

    @property
    def effective_learning_rate(self) -> float:
        """The learning rate the run uses: the one set, else the task's default (single-label's when undecided)."""
        if self.learning_rate is not None:
            return float(self.learning_rate)
        from studio.core.tasks import get_task

        return get_task(self.task or "single").default_learning_rate

    def with_changes(self, **changes) -> TrainConfig:
        return replace(self, **changes)

    def to_dict(self) -> dict:
        return {"schema_version": SCHEMA_VERSION, **asdict(self)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TrainConfig:
        """The config these saved values make, unchecked (see problems()); a missing setting takes its default.

        Keys this version does not know (a newer version's) are dropped with a log line, so that old runs and
        shared files stay readable.
        """
        known = {f.name for f in fields(cls)}
        unknown = sorted(str(k) for k in data if k not in known and k != "schema_version")
        if unknown:
            log.warning("Ignoring settings this version does not know: %s", ", ".join(unknown))
        version = data.get("schema_version", SCHEMA_VERSION)
        if isinstance(version, int) and version > SCHEMA_VERSION:
            log.info(
                "These settings were written by a newer version (schema %s; this one reads %s)", version, SCHEMA_VERSION
            )
        return cls(**{k: v for k, v in data.items() if k in known})

    def save(self, path: str | Path) -> None:
        """Write the settings as TOML when the name ends in .toml, else as JSON (a run's config.json)."""
        path = Path(path)
        data = self.to_dict()
        if _is_toml(path):
            import tomli_w

            # TOML has no null; a setting left out loads as its default, which is None for every optional one.
            text = tomli_w.dumps({k: v for k, v in data.items() if v is not None})
        else:
            text = json.dumps(data, indent=2)
        try:
            path.write_text(text, encoding="utf-8")
        except OSError as exc:
            raise ConfigError(f"Could not save the settings to {path}: {exc.strerror or exc}.") from exc

    @classmethod
    def load(cls, path: str | Path) -> TrainConfig:
        """Read settings saved as .toml or JSON; refuse a file with a setting that cannot work, naming it.

        The training file may be left empty (a shared set of hyperparameters), for the caller to fill in.
        """
        path = Path(path)
        data = _read(path)
        config = cls.from_dict(data)
        problems = config.problems()
        if config.train_csv == "":
            problems.pop("train_csv", None)
        if problems:
            message = next(iter(problems.values()))
            raise ConfigError(f"The settings file {path} cannot be used: {message[0].lower()}{message[1:]}")
        return config


def field_types(cls: type = TrainConfig) -> dict[str, tuple[type, bool]]:
    """Each field's value type, and whether None is allowed too: `float | None` gives (float, True)."""
    if cls not in _FIELD_TYPES:
        hints = typing.get_type_hints(cls)
        found = {}
        for f in fields(cls):
            hint = hints[f.name]
            args = typing.get_args(hint)
            kinds = [a for a in args if a is not type(None)] or [hint]
            found[f.name] = (kinds[0], type(None) in args)
        _FIELD_TYPES[cls] = found
    return _FIELD_TYPES[cls]


# problems() runs on every keystroke in the app's form: resolve the annotations once per class.
_FIELD_TYPES: dict[type, dict[str, tuple[type, bool]]] = {}

_KIND_WORDS = {bool: "true or false", int: "a whole number", float: "a number", str: "text"}


def _type_problem(name: str, value: Any, kind: type, optional: bool) -> str | None:
    if value is None and optional:
        return None
    if kind is float:
        ok = _number(value)
    elif kind is int:
        ok = _int(value)
    else:
        ok = isinstance(value, kind)
    if ok:
        return None
    words = _KIND_WORDS.get(kind, kind.__name__)
    return f"The setting {name} must be {words}{' or left empty' if optional else ''} (got {value!r})."


def _is_toml(path: Path) -> bool:
    return path.suffix.lower() == ".toml"


def _read(path: Path) -> dict:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"There is no settings file at {path}.") from None
    except UnicodeDecodeError:
        raise ConfigError(f"The settings file {path} is not text; choose a .json or .toml settings file.") from None
    except OSError as exc:
        raise ConfigError(f"Could not read the settings file {path}: {exc.strerror or exc}.") from exc
    if _is_toml(path):
        if sys.version_info >= (3, 11):
            import tomllib
        else:
            import tomli as tomllib
        try:
            data: Any = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"The settings file {path} is not valid TOML: {exc}.") from None
    else:
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise ConfigError(f"The settings file {path} is not valid JSON: {exc}.") from None
    if not isinstance(data, dict):
        raise ConfigError(f'The settings file {path} must hold settings by name, such as {{"epochs": 3}}.')
    return data


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _finite(value: Any) -> bool:
    return _number(value) and math.isfinite(value)


def _int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
