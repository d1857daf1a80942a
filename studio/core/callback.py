"""StudioCallback: turns the Trainer's progress into small events and honours the stop token."""

from __future__ import annotations

import math
import time

from transformers import TrainerCallback

from studio.core.events import Evaluated, LossLogged, Progress, Reporter, StopToken


class StudioCallback(TrainerCallback):
    """Reports logged loss, evaluations and throttled progress; stops, evaluates and saves on request."""

    # Progress is throttled at the source: the UI needs a few updates a second, not one per step.
    PROGRESS_INTERVAL_S = 0.25

    # Report entries too big to send with every evaluation; the final metrics keep them.
    BULKY = ("scatter", "worst", "threshold_curve", "label_curves")

    def __init__(
        self,
        emit: Reporter,
        stop: StopToken | None,
        metrics_computer,
        labels,
        checkpoint_seconds: float,
        task: str = "single",
        main_metric: str = "f1",
    ):
        self.emit = emit
        self.task = task
        self.main_metric = main_metric
        self.stop = stop
        self.metrics_computer = metrics_computer
        self.labels = tuple(labels)
        self.checkpoint_seconds = checkpoint_seconds
        self.stopped = False
        self.report_evaluations = True
        self._start = self._last_progress = self._last_save = 0.0
        self._first_step = 0

    def on_train_begin(self, args, state, control, **kwargs):
        self._start = self._last_save = time.monotonic()
        self._first_step = state.global_step

    def on_step_end(self, args, state, control, **kwargs):
        now = time.monotonic()
        if self._stop_requested(args) and not self.stopped:
            self.stopped = True
            control.should_training_stop = True
        if state.global_step >= state.max_steps:
            # Evaluate and checkpoint the last step too, so that the best checkpoint chosen at the end
            # has seen all the training done.
            control.should_evaluate = True
            control.should_save = True
        elif self.stopped or now - self._last_save >= self.checkpoint_seconds:
            # A checkpoint to resume from. No evaluation: the best-model choice must see the same
            # evaluations as an uninterrupted run, so that a resumed run ends the same way.
            control.should_save = True
        if now - self._last_progress >= self.PROGRESS_INTERVAL_S or state.global_step >= state.max_steps:
            self._last_progress = now
            done = state.global_step - self._first_step
            elapsed = now - self._start
            remaining = state.max_steps - state.global_step
            eta = elapsed / done * remaining if done > 0 else None
            self.emit(
                Progress(
                    step=state.global_step,
                    total_steps=state.max_steps,
                    epoch=float(state.epoch or 0),
                    elapsed_s=elapsed,
                    eta_s=eta,
                )
            )

    def _stop_requested(self, args) -> bool:
        requested = self.stop is not None and self.stop.is_set()
        if args.world_size <= 1:
            return requested
        # Under torchrun every rank must leave the loop after the same step, or the others wait forever in
        # their next all-reduce; a stop asked of any rank (the app signals rank 0) is shared with all of them.
        import torch
        import torch.distributed as dist

        flag = torch.tensor([1 if requested else 0], device=args.device)
        dist.all_reduce(flag, op=dist.ReduceOp.MAX)
        return bool(flag.item())

    def on_save(self, args, state, control, **kwargs):
        self._last_save = time.monotonic()

    def on_log(self, args, state, control, logs=None, **kwargs):
        logs = logs or {}
        if "loss" in logs and _finite(logs["loss"]):
            self.emit(
                LossLogged(
                    step=state.global_step,
                    epoch=float(state.epoch or 0),
                    loss=float(logs["loss"]),
                    learning_rate=float(logs.get("learning_rate", 0.0)),
                )
            )

    def on_evaluate(self, args, state, control, metrics=None, **kwargs):
        if not self.report_evaluations:
            return
        metrics = metrics or {}
        report = self.metrics_computer.last_report or {}
        # The Trainer prefixes every scalar with eval_; its own runtime figures are not the task's.
        scores = {
            k[len("eval_") :]: float(v)
            for k, v in metrics.items()
            if k.startswith("eval_") and isinstance(v, (int, float)) and not k.endswith(("_runtime", "_per_second"))
        }
        # The task's own loss over the gathered predictions: the Trainer's eval_loss is off under torchrun.
        loss = scores.pop("loss", math.nan)
        loss = report.get("loss", loss)
        scores.pop("selection_score", None)
        scores.pop("epoch", None)
        self.emit(
            Evaluated(
                step=state.global_step,
                epoch=float(state.epoch or 0),
                loss=float(loss),
                task=self.task,
                main=float(scores.get(self.main_metric, math.nan)),
                scores=scores,
                labels=self.labels,
                report={k: v for k, v in report.items() if k not in self.BULKY},
            )
        )


def _finite(value) -> bool:
    try:
        return math.isfinite(float(value))
    except (TypeError, ValueError):
        return False
