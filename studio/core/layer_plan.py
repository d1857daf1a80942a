"""The layer map: whether and when each block (embeddings, each layer, head) trains, and at what rate."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from studio.core.config import TrainConfig

# A block's state before training: never trains, trains from the start, trains LoRA adapters only (its own
# weights frozen), or frozen at first and unfrozen at `unfreezes_at` (gradual unfreezing).
FROZEN, TRAINS, LORA, UNFREEZES = "frozen", "trains", "lora", "unfreezes"


@dataclass(frozen=True)
class Block:
    """One row of the layer map, bottom (embeddings) to top (head)."""

    name: str  # "Embeddings", "Layer 1" ... "Layer N", "Head"
    kind: str  # "embeddings", "layer" or "head"
    parameters: int  # the block's own weights
    state: str
    learning_rate: float  # the block's peak rate (before warm-up and schedule)
    # Gradual unfreezing: the step or epoch (see `unit`) at which the block starts to train.
    unfreezes_at: int | None = None
    unit: str | None = None  # "steps" or "epochs"
    # LoRA: the adapter weights that train in this block (the head trains whole).
    adapter_parameters: int = 0

    @property
    def trainable_parameters(self) -> int:
        """What trains in this block once it trains at all."""
        if self.state == FROZEN:
            return 0
        if self.state == LORA:
            return self.adapter_parameters
        return self.parameters

    def to_dict(self) -> dict:
        return asdict(self)


def block_learning_rates(base: float, layers: int, decay: float) -> list[float]:
    """Peak rates bottom to top (embeddings, layer 1..N, head): the head at `base`, each block below times `decay`."""
    return [base * decay ** (layers + 1 - depth) for depth in range(layers + 2)]


def plan_layers(config: TrainConfig, counts: dict, adapter_counts: list[int] | None = None) -> list[Block]:
    """The layer map for these settings and a model's parameter counts (modeling.layer_parameter_counts).

    `adapter_counts` are the LoRA adapter weights per layer when LoRA is on (lora.adapter_parameter_counts).
    Frozen layers (`freeze_layers`) are ignored under LoRA, and are the floor gradual unfreezing stops at.
    """
    layers = list(counts["blocks"])
    n = len(layers)
    head = counts["total"] - counts["embeddings"] - sum(layers)
    rates = block_learning_rates(config.effective_learning_rate, n, float(config.layer_lr_decay))
    sizes = [counts["embeddings"], *layers, head]
    names = ["Embeddings", *(f"Layer {i + 1}" for i in range(n)), "Head"]
    kinds = ["embeddings", *(["layer"] * n), "head"]
    states = [TRAINS] * (n + 2)
    unfreeze: list[int | None] = [None] * (n + 2)
    adapters = [0] * (n + 2)
    if config.lora:
        states = [FROZEN, *([LORA] * n), TRAINS]
        for i, count in enumerate(adapter_counts or [0] * n):
            adapters[i + 1] = count
    else:
        floor = min(max(0, int(config.freeze_layers)), n)
        if floor > 0:
            states[0] = FROZEN
            for depth in range(1, floor + 1):
                states[depth] = FROZEN
        if config.unfreeze_every is not None:
            # From the top down: the head and the top `unfreeze_start` layers train at once, then one more block
            # every `unfreeze_every` units, down to the frozen floor (the embeddings last, when there is none).
            start = n - min(int(config.unfreeze_start), n)
            waiting = [depth for depth in range(start, 0, -1) if states[depth] == TRAINS]
            if floor == 0:
                waiting.append(0)
            for k, depth in enumerate(waiting, start=1):
                states[depth] = UNFREEZES
                unfreeze[depth] = k * int(config.unfreeze_every)
    unit = config.unfreeze_unit if config.unfreeze_every is not None and not config.lora else None
    return [
        Block(
            name=names[d],
            kind=kinds[d],
            parameters=int(sizes[d]),
            state=states[d],
            learning_rate=rates[d],
            unfreezes_at=unfreeze[d],
            unit=unit if unfreeze[d] is not None else None,
            adapter_parameters=int(adapters[d]),
        )
        for d in range(n + 2)
    ]


def training_now(plan: list[Block], step: int, epoch: float) -> list[bool]:
    """Whether each block trains at this point of the run (for gradual unfreezing; LoRA blocks always do)."""
    out = []
    for block in plan:
        if block.state == UNFREEZES:
            point = step if block.unit == "steps" else math.floor(epoch + 1e-9)
            out.append(point >= (block.unfreezes_at or 0))
        else:
            out.append(block.state != FROZEN)
    return out


def trainable_parameters(plan: list[Block], training: list[bool] | None = None) -> int:
    """The weights that train when the blocks flagged in `training` do (all that ever train, by default)."""
    flags = training if training is not None else [b.state != FROZEN for b in plan]
    return sum(b.trainable_parameters for b, on in zip(plan, flags, strict=True) if on)


def with_state(plan: list[Block], training: list[bool]) -> list[Block]:
    """The plan as it stands mid-run: blocks already unfrozen shown as training."""
    return [
        replace(b, state=TRAINS) if b.state == UNFREEZES and on else b for b, on in zip(plan, training, strict=True)
    ]


def preview(config: TrainConfig, model_config) -> list[Block]:
    """The layer map before training, from a model's config alone (no weights: the model is built on `meta`)."""
    import torch
    from transformers import AutoModelForSequenceClassification

    from studio.core.modeling import layer_parameter_counts

    with torch.device("meta"):
        model = AutoModelForSequenceClassification.from_config(model_config)
    counts = layer_parameter_counts(model)
    adapters = None
    if config.lora:
        from studio.core.lora import adapter_parameter_counts

        adapters = adapter_parameter_counts(model, config)
    return plan_layers(config, counts, adapters)
