"""run_adapt(config, reporter, stop): adapt an encoder to a domain by masked-language-model pre-training on its text."""

from __future__ import annotations

import json
import logging
import math
import shutil
import traceback
from dataclasses import asdict, dataclass, fields, replace
from datetime import datetime
from pathlib import Path

from studio.core import runs
from studio.core.config import BUILTIN_MODEL, DEVICES, PRECISIONS
from studio.core.devices import is_out_of_memory, release_accelerator_memory
from studio.core.errors import ConfigError, OutOfMemoryError, StudioError
from studio.core.events import Failed, Finished, Reporter, RunCreated, RunStarted, StopToken

log = logging.getLogger(__name__)

CONFIG_FILE = "adapt.json"  # not runs.CONFIG_FILE: an adaptation is no training run (studio train --resume refuses it)
METRICS_FILE = "adapt_metrics.json"


@dataclass(frozen=True)
class AdaptConfig:
    """What to adapt, on what text, and how; `studio adapt` offers each as an option."""

    corpus: str = ""
    output_dir: str | None = None
    text_column: str | None = None
    model: str = BUILTIN_MODEL
    epochs: float | None = None  # None: DEFAULT_EPOCHS, more on a small corpus (see planned_epochs)
    steps: int | None = None  # when set, replaces epochs
    mlm_probability: float = 0.15
    whole_word: bool = False
    max_length: int = 128
    learning_rate: float = 1e-4
    batch_size: int = 16
    gradient_accumulation: int = 1
    weight_decay: float = 0.01
    warmup_ratio: float = 0.06
    seed: int = 42
    validation_share: float = 0.1
    evaluations: int = 4  # held-out evaluations during the run (besides the one before it)
    checkpoint_minutes: float = 5.0
    device: str = "auto"
    precision: str = "auto"
    allow_pickle: bool = False
    trust_remote_code: bool = False

    def validate(self) -> AdaptConfig:
        """Raise ConfigError with a sentence for the first impossible setting; return self when all is well."""
        checks = [
            (bool(str(self.corpus).strip()), "Give the text to adapt on with --corpus FILE."),
            (
                self.epochs is None or (_number(self.epochs) and self.epochs > 0),
                f"The number of epochs must be above 0 (got {self.epochs}).",
            ),
            (
                self.steps is None or (_whole(self.steps) and self.steps >= 1),
                f"The number of steps must be a whole number of at least 1 (got {self.steps}).",
            ),
            (
                _number(self.mlm_probability) and 0 < self.mlm_probability < 1,
                f"The masking probability must be above 0 and below 1 (got {self.mlm_probability}); 0.15 is usual.",
            ),
            (
                _whole(self.max_length) and self.max_length >= 8,
                f"The maximum length must be a whole number of at least 8 tokens (got {self.max_length}).",
            ),
            (
                _number(self.learning_rate) and 0 < self.learning_rate < 1,
                f"The learning rate must be above 0 and below 1 (got {self.learning_rate}); 5e-5 to 1e-4 is usual.",
            ),
            (
                _whole(self.batch_size) and self.batch_size >= 1,
                f"The batch size must be a whole number of at least 1 (got {self.batch_size}).",
            ),
            (
                _whole(self.gradient_accumulation) and self.gradient_accumulation >= 1,
                f"Gradient accumulation must be a whole number of at least 1 (got {self.gradient_accumulation}).",
            ),
            (
                _number(self.validation_share) and 0 < self.validation_share <= 0.5,
                f"The held-out share must be above 0 and at most 0.5 (got {self.validation_share}); 0.1 is usual.",
            ),
            (_whole(self.evaluations) and self.evaluations >= 1, "Evaluate at least once during the run."),
            (self.device in DEVICES, f"The device must be one of {', '.join(DEVICES)} (got {self.device!r})."),
            (self.precision in PRECISIONS, f"The precision must be one of {', '.join(PRECISIONS)}."),
        ]
        for ok, message in checks:
            if not ok:
                raise ConfigError(message)
        return self

    def with_changes(self, **changes) -> AdaptConfig:
        return replace(self, **changes)

    def save(self, path: Path) -> None:
        path.write_text(json.dumps(asdict(self), indent=2), encoding="utf-8")

    @classmethod
    def load(cls, path: Path) -> AdaptConfig:
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise StudioError(f"The settings of the adaptation in {path.parent} cannot be read ({exc}).") from exc
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


# Passes over the text when the user sets neither epochs nor steps ...
DEFAULT_EPOCHS = 3.0
# ... unless the corpus is so small that they make fewer optimizer steps than this: a fresh head (the built-in
# model has none) learns from the number of updates, not from the passes. Measured with the built-in model on 1,800
# ag_news passages (40 steps an epoch at the default batch): the held-out perplexity fell 17 % after 30 steps, 36 %
# after 60, 44 % after 90 and 47 % after 120; a 1,000-passage corpus would stop at 60 in 3 epochs.
MIN_STEPS = 150
# Passes over a tiny corpus stop here, whatever the steps: more would learn the text by heart.
MAX_AUTO_EPOCHS = 20


def planned_epochs(config: AdaptConfig, blocks: int) -> tuple[float, str | None]:
    """(epochs to train, a sentence for the log when they are not what the user would expect)."""
    if config.epochs is not None or config.steps:
        return float(config.epochs or DEFAULT_EPOCHS), None
    per_epoch = max(1, math.ceil(blocks / (config.batch_size * config.gradient_accumulation)))
    if per_epoch * DEFAULT_EPOCHS >= MIN_STEPS:
        return DEFAULT_EPOCHS, None
    epochs = float(min(MAX_AUTO_EPOCHS, math.ceil(MIN_STEPS / per_epoch)))
    return epochs, (
        f"The corpus makes only {per_epoch} steps an epoch, so it is read {epochs:g} times instead of "
        f"{DEFAULT_EPOCHS:g}: {math.ceil(per_epoch * epochs)} steps, as the head needs at least {MIN_STEPS} to learn "
        "(--epochs or --steps sets the length yourself)"
    )


def _number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _whole(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


@dataclass(frozen=True)
class AdaptResult:
    """Where the run and the adapted model are, and the held-out perplexity before and after."""

    run_dir: Path
    model_dir: Path
    metrics: dict
    stopped: bool
    output_dir: Path | None = None


class _NeverStop:
    def is_set(self) -> bool:
        return False


def check_output(dest: str | Path) -> None:
    """Refuse, before any work, an output folder that export.atomic_folder would refuse at the end."""
    from studio.core.export import check_destination

    check_destination(dest, "write the adapted model into")


def run_adapt(config: AdaptConfig, reporter: Reporter | None = None, stop: StopToken | None = None) -> AdaptResult:
    """Adapt in a new run folder; report events to `reporter`; end early (resumable) once `stop.is_set()`."""
    from studio.core.adapt_corpus import read_corpus

    config.validate()
    if not config.output_dir:
        raise ConfigError("Give the folder to write the adapted model to with --output DIR.")
    # Bad input is refused before a run folder exists.
    corpus = read_corpus(config.corpus, config.text_column)
    check_output(config.output_dir)
    config = config.with_changes(text_column=corpus.text_column)
    return _run(config, _create_run_dir(config), reporter, stop, resume=False, corpus=corpus)


def resume_adapt(
    run_dir: str | Path, reporter: Reporter | None = None, stop: StopToken | None = None, output_dir: str | None = None
) -> AdaptResult:
    """Carry on a stopped or crashed adaptation from its last checkpoint, with the settings it started with."""
    path = Path(run_dir).expanduser()
    if not (path / CONFIG_FILE).is_file():
        raise StudioError(f"{path} is not an adaptation run folder (it has no {CONFIG_FILE}); choose one.")
    if runs.read_status(path).get("status") == "finished":
        raise StudioError(f"The adaptation in {path} has already finished; there is nothing to resume.")
    config = AdaptConfig.load(path / CONFIG_FILE)
    if output_dir:
        check_output(output_dir)
        config = config.with_changes(output_dir=output_dir)
    return _run(config.validate(), path, reporter, stop, resume=True)


def _create_run_dir(config: AdaptConfig) -> Path:
    stem = f"adapt-{Path(config.corpus).stem[:40] or 'corpus'}"
    base = runs.runs_dir() / f"{datetime.now():%Y%m%d-%H%M%S}-{stem}"
    path, n = base, 1
    while path.exists():
        n += 1
        path = base.with_name(f"{base.name}-{n}")
    path.mkdir(parents=True)
    config.save(path / CONFIG_FILE)
    runs.write_status(path, "created")
    return path


def _run(config: AdaptConfig, run_dir: Path, reporter, stop, resume: bool, corpus=None) -> AdaptResult:
    with runs.EventLog(run_dir, reporter) as emit:
        emit(RunCreated(run_dir=str(run_dir), resumed=resume))
        try:
            runs.write_status(run_dir, "running")
            from studio.core.adapt_run import adapt

            return adapt(config, run_dir, emit, stop or _NeverStop(), resume, corpus)
        except StudioError as exc:
            _fail(run_dir, emit, str(exc))
            if not resume and runs.last_checkpoint(run_dir) is None:
                emit.close()
                shutil.rmtree(run_dir, ignore_errors=True)
            raise
        except Exception as exc:
            if not is_out_of_memory(exc):
                _fail(run_dir, emit, f"Adaptation failed unexpectedly: {type(exc).__name__}: {exc}")
                raise
            # The traceback's frames hold the model and the batch: let them go before freeing the GPU's memory.
            traceback.clear_frames(exc.__traceback__)
        except BaseException:
            _fail(run_dir, emit, "Adaptation was interrupted; resume it to carry on from its last checkpoint.")
            raise
        release_accelerator_memory()
        error = _out_of_memory(config)
        _fail(run_dir, emit, str(error))
        raise error


def _fail(run_dir: Path, emit, message: str) -> None:
    runs.write_status(run_dir, "failed", message=message)
    emit(Failed(message=message, run_dir=str(run_dir)))


def _out_of_memory(config: AdaptConfig) -> OutOfMemoryError:
    if config.batch_size > 1:
        half, accumulation = max(1, config.batch_size // 2), config.gradient_accumulation * 2
        advice = (
            f"try --batch-size {half} with --gradient-accumulation {accumulation} (the same effective batch), "
            "or a shorter --max-length"
        )
        retry = config.with_changes(batch_size=half, gradient_accumulation=accumulation)
    else:
        advice, retry = "try a shorter --max-length or a smaller model", None
    return OutOfMemoryError(f"The GPU ran out of memory with a batch size of {config.batch_size}; {advice}.", retry)


def write_metrics(folder: Path, metrics: dict) -> None:
    (folder / METRICS_FILE).write_text(json.dumps(metrics, indent=2), encoding="utf-8")


def started_event(run_dir: Path, state, train_blocks: int, heldout_blocks: int, device: str, precision: str, model):
    """RunStarted for an adaptation: blocks stand for rows, and the task is "mlm"."""
    return RunStarted(
        run_dir=str(run_dir),
        total_steps=state.max_steps,
        train_rows=train_blocks,
        validation_rows=heldout_blocks,
        labels=(),
        device=device,
        precision=precision,
        trainable_parameters=sum(p.numel() for p in model.parameters() if p.requires_grad),
        total_parameters=sum(p.numel() for p in model.parameters()),
        resumed_from_step=state.global_step,
        task="mlm",
    )


def finished_event(run_dir: Path, model_dir: Path, metrics: dict, stopped: bool) -> Finished:
    return Finished(run_dir=str(run_dir), model_dir=str(model_dir), metrics=metrics, stopped=stopped)
