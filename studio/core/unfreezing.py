"""Gradual unfreezing: blocks start to train on the layer plan's schedule, from the top down, during the run."""

from __future__ import annotations

from transformers import TrainerCallback

from studio.core.events import BlocksUnfrozen, Message, Reporter
from studio.core.layer_plan import FROZEN, Block, trainable_parameters, training_now


class GradualUnfreezing(TrainerCallback):
    """Switches blocks from frozen to training at their step or epoch; reports each change.

    In one process a frozen block has requires_grad off, so the backward pass stops above it (the speed-up of
    freezing). Under torchrun DistributedDataParallel only syncs the weights that required a gradient when it
    wrapped the model, so there every block keeps requires_grad on and a frozen block's gradients are dropped
    before each optimizer step instead (AdamW skips a weight with no gradient: no update, no weight decay).
    """

    def __init__(self, plan: list[Block], blocks: list[list[tuple[str, object]]], emit: Reporter, distributed: bool):
        self.plan = plan
        self.blocks = blocks
        self.emit = emit
        self.distributed = distributed
        self.training = [False] * len(plan)

    def apply(self, step: int, epoch: float, announce: bool) -> None:
        """Set each block's state for this point of the run; report the blocks that have just started training."""
        now = training_now(self.plan, step, epoch)
        started = [b.name for b, was, on in zip(self.plan, self.training, now, strict=True) if on and not was]
        for block, params, on in zip(self.plan, self.blocks, now, strict=True):
            keep = on or (self.distributed and block.state != FROZEN)
            for _name, p in params:
                p.requires_grad_(keep)  # type: ignore[attr-defined]
        self.training = now
        if announce and started:
            count = trainable_parameters(self.plan, now)
            self.emit(BlocksUnfrozen(step=step, epoch=epoch, blocks=tuple(started), trainable_parameters=count))
            verb = "trains" if len(started) == 1 else "train"
            self.emit(Message(f"Step {step}: {', '.join(started)} now {verb} ({count:,} parameters)"))

    def on_train_begin(self, args, state, control, **kwargs):
        # A resumed run starts with the blocks its step has already unfrozen.
        self.apply(state.global_step, float(state.epoch or 0), announce=False)

    def on_epoch_begin(self, args, state, control, **kwargs):
        self.apply(state.global_step, float(state.epoch or 0), announce=True)

    def on_step_begin(self, args, state, control, **kwargs):
        self.apply(state.global_step, float(state.epoch or 0), announce=True)

    def on_pre_optimizer_step(self, args, state, control, **kwargs):
        if not self.distributed:
            return
        for params, on in zip(self.blocks, self.training, strict=True):
            if not on:
                for _name, p in params:
                    p.grad = None  # type: ignore[attr-defined]
