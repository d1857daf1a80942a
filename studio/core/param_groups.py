"""The model's weights by block (embeddings, each layer, head) and the optimizer's groups: a rate per block."""

from __future__ import annotations

from typing import TYPE_CHECKING

from studio.core.layer_plan import FROZEN

if TYPE_CHECKING:
    from studio.core.layer_plan import Block


def block_parameters(model) -> list[list[tuple[str, object]]]:
    """(name, parameter) pairs per block, bottom to top: embeddings, each transformer layer, then the rest (head).

    Works on a plain model and on a LoRA-wrapped one (the adapters fall in their layer, the head's trained copy in
    the head). Each parameter is in exactly one block.
    """
    from studio.core.modeling import _embedding_params, transformer_blocks

    layers = list(transformer_blocks(model))
    owner: dict[int, int] = {id(p): 0 for p in _embedding_params(model)}
    for depth, layer in enumerate(layers, start=1):
        for p in layer.parameters():
            owner[id(p)] = depth
    head = len(layers) + 1
    blocks: list[list[tuple[str, object]]] = [[] for _ in range(len(layers) + 2)]
    seen: set[int] = set()
    for name, p in model.named_parameters():
        if id(p) in seen:  # tied weights appear once
            continue
        seen.add(id(p))
        blocks[owner.get(id(p), head)].append((name, p))
    return blocks


def optimizer_groups(
    model, plan: list[Block], weight_decay: float, decay_names: set[str], lora: bool
) -> tuple[list[dict], list[dict]]:
    """(groups for the optimizer, a plain description of each) for the blocks that ever train.

    Each block gets its plan's peak rate (the head's group first); its weights are split into those with weight
    decay and those without (biases and norms). A block that unfreezes later is in the optimizer from the start,
    so that it trains from its step on with the optimizer it always had (its weights have no gradient until then,
    and AdamW skips them).
    Under LoRA only the weights peft left trainable (adapters, the head) are given to the optimizer.
    """
    groups: list[dict] = []
    described: list[dict] = []
    # Head first: the Trainer logs the first group's rate, which the app plots as "the" learning rate.
    for block, params in reversed(list(zip(plan, block_parameters(model), strict=True))):
        if block.state == FROZEN and not lora:
            continue
        chosen = [(n, p) for n, p in params if p.requires_grad] if lora else params  # type: ignore[attr-defined]
        for decay in (True, False):
            part = [p for n, p in chosen if (n in decay_names) == decay]
            if not part:
                continue
            rate = weight_decay if decay else 0.0
            groups.append({"params": part, "lr": block.learning_rate, "weight_decay": rate, "block": block.name})
            described.append(
                {
                    "block": block.name,
                    "learning_rate": block.learning_rate,
                    "weight_decay": rate,
                    "parameters": int(sum(p.numel() for p in part)),  # type: ignore[attr-defined]
                }
            )
    return groups, described
