"""One label's decision threshold in an exported multi-label model: read, and set (config.json, bias, card)."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from pathlib import Path

from studio.core.errors import StudioError
from studio.core.thresholds import logit, read_threshold_target, replace_atomically

DEFAULT_THRESHOLD = 0.5
# config.json keys of an exported multi-label model, each a {label: threshold} mapping.
APPLIED_KEY = "studio_thresholds"  # what the studio applies to sigmoid of the exported model's logits
TUNED_KEY = "studio_tuned_thresholds"  # tuned on the validation data at training (on the model's own scores)
FOLDED_KEY = "studio_folded_thresholds"  # the threshold whose logit was subtracted from each label's bias
CARD_PREFIX = "Thresholds set by hand:"
# Thresholds closer than this are the same for the card (it shows four decimals).
SAME = 5e-5


def _get(config, key: str):
    return config.get(key) if isinstance(config, Mapping) else getattr(config, key, None)


def _by_label(value, labels: list[str], default: float | None = DEFAULT_THRESHOLD) -> dict[str, float]:
    """A stored {label: t} mapping (or a list in label order, as early exports wrote) as floats, `default` for
    the labels it lacks."""
    if isinstance(value, Mapping):
        found = {n: value.get(n) for n in labels}
    elif isinstance(value, (list, tuple)) and len(value) == len(labels):
        found = dict(zip(labels, value, strict=True))
    else:
        found = {}
    out: dict[str, float] = {}
    for name in labels:
        v = found.get(name)
        if isinstance(v, (int, float)):
            out[name] = float(v)
        elif default is not None:
            out[name] = default
    return out


def labels_of(config) -> list[str]:
    """The label names of a config (a config.json mapping or a transformers config), in id order."""
    id2label = _get(config, "id2label") or {}
    return [str(v) for _, v in sorted(id2label.items(), key=lambda kv: int(kv[0]))]


def folded_thresholds(config, labels: list[str]) -> dict[str, float]:
    """The threshold folded into each label's bias (0.5: nothing folded). Exports made before the studio recorded
    it folded the tuned threshold wherever the config then applied 0.5 (studio.core.tasks.multi.prepare_export)."""
    recorded = _get(config, FOLDED_KEY)
    if recorded is not None:
        return _by_label(recorded, labels)
    tuned = _by_label(_get(config, TUNED_KEY), labels, default=None)
    applied = _by_label(_get(config, APPLIED_KEY), labels)
    return {
        n: tuned[n] if n in tuned and abs(applied[n] - DEFAULT_THRESHOLD) < 1e-12 else DEFAULT_THRESHOLD for n in labels
    }


def combined(folded: float, applied: float) -> float:
    """The threshold on the model's own probability that `applied` on the folded one amounts to:
    sigmoid(z - logit(f)) >= s exactly when sigmoid(z) >= sigmoid(logit(f) + logit(s))."""
    if abs(applied - DEFAULT_THRESHOLD) < 1e-12:
        return folded
    if abs(folded - DEFAULT_THRESHOLD) < 1e-12:
        return applied
    return 1 / (1 + math.exp(-(logit(folded) + logit(applied))))


def thresholds_in_force(config, labels: list[str] | None = None) -> dict[str, float]:
    """Each label's threshold on the model's own probability (the scale of the validation curves and the tuned
    thresholds) as the saved model decides."""
    names = labels if labels is not None else labels_of(config)
    folded = folded_thresholds(config, names)
    applied = _by_label(_get(config, APPLIED_KEY), names)
    return {n: combined(folded[n], applied[n]) for n in names}


def tuned_thresholds(config, labels: list[str] | None = None) -> dict[str, float]:
    """Each label's threshold as the run tuned it on the validation data (0.5 where none was)."""
    names = labels if labels is not None else labels_of(config)
    return _by_label(_get(config, TUNED_KEY), names)


def set_label_threshold(folder: str | Path, label: str, threshold: float) -> float:
    """Make an exported multi-label model predict `label` where its own probability is at least `threshold`.

    The label's bias is re-folded (shifted by logit(old fold) - logit(threshold)), so that the pipeline's sigmoid
    scores still cross 0.5 where the studio decides, and config.json's studio_thresholds keeps 0.5 for it; without
    a bias to fold into, studio_thresholds holds the threshold on the exported model's score instead. config.json,
    the weights and the card are each replaced atomically. Returns the threshold now in force."""
    folder = Path(folder).expanduser()
    config_path, data = read_threshold_target(folder, threshold)
    if data.get("problem_type") != "multi_label_classification":
        raise StudioError(
            f"The model in {folder} is not a multi-label model, so it has no per-label thresholds; a binary "
            "model's one threshold is set with studio.core.thresholds.set_threshold (the same Threshold tab)."
        )
    labels = labels_of(data)
    if label not in labels:
        shown = ", ".join(repr(n) for n in labels[:8]) + (" ..." if len(labels) > 8 else "")
        raise StudioError(f"The model in {folder} has no label {label!r}; its labels are {shown}.")
    folded = folded_thresholds(data, labels)
    applied = _by_label(data.get(APPLIED_KEY), labels)
    if _refold(folder, data, labels.index(label), folded[label], threshold):
        folded[label] = threshold
        applied[label] = DEFAULT_THRESHOLD
    else:
        # Decided on the exported (folded) score: sigmoid(z - logit(f)) >= s  <=>  sigmoid(z) >= threshold.
        applied[label] = 1 / (1 + math.exp(-(logit(threshold) - logit(folded[label]))))
    data[APPLIED_KEY] = applied
    data[FOLDED_KEY] = folded
    replace_atomically(config_path, lambda tmp: tmp.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8"))
    _update_card(folder / "README.md", thresholds_in_force(data, labels), tuned_thresholds(data, labels))
    return thresholds_in_force(data, labels)[label]


def _weights_file(folder: Path, key: str) -> Path | None:
    """The safetensors file that holds `key`: model.safetensors, or the shard a sharded export's index names."""
    single = folder / "model.safetensors"
    if single.is_file():
        return single
    index = folder / "model.safetensors.index.json"
    try:
        shard = json.loads(index.read_text(encoding="utf-8"))["weight_map"][key]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    path = folder / str(shard)
    return path if path.is_file() else None


def _bias_key(folder: Path, num_labels: int) -> str | None:
    """The name of the classifier head's bias in the saved weights (the layer multi.classifier_head finds)."""
    import torch
    from transformers import AutoConfig, AutoModelForSequenceClassification

    from studio.core.tasks.multi import classifier_head

    try:
        config = AutoConfig.from_pretrained(folder)
        # On the meta device: the module names without allocating (or reading) any weights.
        with torch.device("meta"):
            skeleton = AutoModelForSequenceClassification.from_config(config)
    except (OSError, ValueError, KeyError):
        return None
    head = classifier_head(skeleton, num_labels)
    return next((f"{n}.bias" for n, m in skeleton.named_modules() if m is head), None)


def _refold(folder: Path, data: dict, index: int, before: float, threshold: float) -> bool:
    """Shift the label's bias from the `before` fold to `threshold`'s in the saved weights; False without one."""
    from safetensors import safe_open
    from safetensors.torch import load_file, save_file

    if not (folder / "model.safetensors").is_file() and not (folder / "model.safetensors.index.json").is_file():
        return False  # an ONNX export, or PyTorch .bin weights: the config alone carries the threshold
    key = _bias_key(folder, len(labels_of(data)))
    weights = _weights_file(folder, key) if key else None
    if key is None or weights is None:
        return False
    with safe_open(str(weights), framework="pt") as f:
        metadata = f.metadata() or {"format": "pt"}
    tensors = load_file(weights)
    if key not in tensors:
        return False
    bias = tensors[key].clone()
    bias[index] += logit(before) - logit(threshold)
    tensors[key] = bias
    replace_atomically(weights, lambda tmp: save_file(tensors, str(tmp), metadata=metadata))
    return True


def card_sentence(changed: dict[str, tuple[float, float]]) -> str:
    """The card's one line on thresholds set after training: {label: (in force, tuned)}."""
    parts = ", ".join(f"`{n}` **{t:.4f}** (tuned {tuned:.4f})" for n, (t, tuned) in changed.items())
    return (
        f"{CARD_PREFIX} {parts}. Each is on the label's own probability and folded into the classifier's bias like "
        f"the tuned ones, so `transformers.pipeline`'s sigmoid scores cross 0.5 there; `{FOLDED_KEY}` in "
        "config.json records the fold."
    )


def _update_card(card: Path, in_force: dict[str, float], tuned: dict[str, float]) -> None:
    """Replace (or add after the per-label table, or drop) the card's line on hand-set thresholds."""
    if not card.is_file():
        return
    lines = card.read_text(encoding="utf-8").splitlines()
    at = next((i for i, line in enumerate(lines) if line.startswith(CARD_PREFIX)), None)
    if at is not None:
        del lines[at]
        if at > 0 and not lines[at - 1].strip():
            del lines[at - 1]
    changed = {n: (t, tuned[n]) for n, t in in_force.items() if abs(t - tuned[n]) >= SAME}
    if changed:
        table = next((i for i, line in enumerate(lines) if line.startswith("| label | precision")), None)
        end = len(lines) if table is None else table
        while table is not None and end < len(lines) and lines[end].startswith("|"):
            end += 1
        lines[end:end] = ["", card_sentence(changed)]
    replace_atomically(card, lambda tmp: tmp.write_text("\n".join(lines) + "\n", encoding="utf-8"))
