"""run_training(config, reporter, stop) -> TrainResult: fine-tune on the Hugging Face Trainer."""

from __future__ import annotations

import logging
import shutil
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from studio.core import runs
from studio.core.config import TrainConfig
from studio.core.devices import is_out_of_memory, release_accelerator_memory
from studio.core.errors import ConfigError, ExportError, OutOfMemoryError, StudioError
from studio.core.events import (
    Failed,
    Finished,
    LayersPlanned,
    Message,
    Reporter,
    RunCreated,
    RunStarted,
    StopToken,
)
from studio.core.layer_plan import trainable_parameters

if TYPE_CHECKING:
    from studio.core.callback import StudioCallback
    from studio.core.early_stopping import EarlyStopping
    from studio.core.layer_plan import Block
    from studio.core.modeling import ModelSource
    from studio.core.rare_classes import LossOptions
    from studio.core.tasks.base import Examples, Task, TaskMetrics
    from studio.core.trainer import TrainBegins

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrainResult:
    """Where the run and its model are, and how well the model did on the validation data."""

    run_dir: Path
    model_dir: Path
    metrics: dict
    stopped: bool
    output_dir: Path | None = None
    # Why the copy to output_dir failed, if it did; the model is then still safe in model_dir.
    export_error: str | None = None


class _NeverStop:
    def is_set(self) -> bool:
        return False


def run_training(config: TrainConfig, reporter: Reporter | None = None, stop: StopToken | None = None) -> TrainResult:
    """Train in a new run folder; report events to `reporter`; end early once `stop.is_set()`."""
    config.validate()
    # Bad data is refused before a run folder exists, so a typo leaves nothing behind.
    examples = _load_examples(config)
    # The run keeps what was detected (task, columns), so that resuming it reads the data the same way.
    config = config.with_changes(
        task=examples.task,
        text_column=examples.columns.text,
        label_column=examples.columns.label,
        # "" (none) rather than None (look for one), so that a run trained on the text alone resumes so.
        pair_column=examples.columns.pair or "",
    )
    # Some settings only fail for the task found in the file (label smoothing on a regression, say).
    config.validate()
    run_dir = runs.create_run_dir(config)
    return _run(config, run_dir, reporter, stop, resume=False, examples=examples)


def resume_training(
    run_dir: str | Path, reporter: Reporter | None = None, stop: StopToken | None = None, output_dir: str | None = None
) -> TrainResult:
    """Carry on a stopped or crashed run from its last checkpoint, with the settings it started with."""
    summary = runs.load_run(run_dir)
    if summary.config is None:
        raise StudioError(f"The settings of the run in {summary.path} cannot be read, so it cannot be resumed.")
    if summary.status == "finished":
        raise StudioError(f"The run in {summary.path} has already finished; there is nothing to resume.")
    config = summary.config if output_dir is None else summary.config.with_changes(output_dir=output_dir)
    return _run(config.validate(), summary.path, reporter, stop, resume=True)


def _run(config: TrainConfig, run_dir: Path, reporter, stop, resume: bool, examples=None) -> TrainResult:
    with runs.EventLog(run_dir, reporter) as emit:
        emit(RunCreated(run_dir=str(run_dir), resumed=resume))
        try:
            runs.write_status(run_dir, "running")
            return _train(config, run_dir, emit, stop or _NeverStop(), resume, examples)
        except StudioError as exc:
            _fail(run_dir, emit, str(exc))
            if not resume and runs.last_checkpoint(run_dir) is None:
                # Refused before any training: the folder would only hold the mistake.
                emit.close()
                shutil.rmtree(run_dir, ignore_errors=True)
            raise
        except Exception as exc:
            if not is_out_of_memory(exc):
                _fail(run_dir, emit, f"Training failed unexpectedly: {type(exc).__name__}: {exc}")
                raise
            # The traceback's frames hold the model, the optimizer and the batch: let them go.
            traceback.clear_frames(exc.__traceback__)
            error = _out_of_memory(config)
        except BaseException:
            _fail(run_dir, emit, "Training was interrupted; resume the run to carry on from its last checkpoint.")
            raise
        # Only an out-of-memory error gets here, once its traceback is gone: now the GPU memory can be freed.
        release_accelerator_memory()
        _fail(run_dir, emit, str(error))
        raise error


def _fail(run_dir: Path, emit, message: str) -> None:
    runs.write_status(run_dir, "failed", message=message)
    emit(Failed(message=message, run_dir=str(run_dir)))


def _out_of_memory(config: TrainConfig) -> OutOfMemoryError:
    half, accumulation = max(1, config.batch_size // 2), config.gradient_accumulation * 2
    if config.batch_size > 1:
        advice = (
            f"try a batch size of {half} with gradient accumulation {accumulation} (the same effective "
            "batch), or a shorter maximum length"
        )
        retry = config.with_changes(batch_size=half, gradient_accumulation=accumulation)
    else:
        advice = "try a shorter maximum length, more frozen layers, or a smaller model"
        retry = None
    return OutOfMemoryError(f"The GPU ran out of memory with a batch size of {config.batch_size}; {advice}.", retry)


@dataclass(frozen=True)
class _Prepared:
    """What prepare() builds for fit() and finish(): the data, the model, and the Trainer around them."""

    config: TrainConfig
    run_dir: Path
    task: Task
    examples: Examples
    source: ModelSource
    tokenizer: Any
    train_rows: int
    validation_rows: int
    device: str
    precision: str
    trainer: Any
    computer: TaskMetrics
    callback: StudioCallback
    begins: TrainBegins
    checkpoint: Path | None
    plan: list[Block]
    early_stopping: EarlyStopping | None


def _train(config: TrainConfig, run_dir: Path, emit, stop, resume: bool, examples=None) -> TrainResult:
    """Prepare the data, the model and the Trainer; fit; finish with the final evaluation and the export."""
    prepared = _prepare(config, run_dir, emit, stop, resume, examples)
    train_seconds = _fit(prepared, stop)
    return _finish(prepared, emit, train_seconds)


def _prepare(config: TrainConfig, run_dir: Path, emit, stop, resume: bool, examples: Examples | None) -> _Prepared:
    """Read the data and the model, and build the Trainer; RunStarted follows once train() has counted the steps."""
    from studio.core.callback import StudioCallback
    from studio.core.devices import choose_device, choose_precision
    from studio.core.early_stopping import EarlyStopping
    from studio.core.tasks import get_task
    from studio.core.trainer import TrainBegins, make_trainer

    examples = _read_examples(config, emit, resume, examples)
    task = get_task(examples.task)
    device = choose_device(config.device)
    precision = choose_precision(device, config.precision)
    model, tokenizer, source, plan = _load_model(config, task, examples, emit)
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    total = sum(p.numel() for p in model.parameters())
    if config.lora:
        # The head's trained copy sits beside the frozen original: count the model as exported.
        total = sum(b.parameters for b in plan)
    else:
        trainable = trainable_parameters(plan)
    train_ds, val_ds = task.tokenize(examples, tokenizer, config.max_length)
    train_ds = _oversample(config, examples, train_ds, emit)

    def started(state) -> None:
        groups = list(trainer.described_groups) or _default_groups(plan, config)
        runs.write_layers(run_dir, [b.to_dict() for b in plan], groups)
        emit(LayersPlanned(blocks=tuple(b.to_dict() for b in plan), groups=tuple(groups)))
        emit(
            RunStarted(
                run_dir=str(run_dir),
                total_steps=state.max_steps,
                train_rows=len(train_ds),
                validation_rows=len(val_ds),
                labels=examples.labels,
                device=device,
                precision=precision,
                trainable_parameters=trainable,
                total_parameters=total,
                resumed_from_step=state.global_step,
                task=task.name,
            )
        )

    computer = task.metrics(examples)
    callback = StudioCallback(
        emit, stop, computer, examples.labels, config.checkpoint_minutes * 60, task.name, task.main_metric
    )
    begins = TrainBegins(started)
    callbacks: list = [begins, callback]
    early = None
    if config.early_stopping is not None:
        early = EarlyStopping(
            config.early_stopping, config.min_improvement, task.main_metric, task.main_metric_title, emit
        )
        callbacks.append(early)
    if config.unfreeze_every is not None:
        import os

        from studio.core.param_groups import block_parameters
        from studio.core.unfreezing import GradualUnfreezing

        distributed = int(os.environ.get("WORLD_SIZE", "1")) > 1
        callbacks.append(GradualUnfreezing(plan, block_parameters(model), emit, distributed))
    # One optimizer group per block only where the blocks' rates or schedules differ: the Trainer's own two
    # groups are quicker to step.
    grouped = config.layer_lr_decay != 1 or config.unfreeze_every is not None
    trainer = make_trainer(
        config,
        run_dir / runs.CHECKPOINTS,
        model,
        tokenizer,
        train_ds,
        val_ds,
        device,
        precision,
        computer,
        callbacks,
        task,
        examples,
        plan=plan if grouped else None,
        loss_options=_loss_options(config, task, examples, emit),
    )
    checkpoint = runs.last_checkpoint(run_dir) if resume else None
    if checkpoint is not None:
        emit(Message(f"Resuming from {checkpoint.name}"))
    elif resume:
        emit(Message("No checkpoint was saved before the run stopped; starting it again from the beginning."))
    return _Prepared(
        config=config,
        run_dir=run_dir,
        task=task,
        examples=examples,
        source=source,
        tokenizer=tokenizer,
        train_rows=len(train_ds),
        validation_rows=len(val_ds),
        device=device,
        precision=precision,
        trainer=trainer,
        computer=computer,
        callback=callback,
        begins=begins,
        checkpoint=checkpoint,
        plan=plan,
        early_stopping=early,
    )


def _load_examples(config: TrainConfig) -> Examples:
    from studio.core.data import load_examples

    return load_examples(
        config.train_csv,
        config.validation_csv,
        config.text_column,
        config.label_column,
        config.validation_share,
        config.seed,
        task=config.task,
        pair_column=config.pair_column,
    )


def _read_examples(config: TrainConfig, emit, resume: bool, examples: Examples | None) -> Examples:
    if examples is None:
        emit(Message(f"Reading {Path(config.train_csv).name}" + (" (resuming)" if resume else "")))
        examples = _load_examples(config)
    for warning in examples.warnings:
        emit(Message(warning, level="warning"))
    from studio.core.tasks import get_task

    shown = ", ".join(examples.labels[:30]) + (
        f" and {len(examples.labels) - 30} more" if len(examples.labels) > 30 else ""
    )
    columns = examples.columns
    emit(
        Message(
            f"{get_task(examples.task).title}: {len(examples.train_texts)} training and "
            f"{len(examples.validation_texts)} validation rows"
            f"{' (held out from the training file)' if examples.split_from_train else ''}; "
            f"text {columns.text!r}{f' with {columns.pair!r}' if columns.pair else ''}, "
            # One output (regression) has no label names to list, only its column.
            f"labels from {columns.label!r}{f': {shown}' if len(examples.labels) > 1 else ''}"
        )
    )
    return examples


def _load_model(config: TrainConfig, task: Task, examples: Examples, emit):
    """(model, tokenizer, source, layer plan): the model with LoRA adapters or its frozen layers, as configured."""
    from transformers import set_seed

    from studio.core.layer_plan import FROZEN, plan_layers
    from studio.core.modeling import freeze_layers, layer_parameter_counts, load_for_training, max_length_of

    # Seed before the head is initialised so that a run, and its resumption, start from the same weights.
    set_seed(config.seed)
    emit(Message(f"Loading the model {config.model}"))
    model, tokenizer, source = load_for_training(
        config.model,
        examples.labels,
        config.allow_pickle,
        config.trust_remote_code,
        model_class=task.model_class(),
        head=task.model_config(examples),
        dropout=config.dropout,
    )
    limit = max_length_of(model.config, tokenizer)
    if config.max_length > limit:
        raise ConfigError(
            f"This model reads at most {limit} tokens; set the maximum length to {limit} or less "
            f"(it is {config.max_length})."
        )
    if config.dropout is not None:
        emit(Message(f"Dropout set to {config.dropout:g} on the hidden states and the attention"))
    counts = layer_parameter_counts(model)
    if config.lora:
        from studio.core.lora import adapter_parameter_counts, apply_lora

        if config.freeze_layers:
            emit(
                Message(
                    f"LoRA is on, so the {config.freeze_layers} frozen layers are ignored: the whole model is frozen "
                    "and only the adapters and the head train.",
                    level="warning",
                )
            )
        plan = plan_layers(config, counts, adapter_parameter_counts(model, config))
        model = apply_lora(model, config, task)
        trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
        total = sum(b.parameters for b in plan)
        emit(
            Message(
                f"LoRA rank {config.lora_rank}, alpha {config.lora_alpha:g}: {trainable:,} of {total:,} parameters "
                f"train ({trainable / max(total, 1):.1%}: the adapters and the head)"
            )
        )
        return model, tokenizer, source, plan
    plan = plan_layers(config, counts)
    trainable, total = freeze_layers(model, config.freeze_layers)
    if config.unfreeze_every is not None:
        emit(Message(_unfreezing_sentence(config, plan)))
    else:
        emit(Message(f"{trainable:,} of {total:,} parameters will train ({config.freeze_layers} layers frozen)"))
    if config.layer_lr_decay != 1:
        rates = ", ".join(f"{b.name} {b.learning_rate:.2e}" for b in reversed(plan) if b.state != FROZEN)
        emit(Message(f"Layer-wise learning rates (decay {config.layer_lr_decay:g}): {rates}"))
    return model, tokenizer, source, plan


def _unfreezing_sentence(config: TrainConfig, plan: list[Block]) -> str:
    """What gradual unfreezing will do in this run, and which blocks the run ends too soon to reach."""
    from studio.core.layer_plan import FROZEN, UNFREEZES

    first = [b.name for b in reversed(plan) if b.state not in (FROZEN, UNFREEZES)]
    waiting = sorted((b for b in plan if b.state == UNFREEZES), key=lambda b: b.unfreezes_at or 0)
    unit = config.unfreeze_unit[:-1]
    text = f"Gradual unfreezing: {', '.join(first)} train{'s' if len(first) == 1 else ''} from the start"
    if not waiting:
        return text + "; no block is left to unfreeze."
    text += (
        f", then one more block every {config.unfreeze_every} {config.unfreeze_unit}: {waiting[0].name} at "
        f"{unit} {waiting[0].unfreezes_at} ... {waiting[-1].name} at {unit} {waiting[-1].unfreezes_at}"
    )
    if config.unfreeze_unit == "epochs":
        late = [b.name for b in waiting if (b.unfreezes_at or 0) >= config.epochs]
        if late:
            text += f"; the run ends after {config.epochs:g} epochs, before {', '.join(late)} unfreeze"
    return text + "."


def _loss_options(config: TrainConfig, task: Task, examples: Examples, emit) -> LossOptions:
    """Class weights (none, balanced, by label) and label smoothing for the task's loss."""
    from studio.core.rare_classes import LossOptions, class_weight_vector

    weights = None
    if config.class_weights != "none":
        if task.name == "multi" and config.class_weights == "balanced":
            emit(Message("Multi-label training already weighs each label's positives by its rarity (balanced)."))
        else:
            ids = examples.train_labels
            if task.name == "token":
                ids = [tag for row in ids for tag in row]
            elif task.name == "multi":
                ids = list(range(len(examples.labels)))  # custom weights only: by name
            weights = class_weight_vector(config.class_weights, ids, examples.labels)
            if weights is not None:
                shown = ", ".join(f"{n} {w:.2f}" for n, w in zip(examples.labels[:12], weights, strict=False))
                emit(Message(f"Class weights in the loss: {shown}{' ...' if len(weights) > 12 else ''}"))
    if config.label_smoothing:
        emit(Message(f"Label smoothing {config.label_smoothing:g}"))
    return LossOptions(class_weights=weights, label_smoothing=float(config.label_smoothing))


def _oversample(config: TrainConfig, examples: Examples, train_ds, emit):
    """The training rows with rare classes repeated, when asked (single-label and pair tasks)."""
    if not config.oversample:
        return train_ds
    from collections import Counter

    from studio.core.rare_classes import oversampled_indices

    indices = oversampled_indices(examples.train_labels, config.seed)
    before = Counter(examples.train_labels)
    emit(
        Message(
            f"Oversampling rare classes: {len(train_ds):,} training rows become {len(indices):,} "
            f"(each class about {max(before.values()):,} rows a pass)"
        )
    )
    return train_ds.select(indices)


def _default_groups(plan: list[Block], config: TrainConfig) -> list[dict]:
    """The rates the Trainer's own optimizer gives when every block shares one (no per-block groups)."""
    return [
        {"block": b.name, "learning_rate": b.learning_rate, "weight_decay": config.weight_decay, "parameters": n}
        for b in plan
        if (n := b.trainable_parameters)
    ]


def _fit(prepared: _Prepared, stop) -> float:
    """Train (from the checkpoint, when resuming) until done or stopped; the seconds it took."""
    checkpoint = prepared.checkpoint
    started = time.monotonic()
    prepared.trainer.train(resume_from_checkpoint=str(checkpoint) if checkpoint else None)
    if stop.is_set() and not prepared.callback.stopped:
        prepared.callback.stopped = True  # the stop came after the last step
    return time.monotonic() - started


def _finish(prepared: _Prepared, emit, train_seconds: float) -> TrainResult:
    """Evaluate the best checkpoint, export it to the run (and to config.output_dir), and report Finished."""
    config, run_dir, trainer, callback = prepared.config, prepared.run_dir, prepared.trainer, prepared.callback
    metrics = _final_metrics(prepared, train_seconds)
    model_dir = run_dir / runs.MODEL
    output_dir = export_error = None
    if trainer.is_world_process_zero():
        from studio.core.export import export_folder, export_model

        card = _card(config, prepared, metrics)
        model = trainer.model
        # Before the adapter is saved: the task's export step (thresholds, a regression's scale) folds into the
        # head, which the adapter carries too.
        prepared.task.prepare_export(model, prepared.examples, prepared.computer.last_report or {})
        if config.lora:
            from studio.core.lora import merged, save_adapter

            # The adapter alone (studio export --adapter-only), then the standard folder with it merged in:
            # loads in transformers.pipeline with no peft installed.
            save_adapter(model, run_dir / runs.ADAPTER)
            prepared.tokenizer.save_pretrained(run_dir / runs.ADAPTER)
            model = merged(model)
        export_model(model_dir, model, prepared.tokenizer, card, metrics)
        if config.output_dir:
            try:
                output_dir = export_folder(model_dir, config.output_dir)
            except ExportError as exc:
                export_error = (
                    f"{exc} The trained model is safe in {model_dir}; export it from there "
                    f"(studio export --run {run_dir} --output DIR, or the Export button)."
                )
        if not callback.stopped:
            # A finished run needs no checkpoints to resume from; they are the bulk of its size.
            shutil.rmtree(run_dir / runs.CHECKPOINTS, ignore_errors=True)
        runs.write_status(run_dir, "stopped" if callback.stopped else "finished")
    emit(
        Finished(
            run_dir=str(run_dir),
            model_dir=str(model_dir),
            metrics=metrics,
            stopped=callback.stopped,
            export_error=export_error,
        )
    )
    return TrainResult(
        run_dir=run_dir,
        model_dir=model_dir,
        metrics=metrics,
        stopped=callback.stopped,
        output_dir=output_dir,
        export_error=export_error,
    )


def _final_metrics(prepared: _Prepared, train_seconds: float) -> dict:
    trainer, callback, config, task = prepared.trainer, prepared.callback, prepared.config, prepared.task
    # The best checkpoint is loaded at the end of training; evaluate it once more for the final report,
    # which the Finished event carries (not a point on the live curves).
    callback.report_evaluations = False
    early = prepared.early_stopping
    if early is not None:
        early.active = False
    # predict() is evaluate() with the per-row logits kept, in the rows' own order (no length sorting), so that
    # the Evaluate page can list the rows behind each cell of the confusion matrix exactly as they were counted.
    trainer.keep_eval_order = True
    if prepared.precision != "fp32":
        # The report describes the exported model, which runs in fp32: drop accelerate's bf16/fp16 autocast from
        # the model's forward (it is done training), so that metrics.json, the saved rows and the thresholds tuned
        # on them are what the export and its pipeline give (under bf16 a regression value moved by 1e-3).
        trainer.accelerator.unwrap_model(trainer.model, keep_fp32_wrapper=False)
    output = trainer.predict(trainer.eval_dataset, metric_key_prefix="eval")
    report = prepared.computer.last_report or {}
    if trainer.is_world_process_zero() and output.predictions is not None:
        from studio.core.validation_rows import save_predictions

        save_predictions(prepared.run_dir, prepared.examples, output.predictions, report)
    steps = trainer.state.global_step - prepared.begins.first_step
    samples = steps * config.batch_size * config.gradient_accumulation * max(1, trainer.args.world_size)
    return {
        "task": task.name,
        **task.summary(report),
        "train_seconds": round(train_seconds, 2),
        "train_samples_per_second": round(samples / max(train_seconds, 1e-9), 2),
        "epochs_completed": round(float(trainer.state.epoch or 0), 4),
        # Ended before its last step: stopped by the user or by early stopping (stop_reason says which).
        "stopped_early": callback.stopped or bool(early and early.triggered),
        "stop_reason": "early stopping" if early and early.triggered else "user" if callback.stopped else None,
        "best_step": _best_step(trainer.state),
        "trainable_parameters": trainable_parameters(prepared.plan),
        "total_parameters": sum(b.parameters for b in prepared.plan),
        "labels": list(prepared.examples.labels),
        "device": prepared.device,
        "precision_mode": prepared.precision,
    }


def _best_step(state) -> int | None:
    """The step of the checkpoint chosen as best (the one exported), or the last step when none was chosen."""
    name = Path(state.best_model_checkpoint or "").name
    if name.startswith("checkpoint-") and name[len("checkpoint-") :].isdigit():
        return int(name[len("checkpoint-") :])
    return int(state.global_step) if state.global_step else None


def _methods(config: TrainConfig) -> dict:
    """The fine-tuning methods' settings in force, by their card names (only those switched on or changed)."""
    found: dict = {"scheduler": config.scheduler}
    if config.warmup_steps:
        found["warm-up steps"] = config.warmup_steps
    if config.lora:
        found["LoRA"] = (
            f"rank {config.lora_rank}, alpha {config.lora_alpha:g}, dropout {config.lora_dropout:g}, "
            f"targets {config.lora_targets or 'the attention projections'}"
        )
    if config.unfreeze_every is not None:
        found["gradual unfreezing"] = (
            f"one block every {config.unfreeze_every} {config.unfreeze_unit}, "
            f"top {config.unfreeze_start} from the start"
        )
    if config.layer_lr_decay != 1:
        found["layer-wise learning-rate decay"] = config.layer_lr_decay
    if config.early_stopping is not None:
        found["early stopping"] = f"patience {config.early_stopping}, min improvement {config.min_improvement:g}"
    if config.dropout is not None:
        found["dropout"] = config.dropout
    if config.label_smoothing:
        found["label smoothing"] = config.label_smoothing
    if config.class_weights != "none":
        found["class weights"] = config.class_weights
    if config.oversample:
        found["oversampling"] = "rare classes repeated"
    return found


def _card(config: TrainConfig, prepared: _Prepared, metrics: dict) -> dict:
    from studio.core.data import MAX_VALIDATION_ROWS

    source, examples, task = prepared.source, prepared.examples, prepared.task
    return {
        "name": f"{Path(config.train_csv).stem} {task.title.lower()}",
        "task": task.name,
        "task_title": task.title,
        "pipeline_task": task.pipeline_task,
        "pipeline_kwargs": task.pipeline_kwargs,
        "task_lines": task.card_lines(metrics),
        "base_model": source.display_name if source.kind != "folder" else Path(source.location).name,
        "base_model_is_hub": source.kind == "hub",
        "train_file": Path(config.train_csv).name,
        "train_rows": prepared.train_rows,
        "validation": (
            f"`{Path(config.validation_csv).name}`"
            if config.validation_csv
            else f"{config.validation_share:.0%} of the training file (at most {MAX_VALIDATION_ROWS:,} rows), "
            f"stratified, seed {config.seed}"
        ),
        "validation_rows": prepared.validation_rows,
        "text_column": examples.columns.text,
        "pair_column": examples.columns.pair,
        "label_column": examples.columns.label,
        "labels": list(examples.labels),
        "hyperparameters": {
            "learning rate": config.effective_learning_rate,
            "epochs": config.epochs,
            "batch size": config.batch_size,
            "gradient accumulation": config.gradient_accumulation,
            "max length": config.max_length,
            "frozen layers": config.freeze_layers,
            "weight decay": config.weight_decay,
            "warm-up share": config.warmup_ratio,
            "seed": config.seed,
            **_methods(config),
        },
    }
