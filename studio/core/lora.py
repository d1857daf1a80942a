"""LoRA with peft: default targets per architecture, wrapping a classifier, adapter counts, merging and saving."""

from __future__ import annotations

import logging
import re
import sys
import warnings
from pathlib import Path
from typing import TYPE_CHECKING

from studio.core.errors import ConfigError

if TYPE_CHECKING:
    from studio.core.config import TrainConfig
    from studio.core.tasks.base import Task

log = logging.getLogger(__name__)

# What peft's save_pretrained writes: the adapter's settings (beside adapter_model.safetensors).
ADAPTER_CONFIG = "adapter_config.json"

# The attention projections by model type, where the names are known (checked against the model before use).
_KNOWN_TARGETS: dict[str, tuple[str, ...]] = {
    "bert": ("query", "key", "value"),
    "roberta": ("query", "key", "value"),
    "xlm-roberta": ("query", "key", "value"),
    "camembert": ("query", "key", "value"),
    "electra": ("query", "key", "value"),
    "albert": ("query", "key", "value"),
    "distilbert": ("q_lin", "k_lin", "v_lin"),
    "deberta-v2": ("query_proj", "key_proj", "value_proj"),
    "mpnet": ("q", "k", "v"),
}
# A query/key/value projection's own name: query, q, q_lin, q_proj, query_proj, Wqkv, qkv_proj...
_QKV = re.compile(r"^(q|k|v|query|key|value|qkv|wqkv|in_proj)(_?(proj|lin|linear))?$", re.IGNORECASE)
_ATTENTION = re.compile(r"attention|attn", re.IGNORECASE)


def _linear_types() -> tuple[type, ...]:
    import torch
    from transformers.pytorch_utils import Conv1D

    # GPT-2-style models keep their projections in Conv1D, which peft adapts like nn.Linear.
    return (torch.nn.Linear, Conv1D)


def _base(model):
    """The encoder without its head (peft's wrapper and the HF classifier both point at it as `base_model`)."""
    inner = _unwrap(model)
    return getattr(inner, "base_model", inner)


def _unwrap(model):
    """The transformers model inside a peft wrapper (or the model itself)."""
    if is_lora(model):
        return model.get_base_model()
    return model


def _leaf(name: str) -> str:
    return name.rsplit(".", 1)[-1]


def _base_linears(model) -> list[tuple[str, object]]:
    """(full name, module) of every linear layer of the encoder, in order."""
    return _linears(_base(model))


def _linears(root) -> list[tuple[str, object]]:
    """(name, module) of the linear layers under root; on a wrapped model, the layers peft adapted by their own
    name (not their `base_layer`), and not the adapters' own lora_A/lora_B layers."""
    kinds = _linear_types()
    found = []
    for name, module in root.named_modules():
        if not isinstance(module, kinds) or ".lora_" in f".{name}":
            continue
        found.append((name.removesuffix(".base_layer"), module))
    return found


def default_targets(model) -> list[str]:
    """The attention's query, key and value projections of this architecture (the names peft matches)."""
    names = {_leaf(n) for n, _ in _base_linears(model)}
    known = _KNOWN_TARGETS.get(str(getattr(_unwrap(model).config, "model_type", "")))
    if known and set(known) <= names:
        return list(known)
    found: dict[str, None] = {}
    in_attention: dict[str, None] = {}
    for full, _module in _base_linears(model):
        parent, _, leaf = full.rpartition(".")
        if not _ATTENTION.search(parent):
            continue
        in_attention.setdefault(leaf)
        if _QKV.match(leaf):
            found.setdefault(leaf)
    if found:
        return list(found)
    # Attention blocks with unfamiliar names: adapt every linear layer they hold, except their output projection.
    inputs = [n for n in in_attention if not re.search(r"out|^o(_proj)?$|dense", n, re.IGNORECASE)]
    if inputs:
        return inputs
    raise ConfigError(
        f"Could not find the attention projections of this {getattr(_unwrap(model).config, 'model_type', '')} "
        f"model; name the layers to adapt with --lora-targets (its linear layers: {_names(names)})."
    )


def _names(names) -> str:
    return ", ".join(sorted(names)) or "none"


def chosen_targets(model, config: TrainConfig) -> list[str]:
    """The target names of config.lora_targets (comma separated), or the architecture's default."""
    text = (config.lora_targets or "").strip()
    if not text:
        return default_targets(model)
    return list(dict.fromkeys(n.strip() for n in text.split(",") if n.strip()))


def _matches(full: str, target: str) -> bool:
    # peft's own rule for a target name: the module's full name, or its tail after a dot.
    return full == target or full.endswith(f".{target}")


def check_targets(model, targets: list[str]) -> None:
    """ConfigError naming the linear layers that would work when a target matches no linear layer of the encoder."""
    linears = _base_linears(model)
    missing = [t for t in targets if not any(_matches(full, t) for full, _ in linears)]
    if missing:
        which = ", ".join(repr(t) for t in missing)
        raise ConfigError(
            f"This model has no linear layer named {which} to adapt with LoRA; choose among its linear layers: "
            f"{_names({_leaf(n) for n, _ in linears})}."
        )


def head_modules(model) -> list[str]:
    """The modules of the head, trained fully (peft's modules_to_save): those outside the encoder, and its pooler.

    BERT: bert.pooler, classifier; DistilBERT: pre_classifier, classifier; DeBERTa-v2: pooler, classifier;
    RoBERTa and ELECTRA: classifier (their head's own dense layer is inside it); GPT-style: score. The pooler
    serves only the head, so it trains as in full fine-tuning (the layer map counts it in the head too).
    """
    inner = _unwrap(model)
    base = getattr(inner, "base_model", inner)
    if base is inner:
        return []
    names = []
    for name, child in inner.named_children():
        if child is base:
            pooler = getattr(base, "pooler", None)
            if isinstance(pooler, _module_type()) and _has_weights(pooler):
                names.append(f"{name}.pooler")
        elif _has_weights(child):
            names.append(name)
    return names


def _module_type() -> type:
    import torch

    return torch.nn.Module


def _has_weights(module) -> bool:
    return any(True for _ in module.parameters())


def _task_type(task: Task | str | None):
    from peft import TaskType

    name = task if isinstance(task, str) or task is None else task.name
    return TaskType.TOKEN_CLS if name == "token" else TaskType.SEQ_CLS


def apply_lora(model, config: TrainConfig, task: Task | str | None):
    """The model wrapped by peft: LoRA adapters on the targets, the head trained fully, everything else frozen."""
    from peft import LoraConfig, get_peft_model

    targets = chosen_targets(model, config)
    check_targets(model, targets)
    heads = head_modules(model)
    # Every weight starts trainable again: peft freezes what it does not adapt, whatever freeze_layers did.
    for p in model.parameters():
        p.requires_grad_(True)
    lora_config = LoraConfig(
        r=int(config.lora_rank),
        lora_alpha=config.lora_alpha,
        lora_dropout=float(config.lora_dropout),
        target_modules=targets,
        modules_to_save=heads or None,
        task_type=_task_type(task),
        bias="none",
    )
    with warnings.catch_warnings():
        # peft asks the model a question transformers has renamed; the FutureWarning is theirs, not the user's.
        warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*", category=FutureWarning)
        wrapped = get_peft_model(model, lora_config)
    trainable, total = wrapped.get_nb_trainable_parameters()
    log.info(
        "LoRA on %s (rank %s), head %s: %s of %s parameters train", targets, config.lora_rank, heads, trainable, total
    )
    return wrapped


def adapter_parameter_counts(model, config: TrainConfig) -> list[int]:
    """The LoRA weights each transformer block gets: rank * (inputs + outputs) per adapted linear layer.

    From the modules' shapes alone (no peft), so it works on a model built on the meta device.
    """
    from studio.core.modeling import transformer_blocks

    targets = chosen_targets(model, config)
    rank = int(config.lora_rank)
    counts = []
    for block in transformer_blocks(_unwrap(model)):
        linears = _linears(block)
        counts.append(sum(rank * sum(_features(m)) for name, m in linears if any(_matches(name, t) for t in targets)))
    return counts


def _features(module) -> tuple[int, int]:
    """(inputs, outputs) of an nn.Linear or a GPT-2 Conv1D (whose weight is stored transposed)."""
    weight = module.weight
    if hasattr(module, "in_features"):
        return int(module.in_features), int(module.out_features)
    rows, cols = weight.shape
    return int(rows), int(cols)


def is_lora(model) -> bool:
    """Whether the model is wrapped by peft (a model can only be, once peft has been imported)."""
    peft = sys.modules.get("peft")
    return peft is not None and isinstance(model, peft.PeftModel)


def merged(model):
    """The plain transformers model with the adapters folded into its weights and the trained head in place.

    The peft wrapper is spent afterwards (merge_and_unload changes the model in place): save the adapter first.
    A model without LoRA is returned as it is.
    """
    if not is_lora(model):
        return model
    return model.merge_and_unload()


def save_adapter(model, folder: str | Path) -> Path:
    """Write adapter_config.json and the adapter weights (LoRA matrices and the fully trained head) to folder."""
    if not is_lora(model):
        raise ConfigError("This model was not trained with LoRA, so it has no adapter to save.")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(folder, safe_serialization=True)
    return folder
