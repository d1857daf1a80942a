"""The decision threshold of a binary classifier: tuned on validation for macro F1, folded into the head, applied."""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from studio.core.errors import StudioError

DEFAULT_THRESHOLD = 0.5
# With fewer validation rows of either class than this, a tuned threshold fits a handful of rows rather than
# the model: the run keeps 0.5 (the same rule as multi-label's per-label thresholds).
MIN_TUNING_SUPPORT = 5
# The curve metrics.json keeps for the app's threshold view: precision, recall and macro F1 on this grid.
CURVE_GRID = np.round(np.arange(0.02, 0.99, 0.02), 2)
# config.json keys of an exported binary model.
THRESHOLD_KEY = "studio_threshold"  # what the studio applies to the positive class's probability
LABEL_KEY = "studio_threshold_label"  # the positive class's name
FOLDED_KEY = "studio_threshold_folded"  # the threshold whose logit was subtracted from the positive class's bias
TUNED_KEY = "studio_tuned_threshold"  # the threshold tuned on the validation data at training


@dataclass(frozen=True)
class ThresholdChoice:
    """The tuned threshold on the positive class's probability, and the macro F1 it and 0.5 give on the rows."""

    threshold: float
    f1_at_threshold: float
    f1_at_half: float
    tuned: bool
    note: str = ""


def positive_class(train_labels: list[int], num_labels: int = 2) -> int:
    """The class whose probability the threshold applies to: the rarer one in training (class 1 on a tie)."""
    counts = np.bincount(np.asarray(train_labels, dtype=np.int64), minlength=num_labels)
    return 0 if counts[0] < counts[1] else 1


def softmax(logits) -> np.ndarray:
    z = np.asarray(logits, dtype=np.float64)
    z = np.exp(z - z.max(axis=-1, keepdims=True))
    return z / z.sum(axis=-1, keepdims=True)


def _counts(scores: np.ndarray, truth: np.ndarray, thresholds: np.ndarray):
    """(tp, fp, fn, tn) of the rule `score >= t` for each threshold, in O(n log n)."""
    positives = np.sort(scores[truth])
    negatives = np.sort(scores[~truth])
    tp = len(positives) - np.searchsorted(positives, thresholds, side="left")
    fp = len(negatives) - np.searchsorted(negatives, thresholds, side="left")
    return tp, fp, len(positives) - tp, len(negatives) - fp


def macro_f1_at(scores, truth, thresholds) -> np.ndarray:
    """Macro F1 of the two classes when a row is positive exactly where its score >= t, for each threshold t."""
    s = np.asarray(scores, dtype=np.float64)
    y = np.asarray(truth, dtype=bool)
    t = np.atleast_1d(np.asarray(thresholds, dtype=np.float64))
    tp, fp, fn, tn = _counts(s, y, t)
    f1_pos = np.where(2 * tp + fp + fn > 0, 2 * tp / np.maximum(2 * tp + fp + fn, 1), 0.0)
    f1_neg = np.where(2 * tn + fn + fp > 0, 2 * tn / np.maximum(2 * tn + fn + fp, 1), 0.0)
    return (f1_pos + f1_neg) / 2


def tune_threshold(scores, truth, min_support: int = MIN_TUNING_SUPPORT) -> ThresholdChoice:
    """The threshold on the positive class's probability that maximises macro F1 on these rows.

    The candidates are the thresholds of scikit-learn's precision-recall curve (every distinct score) and 0.5,
    so the F1 at the chosen threshold is never below the F1 at 0.5. The threshold sits halfway between the chosen
    score and the next lower one: the same decisions on these rows, and less fitted to the one row at the edge.
    Equal F1s keep 0.5, else go to the candidate nearest it.
    """
    from sklearn.metrics import precision_recall_curve

    s = np.asarray(scores, dtype=np.float64)
    y = np.asarray(truth, dtype=bool)
    at_half = float(macro_f1_at(s, y, DEFAULT_THRESHOLD)[0]) if s.size else 0.0
    positives, negatives = int(y.sum()), int((~y).sum())
    if min(positives, negatives) < min_support:
        note = (
            f"kept at 0.5: the validation rows hold {positives} of the positive class and {negatives} of the other, "
            f"fewer than {min_support} to tune on"
        )
        return ThresholdChoice(DEFAULT_THRESHOLD, at_half, at_half, False, note)
    _, _, curve_thresholds = precision_recall_curve(y, s)
    candidates = np.unique(np.append(curve_thresholds, DEFAULT_THRESHOLD))
    f1 = macro_f1_at(s, y, candidates)
    best = f1.max()
    if at_half >= best - 1e-12:
        return ThresholdChoice(DEFAULT_THRESHOLD, at_half, at_half, True)
    tied = np.flatnonzero(f1 >= best - 1e-12)
    chosen = float(candidates[tied[np.argmin(np.abs(candidates[tied] - DEFAULT_THRESHOLD))]])
    lower = s[s < chosen]
    threshold = (chosen + float(lower.max())) / 2 if lower.size else chosen / 2
    return ThresholdChoice(threshold, float(macro_f1_at(s, y, threshold)[0]), at_half, True)


def threshold_curve(scores, truth, grid: np.ndarray = CURVE_GRID) -> dict[str, list[float]]:
    """Precision and recall of the positive class and macro F1 at each threshold of the grid (for the app's view)."""
    s = np.asarray(scores, dtype=np.float64)
    y = np.asarray(truth, dtype=bool)
    tp, fp, fn, _ = _counts(s, y, grid)
    precision = np.where(tp + fp > 0, tp / np.maximum(tp + fp, 1), 1.0)
    recall = np.where(tp + fn > 0, tp / np.maximum(tp + fn, 1), 0.0)
    f1 = macro_f1_at(s, y, grid)
    return {
        "threshold": [round(float(v), 4) for v in grid],
        "precision": [round(float(v), 4) for v in precision],
        "recall": [round(float(v), 4) for v in recall],
        "f1": [round(float(v), 4) for v in f1],
    }


def binary_report(labels: tuple[str, ...], logits, y_true, positive: int, tune: bool = True) -> dict:
    """classification_report at the tuned threshold, with the threshold, F1 at it and at 0.5, and the curve."""
    from studio.core.metrics import classification_report

    probabilities = softmax(logits)
    y = np.asarray(y_true)
    scores = probabilities[:, positive] if probabilities.size else np.zeros(0)
    truth = y == positive
    choice = tune_threshold(scores, truth) if tune else None
    if choice is None:
        at_half = float(macro_f1_at(scores, truth, DEFAULT_THRESHOLD)[0]) if scores.size else 0.0
        choice = ThresholdChoice(DEFAULT_THRESHOLD, at_half, at_half, False, "not tuned")
    predicted = np.where(scores >= choice.threshold, positive, 1 - positive)
    report = classification_report(labels, y, predicted)
    report.update(
        {
            "threshold": choice.threshold,
            "threshold_label": labels[positive],
            "f1_at_threshold": choice.f1_at_threshold,
            "f1_at_0.5": choice.f1_at_half,
            "threshold_tuned_on": "validation" if choice.tuned else f"none ({choice.note})",
            "threshold_curve": threshold_curve(scores, truth) if scores.size else {},
        }
    )
    return report


# ---- the exported model ---------------------------------------------------------------------------------------


def logit(t: float) -> float:
    """log(t / (1 - t)), with t kept inside (0, 1)."""
    t = min(max(float(t), 1e-6), 1 - 1e-6)
    return math.log(t / (1 - t))


def fold_threshold(model, positive: int, threshold: float) -> bool:
    """Shift the positive class's bias by -logit(threshold), so that argmax (what transformers.pipeline shows)
    picks the positive class exactly where its original probability >= threshold. False without a head to fold into.
    """
    from studio.core.tasks.multi import classifier_head, fold_thresholds

    head = classifier_head(model, 2)
    if head is None:
        return False
    # softmax over two classes is sigmoid(z_pos - z_neg): a shift of the positive logit moves that boundary.
    values = [DEFAULT_THRESHOLD, DEFAULT_THRESHOLD]
    values[positive] = threshold
    fold_thresholds(head, values)
    return True


def prepare_binary_export(model, labels: tuple[str, ...], report: dict) -> None:
    """Save the tuned threshold in the model's config and fold it into the head.

    Keys a base model brought from an earlier export are replaced: its fold is part of the weights this run
    trained from, and the threshold was tuned on this run's own probabilities."""
    config = model.config
    if "threshold" not in report:
        return
    threshold = float(report["threshold"])
    positive = labels.index(report["threshold_label"])
    setattr(config, THRESHOLD_KEY, threshold)
    setattr(config, LABEL_KEY, labels[positive])
    setattr(config, TUNED_KEY, threshold)
    folded = threshold != DEFAULT_THRESHOLD and fold_threshold(model, positive, threshold)
    setattr(config, FOLDED_KEY, threshold if folded else None)


@dataclass(frozen=True)
class Rule:
    """How a saved binary model decides: the positive class, its threshold, and the threshold folded into it."""

    positive: int
    threshold: float
    folded: float | None


def rule_of(config, labels: list[str]) -> Rule | None:
    """The decision rule config.json stores for a binary model, or None (argmax) when it stores none."""
    threshold = getattr(config, THRESHOLD_KEY, None)
    name = getattr(config, LABEL_KEY, None)
    if len(labels) != 2 or threshold is None or name not in labels:
        return None
    folded = getattr(config, FOLDED_KEY, None)
    return Rule(labels.index(name), float(threshold), None if folded is None else float(folded))


def decide(logits, rule: Rule | None) -> tuple[np.ndarray, np.ndarray]:
    """(probabilities, chosen class ids): the probabilities as the model was trained (the fold undone), the class
    by the threshold on the positive one (argmax without a rule)."""
    z = np.asarray(logits, dtype=np.float64)
    if rule is None:
        probabilities = softmax(z)
        return probabilities, probabilities.argmax(axis=-1)
    if rule.folded is not None:
        z = z.copy()
        z[:, rule.positive] += logit(rule.folded)
    probabilities = softmax(z)
    chosen = np.where(probabilities[:, rule.positive] >= rule.threshold, rule.positive, 1 - rule.positive)
    return probabilities, chosen


def read_threshold_target(folder: Path, threshold: float) -> tuple[Path, dict]:
    """Check a threshold to set in folder and read its config.json: its path and contents, or a sentence."""
    if not 0 < threshold < 1:
        raise StudioError(f"A threshold must lie between 0 and 1 (got {threshold}); 0.5 is the usual one.")
    config_path = folder / "config.json"
    try:
        data = json.loads(config_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise StudioError(
            f"{folder} holds no readable config.json; choose a model folder the studio exported."
        ) from exc
    if not isinstance(data, dict):
        raise StudioError(f"{folder}'s config.json holds no model settings; choose a model folder the studio exported.")
    return config_path, data


def set_threshold(folder: str | Path, threshold: float) -> None:
    """Store a new threshold in an exported binary model folder: config.json, the head's bias (so that the
    pipeline agrees) and the model card's line; each file is replaced atomically."""
    import torch
    from safetensors.torch import load_file, save_file
    from transformers import AutoConfig, AutoModelForSequenceClassification

    from studio.core.tasks.multi import classifier_head

    folder = Path(folder).expanduser()
    config_path, data = read_threshold_target(folder, threshold)
    labels = [str(v) for _, v in sorted((data.get("id2label") or {}).items(), key=lambda kv: int(kv[0]))]
    if len(labels) != 2 or data.get("problem_type") == "multi_label_classification":
        raise StudioError("Only a binary single-label model has one decision threshold to set.")
    name = str(data[LABEL_KEY]) if data.get(LABEL_KEY) in labels else labels[1]
    positive = labels.index(name)
    folded_before = data.get(FOLDED_KEY)
    weights = folder / "model.safetensors"
    if weights.is_file():
        config = AutoConfig.from_pretrained(folder)
        with torch.device("meta"):
            skeleton = AutoModelForSequenceClassification.from_config(config)
        head = classifier_head(skeleton, 2)
        key = next((f"{n}.bias" for n, m in skeleton.named_modules() if m is head), None)
        tensors = load_file(weights)
        if key is not None and key in tensors:
            bias = tensors[key].clone()
            bias[positive] += logit(folded_before) if folded_before is not None else 0.0
            bias[positive] -= logit(threshold)
            tensors[key] = bias
            replace_atomically(weights, lambda tmp: save_file(tensors, str(tmp), metadata={"format": "pt"}))
            data[FOLDED_KEY] = threshold
    data[THRESHOLD_KEY] = threshold
    data[LABEL_KEY] = name
    replace_atomically(config_path, lambda tmp: tmp.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8"))
    card = folder / "README.md"
    if card.is_file():
        text = card.read_text(encoding="utf-8")
        tuned = data.get(TUNED_KEY)
        origin = "set by hand" + (
            f"; the threshold tuned on the validation data was {float(tuned):.4f}" if tuned else ""
        )
        lines = [threshold_sentence(name, threshold, origin) if _is_card_line(ln) else ln for ln in text.splitlines()]
        replace_atomically(card, lambda tmp: tmp.write_text("\n".join(lines) + "\n", encoding="utf-8"))


def replace_atomically(path: Path, write) -> None:
    """Replace path with what write(tmp) writes to a file beside it: a crash leaves the old file whole."""
    tmp = path.with_name(f".{path.name}.partial")
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


CARD_PREFIX = "Decision threshold:"


def _is_card_line(line: str) -> bool:
    return line.startswith(CARD_PREFIX)


def threshold_sentence(label: str, threshold: float, origin: str) -> str:
    """The model card's line on the threshold (one line, so that set_threshold can replace it)."""
    return (
        f"{CARD_PREFIX} `{label}` is predicted when its probability is at least **{threshold:.4f}** ({origin}). "
        f"The threshold is stored as `{THRESHOLD_KEY}` in config.json and folded into the classifier's bias "
        f"(the `{label}` logit shifted by -log(t/(1-t))), so `transformers.pipeline` picks the same labels; its "
        "scores are the shifted probabilities, while Fine-Tuning Studio shows the model's own."
    )
