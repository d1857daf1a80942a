"""The HF Trainer for domain adaptation: the masked-LM loss on masked tokens only, and the live held-out perplexity."""

from __future__ import annotations

import math
import os
import time
from pathlib import Path

from transformers import Trainer, TrainingArguments

from studio.core.callback import StudioCallback
from studio.core.devices import supports_tf32
from studio.core.events import PerplexityEvaluated, Reporter, StopToken

# Modules that turn hidden states into vocabulary scores in one call, by the names the architectures give them.
_HEAD_NAMES = ("cls", "lm_head", "predictions")


def perplexity(loss: float) -> float:
    """exp(mean masked-LM loss); inf where it overflows (a fresh head's first evaluation can be that far off)."""
    try:
        return math.exp(loss)
    except OverflowError:
        return math.inf


class MaskedLMTrainer(Trainer):
    """Scores only the masked positions: the vocabulary projection of the other 85 % would be thrown away.

    For a small encoder the projection onto a 30,000-word vocabulary costs about as much as the encoder itself, so
    this halves the work of a step. The loss is the same as the model's own (cross-entropy over the masked tokens).
    """

    head = None  # the model's masked-LM head module, when it takes hidden states in one call (see find_head)
    # A fresh head learns at this many times the encoder's rate: it starts from nothing, the encoder from training.
    head_rate_scale = 1.0
    tokens_trained = 0  # tokens of the training batches so far, for the throughput
    eval_seconds = 0.0  # time spent in evaluations, left out of the throughput

    def create_optimizer(self, model=None):
        if self.optimizer is not None or self.head_rate_scale == 1.0:
            return super().create_optimizer(model)
        from studio.core.adapt_model import head_parameters

        model = self.model if model is None else model
        head = {id(p) for p in head_parameters(model)}
        decay = set(self.get_decay_parameter_names(model))
        rate = self.args.learning_rate
        groups = []
        for in_head in (False, True):
            for decayed in (True, False):
                params = [
                    p
                    for n, p in model.named_parameters()
                    if p.requires_grad and (id(p) in head) == in_head and (n in decay) == decayed
                ]
                if params:
                    groups.append(
                        {
                            "params": params,
                            "lr": rate * (self.head_rate_scale if in_head else 1.0),
                            "weight_decay": self.args.weight_decay if decayed else 0.0,
                        }
                    )
        optimizer_cls, kwargs = self.get_optimizer_cls_and_kwargs(self.args, model)
        self.optimizer = optimizer_cls(groups, **kwargs)
        return self.optimizer

    def evaluate(self, *args, **kwargs):
        start = time.monotonic()
        try:
            return super().evaluate(*args, **kwargs)
        finally:
            self.eval_seconds += time.monotonic() - start

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        if model.training:
            self.tokens_trained += int(inputs["input_ids"].numel())
        if self.head is None or self.args.world_size > 1:
            return super().compute_loss(model, inputs, return_outputs, num_items_in_batch)
        import torch.nn.functional as F

        labels = inputs["labels"]
        hidden = model.base_model(input_ids=inputs["input_ids"], attention_mask=inputs.get("attention_mask"))[0]
        chosen = labels != -100
        logits = self.head(hidden[chosen])
        loss = F.cross_entropy(logits.float(), labels[chosen], reduction="sum")
        # Normalised by the masked tokens of the whole accumulated batch when the Trainer counted them (it then
        # treats the loss as scaled for accumulation), else by this batch's.
        count = num_items_in_batch if num_items_in_batch is not None else chosen.sum().clamp(min=1)
        loss = loss / count
        return (loss, {"loss": loss}) if return_outputs else loss


def find_head(model):
    """The masked-LM head as one module from hidden states to vocabulary scores, or None (the model's own forward)."""
    import torch

    vocab = model.get_input_embeddings().num_embeddings
    for name in _HEAD_NAMES:
        head = getattr(model, name, None)
        if not isinstance(head, torch.nn.Module):
            continue
        try:
            with torch.no_grad():
                out = head(torch.zeros(1, model.config.hidden_size, device=model.device, dtype=model.dtype))
        except Exception:  # a head that wants more than hidden states: let the model compute its own loss
            continue
        if isinstance(out, torch.Tensor) and tuple(out.shape) == (1, vocab):
            return head
    return None


class AdaptCallback(StudioCallback):
    """StudioCallback's progress, loss, stop and checkpoints; evaluations are reported as held-out perplexity."""

    def __init__(self, emit: Reporter, stop: StopToken | None, checkpoint_seconds: float):
        super().__init__(emit, stop, None, (), checkpoint_seconds, task="mlm", main_metric="perplexity")
        self.phase = "before"
        self.last: tuple[int, float] | None = None  # (step, loss) of the latest evaluation

    def on_evaluate(self, args, state, control, metrics=None, **kwargs):
        loss = float((metrics or {}).get("eval_loss", math.nan))
        self.last = (state.global_step, loss)
        phase = self.phase if self.phase != "during" or state.global_step < state.max_steps else "after"
        self.emit(
            PerplexityEvaluated(
                step=state.global_step,
                epoch=float(state.epoch or 0),
                loss=loss,
                perplexity=perplexity(loss),
                phase=phase,
            )
        )


def adapt_arguments(config, output_dir: Path, blocks: int, device: str, precision: str) -> TrainingArguments:
    """The Trainer's arguments: evaluations spread over the run, a checkpoint at each, the fastest optimizer."""
    from studio.core.adapt import DEFAULT_EPOCHS

    epochs = DEFAULT_EPOCHS if config.epochs is None else config.epochs
    steps_per_epoch = max(1, math.ceil(blocks / (config.batch_size * config.gradient_accumulation)))
    total = config.steps or max(1, math.ceil(steps_per_epoch * epochs))
    every = max(1, math.ceil(total / config.evaluations))
    return TrainingArguments(
        output_dir=str(output_dir),
        learning_rate=config.learning_rate,
        num_train_epochs=epochs,
        max_steps=config.steps or -1,
        per_device_train_batch_size=config.batch_size,
        per_device_eval_batch_size=config.batch_size,
        gradient_accumulation_steps=config.gradient_accumulation,
        weight_decay=config.weight_decay,
        warmup_steps=float(config.warmup_ratio),
        lr_scheduler_type="linear",
        seed=config.seed,
        eval_strategy="steps",
        eval_steps=every,
        save_strategy="steps",
        save_steps=every,
        save_total_limit=1,
        # Only the loss: the logits of a held-out batch are blocks x length x vocabulary floats.
        prediction_loss_only=True,
        logging_strategy="steps",
        logging_steps=max(1, min(50, total // 100)),
        logging_first_step=True,
        bf16=precision == "bf16",
        fp16=precision == "fp16",
        tf32=True if supports_tf32(device) else None,
        use_cpu=device == "cpu",
        optim="adamw_torch_fused" if device in ("cuda", "cpu") else "adamw_torch",
        report_to="none",
        disable_tqdm=True,
        dataloader_num_workers=0,
        remove_unused_columns=False,
        ddp_find_unused_parameters=int(os.environ.get("WORLD_SIZE", "1")) > 1,
    )
