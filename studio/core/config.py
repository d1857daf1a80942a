"""TrainConfig: every setting of a training run, validated, with a JSON round trip."""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path

from studio.core.errors import ConfigError

BUILTIN_MODEL = "builtin:all-MiniLM-L6-v2"
SCHEMA_VERSION = 1

DEVICES = ("auto", "cpu", "cuda", "mps")
PRECISIONS = ("auto", "fp32", "bf16", "fp16")


@dataclass(frozen=True)
class TrainConfig:
    """What to train on, from what, and how."""

    train_csv: str
    validation_csv: str | None = None
    model: str = BUILTIN_MODEL
    text_column: str | None = None
    label_column: str | None = None
    learning_rate: float = 5e-5
    epochs: float = 3.0
    batch_size: int = 32
    max_length: int = 128
    freeze_layers: int = 0
    seed: int = 42
    validation_share: float = 0.1
    weight_decay: float = 0.01
    warmup_ratio: float = 0.0
    gradient_accumulation: int = 1
    evaluations_per_epoch: int = 1
    # Minutes between checkpoints kept for resuming after a crash (besides one per evaluation).
    checkpoint_minutes: float = 5.0
    device: str = "auto"
    precision: str = "auto"
    allow_pickle: bool = False
    trust_remote_code: bool = False
    output_dir: str | None = None

    def problems(self) -> dict[str, str]:
        """Each impossible setting, by field name, with a sentence that says what would work."""
        found: dict[str, str] = {}

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
            _finite(self.learning_rate) and 0 < self.learning_rate < 1,
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
        need("device", self.device in DEVICES, f"The device must be one of {', '.join(DEVICES)} (got {self.device!r}).")
        need(
            "precision",
            self.precision in PRECISIONS,
            f"The precision must be one of {', '.join(PRECISIONS)} (got {self.precision!r}).",
        )
        return found

    def validate(self) -> TrainConfig:
        """Raise ConfigError naming the first impossible setting; return self when all is well."""
        problems = self.problems()
        if problems:
            raise ConfigError(next(iter(problems.values())))
        return self

    def with_changes(self, **changes) -> TrainConfig:
        return replace(self, **changes)

    def to_dict(self) -> dict:
        return {"schema_version": SCHEMA_VERSION, **asdict(self)}

    @classmethod
    def from_dict(cls, data: dict) -> TrainConfig:
        # Unknown keys (from a newer version) are ignored so that old runs stay readable.
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})

    def save(self, path: Path) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), indent=2), encoding="utf-8")

    @classmethod
    def load(cls, path: Path) -> TrainConfig:
        try:
            return cls.from_dict(json.loads(Path(path).read_text(encoding="utf-8")))
        except (OSError, ValueError, TypeError) as exc:
            raise ConfigError(f"Could not read the settings in {path}: {exc}.") from exc


def _finite(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
