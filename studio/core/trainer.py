"""StudioTrainer: the HF Trainer set up for a TrainConfig, with reproducible batches and a report of its start."""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from pathlib import Path

import torch
from torch.utils.data import Sampler
from transformers import Trainer, TrainerCallback, TrainerState, TrainingArguments
from transformers.trainer_callback import PrinterCallback
from transformers.trainer_pt_utils import get_length_grouped_indices

from studio.core.config import TrainConfig
from studio.core.devices import supports_tf32
from studio.core.layer_plan import Block
from studio.core.rare_classes import LossOptions
from studio.core.tasks.base import Examples, Task

# TrainConfig.scheduler -> the Trainer's lr_scheduler_type; each warms up first (warmup_steps or warmup_ratio).
SCHEDULER_TYPES = {"linear": "linear", "cosine": "cosine", "constant": "constant_with_warmup"}


class SeededLengthGroupedSampler(Sampler):
    """Batches of similar length, in an order fixed by (seed, epoch).

    The Trainer's own length-grouped sampler draws from the global RNG, so a run resumed in its second epoch
    would see other batches than an uninterrupted one; here the order depends on the seed and the epoch only.
    Batches are also shuffled, so that a run does not walk each mega-batch from long texts to short.
    """

    def __init__(self, lengths: list[int], batch_size: int, seed: int):
        self.lengths = lengths
        self.batch_size = batch_size
        self.seed = seed
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return len(self.lengths)

    def __iter__(self):
        generator = torch.Generator().manual_seed(self.seed * 1000 + self.epoch)
        # HF's default mega-batch (n // 4 batches, at most 50) groups nothing below 256 rows; two mega-batches
        # still leave each epoch its own batches, and the batch order is shuffled below.
        mega = min(50, max(1, len(self.lengths) // (self.batch_size * 2)))
        indices = get_length_grouped_indices(self.lengths, self.batch_size, mega_batch_mult=mega, generator=generator)
        batches = [indices[i : i + self.batch_size] for i in range(0, len(indices), self.batch_size)]
        # The longest batch stays first (an out-of-memory error shows at once); the rest are shuffled.
        rest = [batches[i] for i in (torch.randperm(len(batches) - 1, generator=generator) + 1).tolist()]
        for batch in [batches[0], *rest]:
            yield from batch


class _SortedSampler(Sampler):
    """Evaluation order by length: little padding, and no draw from the RNG that training uses."""

    def __init__(self, lengths: list[int]):
        self.order = sorted(range(len(lengths)), key=lengths.__getitem__)

    def __len__(self) -> int:
        return len(self.order)

    def __iter__(self):
        return iter(self.order)


def _lengths(dataset) -> list[int]:
    import pyarrow.compute as pc

    # From the Arrow list offsets: reading every row's ids into Python took minutes on 500,000 rows.
    return pc.list_value_length(dataset.with_format("arrow")["input_ids"]).to_pylist()


class StudioTrainer(Trainer):
    """Trainer whose batch order is reproducible across stop and resume, with an optimizer group per block."""

    # A task whose metrics match predictions to the validation rows (NER's worst sentences) needs them in order.
    keep_eval_order = False
    # The layer plan (layer_plan.plan_layers) the optimizer's groups follow; None: the Trainer's own two groups.
    plan: list[Block] | None = None
    lora = False
    # The groups as set up (block, rate, weight decay, parameters), once the optimizer exists.
    described_groups: tuple[dict, ...] = ()

    def create_optimizer(self, model=None):
        if self.optimizer is not None or self.plan is None:
            return super().create_optimizer(model)
        from studio.core.param_groups import optimizer_groups

        model = self.model if model is None else model
        decay_names = set(self.get_decay_parameter_names(model))
        groups, described = optimizer_groups(model, self.plan, self.args.weight_decay, decay_names, self.lora)
        self.described_groups = tuple(described)
        optimizer_cls, kwargs = self.get_optimizer_cls_and_kwargs(self.args, model)
        # Each group carries its block's rate; the Trainer's scheduler scales every group's rate alike.
        self.optimizer = optimizer_cls(groups, **kwargs)
        return self.optimizer

    def _get_train_sampler(self, train_dataset=None):
        dataset = train_dataset if train_dataset is not None else self.train_dataset
        if "input_ids" not in getattr(dataset, "column_names", ()):
            return super()._get_train_sampler(train_dataset)
        batch = self.args.train_batch_size * self.args.gradient_accumulation_steps
        return SeededLengthGroupedSampler(_lengths(dataset), batch, self.args.seed)

    def _get_eval_sampler(self, eval_dataset):
        if (
            self.keep_eval_order
            or self.args.world_size > 1
            or "input_ids" not in getattr(eval_dataset, "column_names", ())
        ):
            return super()._get_eval_sampler(eval_dataset)
        return _SortedSampler(_lengths(eval_dataset))


class TrainBegins(TrainerCallback):
    """Calls `started(state)` once the Trainer has counted its steps, so that nothing else counts them.

    When train() begins, state.max_steps holds the run's total and state.global_step the step it starts from
    (past 0 when resuming).
    """

    def __init__(self, started: Callable[[TrainerState], None]):
        self.started = started
        self.first_step = 0

    def on_train_begin(self, args, state, control, **kwargs):
        self.first_step = state.global_step
        self.started(state)


def training_arguments(config: TrainConfig, output_dir: Path, train_rows: int, device: str, precision: str):
    """The Trainer's arguments for this config: evaluation and checkpoint schedule, precision, sampler."""
    # The schedule is set in steps, so it needs an estimate of the epoch's length here; the run's reported
    # total is the Trainer's own count (state.max_steps), taken when training begins.
    world = int(os.environ.get("WORLD_SIZE", "1"))  # under torchrun, each rank takes its share of a batch
    steps_per_epoch = max(1, math.ceil(train_rows / (config.batch_size * config.gradient_accumulation * world)))
    eval_steps = max(1, steps_per_epoch // config.evaluations_per_epoch)
    # Enough loss points for a smooth live plot, without a log call on every step of a long run.
    logging_steps = max(1, min(50, math.ceil(steps_per_epoch * config.epochs) // 200))
    return TrainingArguments(
        output_dir=str(output_dir),
        learning_rate=config.effective_learning_rate,
        num_train_epochs=config.epochs,
        per_device_train_batch_size=config.batch_size,
        per_device_eval_batch_size=max(config.batch_size, 32),
        gradient_accumulation_steps=config.gradient_accumulation,
        weight_decay=config.weight_decay,
        lr_scheduler_type=SCHEDULER_TYPES[config.scheduler],
        # A whole number is steps; a float below 1 is a share of all steps.
        warmup_steps=int(config.warmup_steps) if config.warmup_steps > 0 else float(config.warmup_ratio),
        seed=config.seed,
        eval_strategy="steps",
        eval_steps=eval_steps,
        save_strategy="steps",
        save_steps=eval_steps,
        # The best checkpoint and the latest: enough to keep the best model and to resume.
        save_total_limit=2,
        load_best_model_at_end=True,
        metric_for_best_model="selection_score",
        greater_is_better=True,
        logging_strategy="steps",
        logging_steps=logging_steps,
        logging_first_step=True,
        bf16=precision == "bf16",
        fp16=precision == "fp16",
        tf32=True if supports_tf32(device) else None,
        use_cpu=device == "cpu",
        optim="adamw_torch_fused" if device in ("cuda", "cpu") else "adamw_torch",
        # "none" by default; a tracker the user chose (TrainConfig.problems() checked its package is there).
        report_to=config.report_to,
        disable_tqdm=True,
        dataloader_num_workers=0,
        # Every parameter of an encoder classifier takes part in the forward pass (a frozen block's gradients are
        # dropped after the all-reduce: unfreezing.GradualUnfreezing).
        ddp_find_unused_parameters=False,
    )


def make_trainer(
    config: TrainConfig,
    output_dir: Path,
    model,
    tokenizer,
    train_ds,
    val_ds,
    device: str,
    precision: str,
    compute_metrics,
    callbacks: list[TrainerCallback],
    task: Task,
    examples: Examples,
    plan: list[Block] | None = None,
    loss_options: LossOptions | None = None,
) -> StudioTrainer:
    """The Trainer for this config and task, writing its checkpoints to output_dir.

    `plan` sets the optimizer's groups (a rate per block, the blocks that ever train); `loss_options` the class
    weights and label smoothing.
    """
    args = training_arguments(config, output_dir, len(train_ds), device, precision)
    # Tensor cores want lengths in multiples of 8; the CPU gains nothing from the extra padding.
    pad_to = 8 if device == "cuda" else None
    collator = task.collator(tokenizer, pad_to)
    loss = task.loss(examples, loss_options)
    # Batches of similar length waste little compute on padding (StudioTrainer's sampler).
    trainer = StudioTrainer(
        model=model,
        args=args,
        train_dataset=train_ds,
        eval_dataset=val_ds,
        processing_class=tokenizer,
        data_collator=collator,
        compute_metrics=compute_metrics,
        compute_loss_func=loss,
        callbacks=callbacks,
    )
    trainer.keep_eval_order = bool(getattr(task, "needs_eval_order", False))
    trainer.plan = plan
    trainer.lora = bool(config.lora)
    # With tqdm off, the Trainer prints every log dict to stdout; our events say the same, once.
    trainer.remove_callback(PrinterCallback)
    if config.report_to == "tensorboard":
        _log_tensorboard_beside(trainer, output_dir.parent / "tensorboard")
    return trainer


def _log_tensorboard_beside(trainer: Trainer, folder: Path) -> None:
    """TensorBoard writes under the checkpoints by default, which a finished run deletes: write beside them."""
    if os.environ.get("TENSORBOARD_LOGGING_DIR"):
        return  # the user's own choice
    from transformers.integrations import TensorBoardCallback

    for callback in trainer.callback_handler.callbacks:
        if isinstance(callback, TensorBoardCallback) and callback.logging_dir is None:
            callback.logging_dir = str(folder)
