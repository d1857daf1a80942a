"""Help for rare classes and regularisation of the loss: class weights, label smoothing, oversampling."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

from studio.core.errors import ConfigError

# The Data page suggests class weights or oversampling from this ratio of the largest class to the smallest.
IMBALANCE_RATIO = 5.0


@dataclass(frozen=True)
class LossOptions:
    """What the loss adds to the task's own: a weight per class (None: equal) and label smoothing."""

    class_weights: tuple[float, ...] | None = None
    label_smoothing: float = 0.0

    @property
    def plain(self) -> bool:
        return self.class_weights is None and not self.label_smoothing


def imbalance_ratio(counts: dict[str, int] | Counter) -> float:
    """Rows of the largest class over rows of the smallest (1 when balanced; 0 when there are no classes)."""
    sizes = [n for n in counts.values() if n > 0]
    return max(sizes) / min(sizes) if sizes else 0.0


def class_weight_vector(mode: str, train_labels: list[int], labels: tuple[str, ...]) -> tuple[float, ...] | None:
    """The loss weight of each class: None for "none"; scikit-learn's "balanced" (n / (k * count)); or by name.

    A class absent from the training rows gets weight 1 under "balanced" (it cannot be balanced).
    """
    from studio.core.config import custom_class_weights

    if mode == "none":
        return None
    if mode == "balanced":
        import numpy as np
        from sklearn.utils.class_weight import compute_class_weight

        present = np.unique(np.asarray(train_labels, dtype=np.int64))
        weights = compute_class_weight("balanced", classes=present, y=np.asarray(train_labels, dtype=np.int64))
        by_id = dict(zip(present.tolist(), weights.tolist(), strict=True))
        return tuple(float(by_id.get(i, 1.0)) for i in range(len(labels)))
    custom = custom_class_weights(mode) or {}
    unknown = [name for name in custom if name not in labels]
    if unknown:
        shown = ", ".join(labels[:20]) + (" ..." if len(labels) > 20 else "")
        raise ConfigError(
            f"The class weights name {', '.join(repr(n) for n in unknown)}, which the labels do not have; the "
            f"classes are: {shown}."
        )
    return tuple(float(custom.get(name, 1.0)) for name in labels)


def oversampled_indices(train_labels: list[int], seed: int) -> list[int]:
    """Row indices in which every class appears about as often as the largest: rare rows repeated, in a seeded mix.

    Each row of a class with n rows appears max/n times (whole repeats, then a seeded draw for the remainder), so
    no row is left out and none is repeated far more than the others.
    """
    import numpy as np

    rng = np.random.default_rng(seed)
    by_class: dict[int, list[int]] = {}
    for i, label in enumerate(train_labels):
        by_class.setdefault(int(label), []).append(i)
    target = max((len(rows) for rows in by_class.values()), default=0)
    chosen: list[int] = []
    for rows in by_class.values():
        whole, rest = divmod(target, len(rows))
        chosen += rows * whole
        chosen += rng.choice(rows, size=rest, replace=False).tolist() if rest else []
    return sorted(chosen)


class WeightedCrossEntropy:
    """The Trainer's compute_loss_func for classes (per text or per token): class weights and label smoothing.

    Positions labelled -100 (sub-tokens, padding) are ignored. Normalised by `num_items_in_batch` when given (the
    labelled positions of the whole accumulated batch), so gradient accumulation and several devices sum to the
    same mean as one big batch.
    """

    def __init__(self, options: LossOptions):
        self.options = options
        self._weight: Any = None

    def __call__(self, outputs, labels, num_items_in_batch=None):
        import torch
        import torch.nn.functional as F

        logits = outputs["logits"] if isinstance(outputs, dict) else outputs[0]
        logits = logits.float().reshape(-1, logits.shape[-1])
        labels = labels.reshape(-1).long()
        weight = None
        if self.options.class_weights is not None:
            if self._weight is None or self._weight.device != logits.device:
                self._weight = torch.tensor(self.options.class_weights, dtype=torch.float32, device=logits.device)
            weight = self._weight
        per_item = F.cross_entropy(
            logits,
            labels,
            weight=weight,
            ignore_index=-100,
            label_smoothing=float(self.options.label_smoothing),
            reduction="none",
        )
        if num_items_in_batch is None:
            counted = (labels != -100).sum().clamp(min=1)
            return per_item.sum() / counted
        return per_item.sum() / torch.as_tensor(num_items_in_batch, device=per_item.device, dtype=per_item.dtype)
