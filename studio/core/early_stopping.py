"""Early stopping on the task's main figure: stop after N evaluations without an improvement of more than D."""

from __future__ import annotations

import math

from transformers import TrainerCallback

from studio.core.events import Message, Reporter


class EarlyStopping(TrainerCallback):
    """Counts evaluations since the main figure last rose by more than `min_improvement`; stops at `patience`.

    A resumed run replays the evaluations in its checkpoint's log, so it stops where the uninterrupted run would
    (the Trainer's own EarlyStoppingCallback forgets its count on resume). The best checkpoint, loaded at the end
    and exported, is the Trainer's choice on the same figure.
    """

    def __init__(self, patience: int, min_improvement: float, main_metric: str, title: str, emit: Reporter):
        self.patience = patience
        self.min_improvement = min_improvement
        self.key = f"eval_{main_metric}"
        self.title = title
        self.emit = emit
        self.best = -math.inf
        self.best_step = 0
        self.waited = 0
        self.triggered = False
        self.active = True

    def _see(self, value: float, step: int) -> None:
        finite = math.isfinite(value)
        if finite and (self.best == -math.inf or value > self.best + self.min_improvement):
            self.best, self.best_step, self.waited = value, step, 0
            return
        # A rise smaller than min_improvement still makes the best figure, but counts as waiting (as in HF's).
        self.waited += 1
        if finite and value > self.best:
            self.best, self.best_step = value, step

    def on_train_begin(self, args, state, control, **kwargs):
        self.best, self.best_step, self.waited = -math.inf, 0, 0
        for entry in state.log_history:
            if self.key in entry:
                self._see(float(entry[self.key]), int(entry.get("step", 0)))

    def on_evaluate(self, args, state, control, metrics=None, **kwargs):
        if not self.active or not metrics or self.key not in metrics:
            return
        self._see(float(metrics[self.key]), state.global_step)
        if self.waited >= self.patience and state.global_step < state.max_steps:
            self.triggered = True
            control.should_training_stop = True
            self.emit(
                Message(
                    f"Stopped early at step {state.global_step} (epoch {float(state.epoch or 0):.2f} of "
                    f"{args.num_train_epochs:g}): the {self.title} has not risen by more than {self.min_improvement:g} "
                    f"for {self.waited} evaluation{'s' if self.waited != 1 else ''} (best {self.best:.4f} at step "
                    f"{self.best_step}); the best checkpoint is the one kept.",
                    level="warning",
                )
            )
