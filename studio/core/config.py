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
SCHEDULERS = ("linear", "cosine", "constant")
UNFREEZE_UNITS = ("steps", "epochs")
CLASS_WEIGHTS = ("none", "balanced")
REPORT_TO = ("none", "tensorboard", "mlflow", "wandb")
# The pip package each tracker needs (tensorboardX also serves the Trainer's TensorBoard integration).
TRACKER_PACKAGES = {"tensorboard": ("tensorboard", "tensorboardX"), "mlflow": ("mlflow",), "wandb": ("wandb",)}


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
    weight_decay: float = setting(0.01, "--weight-decay", "AdamW weight decay (not on biases and norms)")
    scheduler: str = setting(
        "linear",
        "--scheduler",
        "how the learning rate changes after the warm-up: linear (down to 0), cosine (down to 0), constant",
        choices=SCHEDULERS,
    )
    warmup_ratio: float = setting(0.0, "--warmup-ratio", "share of steps for learning-rate warm-up")
    warmup_steps: int = setting(
        0, "--warmup-steps", "learning-rate warm-up in steps; when above 0 it replaces --warmup-ratio", metavar="N"
    )
    layer_lr_decay: float = setting(
        1.0,
        "--layer-lr-decay",
        "layer-wise learning-rate decay: each block's rate is the one above it times F, the head takes the full "
        "rate (1 = the same rate everywhere; 0.8 to 0.95 is usual)",
        metavar="F",
    )
    unfreeze_every: int | None = setting(
        None,
        "--unfreeze-every",
        "gradual unfreezing: start with the head (and --unfreeze-start blocks) training and unfreeze one more "
        "block from the top every N --unfreeze-unit (default: off, every block trains from the start)",
        metavar="N",
    )
    unfreeze_unit: str = setting("epochs", "--unfreeze-unit", "what --unfreeze-every counts", choices=UNFREEZE_UNITS)
    unfreeze_start: int = setting(
        0, "--unfreeze-start", "gradual unfreezing: top blocks that train from the start besides the head", metavar="K"
    )
    lora: bool = setting(
        False, "--lora", "train small LoRA adapters on the attention (and the head fully) instead of every weight"
    )
    lora_rank: int = setting(8, "--lora-rank", "LoRA: rank of each adapter", metavar="N")
    lora_alpha: int = setting(
        32, "--lora-alpha", "LoRA: scale of the adapters (alpha / rank multiplies them)", metavar="N"
    )
    # 0, as peft's own default: a dropout makes peft keep a copy of each adapted layer's input (measured: 0.71x
    # full fine-tuning's peak memory with 0.1, 0.59x with 0), and cost F1 on sms_spam.
    lora_dropout: float = setting(0.0, "--lora-dropout", "LoRA: dropout on the adapters' input", metavar="P")
    lora_targets: str | None = setting(
        None,
        "--lora-targets",
        "LoRA: comma-separated names of the layers to adapt (default: the attention projections of the "
        "architecture, such as query,key,value for BERT)",
        metavar="NAMES",
    )
    early_stopping: int | None = setting(
        None,
        "--early-stopping",
        "stop once the task's main figure has not improved for N evaluations in a row; the best checkpoint is "
        "exported (default: off)",
        metavar="N",
    )
    min_improvement: float = setting(
        0.0, "--min-improvement", "early stopping: the least rise of the main figure that counts", metavar="D"
    )
    dropout: float | None = setting(
        None,
        "--dropout",
        "dropout on the hidden states and the attention, replacing the model's own (default: the model's)",
        metavar="P",
    )
    label_smoothing: float = setting(
        0.0, "--label-smoothing", "share of each target spread over the other classes (0.1 is usual)", metavar="S"
    )
    class_weights: str = setting(
        "none",
        "--class-weights",
        "weight of each class in the loss: none, balanced (rare classes count more), or LABEL=W,LABEL=W",
        metavar="{none,balanced}",
    )
    oversample: bool = setting(
        False, "--oversample", "repeat rows of rare classes so that each class is seen about as often as the largest"
    )
    gradient_accumulation: int = setting(1, "--gradient-accumulation", "batches per optimizer step")
    evaluations_per_epoch: int = setting(1, "--evaluations-per-epoch", "validation passes per epoch")
    checkpoint_minutes: float = setting(
        5.0, "--checkpoint-minutes", "minutes between checkpoints to resume from after a crash"
    )
    report_to: str = setting(
        "none",
        "--report-to",
        "also log the run to an experiment tracker through the HF Trainer's integration: tensorboard (event files "
        "in the run folder's tensorboard folder), mlflow or wandb (as set up by their environment variables)",
        choices=REPORT_TO,
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
        self._method_problems(need)
        need("report_to", tracker_installed(self.report_to), _tracker_problem(self.report_to))
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

    def _method_problems(self, need) -> None:
        """The fine-tuning methods' settings (LoRA, unfreezing, decay, early stopping, regularisation)."""
        need(
            "warmup_steps",
            _int(self.warmup_steps) and self.warmup_steps >= 0,
            f"The warm-up steps must be a whole number, 0 or more (got {self.warmup_steps}).",
        )
        need(
            "layer_lr_decay",
            _finite(self.layer_lr_decay) and 0 < self.layer_lr_decay <= 1,
            f"The layer-wise learning-rate decay must be above 0 and at most 1 (got {self.layer_lr_decay}); "
            "1 gives every block the same rate, 0.8 to 0.95 is usual.",
        )
        need(
            "unfreeze_every",
            self.unfreeze_every is None or (_int(self.unfreeze_every) and self.unfreeze_every >= 1),
            f"Gradual unfreezing needs a whole number of {self.unfreeze_unit} of at least 1 between unfreezings "
            f"(got {self.unfreeze_every}); leave it empty to train every block from the start.",
        )
        need(
            "unfreeze_start",
            _int(self.unfreeze_start) and self.unfreeze_start >= 0,
            f"The blocks that train from the start must be 0 or more (got {self.unfreeze_start}).",
        )
        need(
            "unfreeze_every",
            not (self.lora is True and self.unfreeze_every is not None),
            "Gradual unfreezing and LoRA cannot be combined: LoRA already trains only small adapters on a frozen "
            "model; switch one of them off.",
        )
        need(
            "lora_rank",
            _int(self.lora_rank) and 1 <= self.lora_rank <= 1024,
            f"The LoRA rank must be a whole number from 1 to 1024 (got {self.lora_rank}); 8 or 16 is usual.",
        )
        need(
            "lora_alpha",
            _number(self.lora_alpha) and self.lora_alpha > 0,
            f"The LoRA alpha must be above 0 (got {self.lora_alpha}); two to four times the rank is usual.",
        )
        need(
            "lora_dropout",
            _finite(self.lora_dropout) and 0 <= self.lora_dropout < 1,
            f"The LoRA dropout must be from 0 to below 1 (got {self.lora_dropout}).",
        )
        need(
            "lora_targets",
            self.lora_targets is None
            or (isinstance(self.lora_targets, str) and all(n.strip() for n in self.lora_targets.split(","))),
            f"The LoRA target layers must be names separated by commas, such as query,value (got "
            f"{self.lora_targets!r}); leave it empty for the architecture's attention projections.",
        )
        need(
            "early_stopping",
            self.early_stopping is None or (_int(self.early_stopping) and self.early_stopping >= 1),
            f"Early stopping needs a patience of at least 1 evaluation (got {self.early_stopping}); leave it empty "
            "to train to the end.",
        )
        if self.early_stopping is not None and _int(self.early_stopping) and self.early_stopping >= 1:
            evaluations = self.evaluation_count
            need(
                "early_stopping",
                evaluations is None or evaluations > self.early_stopping,
                f"Early stopping waits for {self.early_stopping} evaluations without improvement, but this run "
                f"evaluates only {evaluations} times ({self.epochs:g} epochs x {self.evaluations_per_epoch} per "
                "epoch), so it could never stop early; train for more epochs, evaluate more often, or lower the "
                "patience.",
            )
        need(
            "min_improvement",
            _finite(self.min_improvement) and 0 <= self.min_improvement < 1,
            f"The least improvement for early stopping must be from 0 to below 1 (got {self.min_improvement}).",
        )
        need(
            "dropout",
            self.dropout is None or (_finite(self.dropout) and 0 <= self.dropout < 1),
            f"The dropout must be from 0 to below 1 (got {self.dropout}); 0.1 is usual.",
        )
        need(
            "label_smoothing",
            _finite(self.label_smoothing) and 0 <= self.label_smoothing < 1,
            f"The label smoothing must be from 0 to below 1 (got {self.label_smoothing}); 0.1 is usual.",
        )
        need("class_weights", custom_class_weights(self.class_weights) is not None, _class_weights_problem(self))
        if self.task in ("multi", "token"):
            need(
                "oversample",
                not self.oversample,
                "Oversampling repeats the rows of rare classes, and a row of a multi-label or token run has no single "
                "class; use class weights instead.",
            )
        if self.task == "regression":
            for name, on in (
                ("label_smoothing", self.label_smoothing),
                ("class_weights", self.class_weights != "none"),
                ("oversample", self.oversample),
            ):
                need(
                    name,
                    not on,
                    "A regression run predicts a number and has no classes, so label smoothing, class weights and "
                    "oversampling do not apply; switch them off.",
                )

    @property
    def evaluation_count(self) -> int | None:
        """How many evaluations the run makes (None when the settings cannot say)."""
        if not (_finite(self.epochs) and _int(self.evaluations_per_epoch)) or self.epochs <= 0:
            return None
        return max(1, math.ceil(self.epochs * self.evaluations_per_epoch - 1e-9))

    def validate(self) -> TrainConfig:
        """Raise ConfigError naming the first impossible setting; return self when all is well."""
        problems = self.problems()
        if problems:
            raise ConfigError(next(iter(problems.values())))
        return self

    @property
    def effective_learning_rate(self) -> float:
        """The learning rate the run uses: the one set, else the task's default (single-label's when undecided).

        With LoRA the default is the task's LoRA rate: adapters start at zero and need a larger step.
        """
        if self.learning_rate is not None:
            return float(self.learning_rate)
        from studio.core.tasks import get_task

        task = get_task(self.task or "single")
        return task.default_lora_learning_rate if self.lora is True else task.default_learning_rate

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


def custom_class_weights(value: Any) -> dict[str, float] | None:
    """{} for none or balanced (no custom weights), {label: weight} for "LABEL=W,...", None when unreadable."""
    if value in CLASS_WEIGHTS:
        return {}
    if not isinstance(value, str) or "=" not in value:
        return None
    weights: dict[str, float] = {}
    for part in value.split(","):
        label, _, number = part.rpartition("=")
        try:
            weight = float(number)
        except ValueError:
            return None
        if not label.strip() or not math.isfinite(weight) or weight <= 0:
            return None
        weights[label.strip()] = weight
    return weights


def tracker_installed(report_to: Any) -> bool:
    """Whether the package the --report-to tracker needs can be imported (True for none and unknown values)."""
    import importlib.util

    packages = TRACKER_PACKAGES.get(report_to) if isinstance(report_to, str) else None
    return packages is None or any(importlib.util.find_spec(name) is not None for name in packages)


def _tracker_problem(report_to: Any) -> str:
    return (
        f"Reporting to {report_to} needs its Python package, which is not installed: run "
        f"`pip install {report_to}` (or choose none)."
    )


def _class_weights_problem(config: TrainConfig) -> str:
    return (
        f"The class weights must be none, balanced, or weights by label such as spam=3,ham=1 with each weight "
        f"above 0 (got {config.class_weights!r})."
    )


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
