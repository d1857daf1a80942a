"""Multi-label classification: each text has any number of labels; per-label sigmoid, weighted BCE, tuned thresholds."""

from __future__ import annotations

import logging
import math
from collections import Counter
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from studio.core.csvio import Table
from studio.core.data import (
    find_pair_column,
    infer_columns,
    label_order,
    split_indices,
    take,
    text_rows,
    validation_count,
)
from studio.core.errors import DataError

if TYPE_CHECKING:
    from studio.core.rare_classes import LossOptions

from studio.core.tasks.base import (
    Columns,
    Detection,
    Distribution,
    Examples,
    Prediction,
    SplitSettings,
    Task,
    TaskMetrics,
)

log = logging.getLogger(__name__)

# Tried in this order: ';' and '|' almost never occur inside a label name, ',' often does (and in free text).
SEPARATORS = (";", "|", ",")
# How many label cells detection reads: enough to see the joined rows of any real multi-label set.
DETECT_SAMPLE = 5000
# A handful of joined cells in a single-label file are typos ("ham,spam"), not multi-label data.
MIN_JOINED_SHARE = 0.01
# A label name is short; a part longer than this, or of more words, is free text.
MAX_LABEL_CHARS = 40
MAX_LABEL_WORDS = 4

# Per-label thresholds are tuned on the validation predictions at every evaluation (on this grid: finer steps only
# fit the validation set's noise). A label with fewer validation positives than MIN_TUNING_SUPPORT takes the one
# threshold that is best for all labels together: a threshold fitted to three rows does not carry to new data.
# (On GoEmotions, benchmarks/multi_label_defaults.py: 5 gave test macro F1 0.01-0.02 above 10, 20 or one shared
# threshold for all labels, and the same as tuning every label; tuning every label cost a lot of micro F1.)
# The same grid as the binary curve's (studio.core.thresholds.CURVE_GRID), so a tuned threshold is a curve point.
THRESHOLD_GRID = np.round(np.arange(0.02, 0.99, 0.02), 2)
MIN_TUNING_SUPPORT = 5
DEFAULT_THRESHOLD = 0.5
# Rare labels get more weight on their positives in the loss (sqrt of negatives per positive, at most this):
# plain BCE on a 2 % label learns to say "no" to everything in the first epoch, and the tuned threshold cannot
# recover a label whose scores never separate.
MAX_POS_WEIGHT = 10.0


def split_labels(cell: str, separator: str | None) -> list[str]:
    """The label names of one cell, stripped, empty parts and repeats left out, in their order."""
    parts = cell.split(separator) if separator else [cell]
    seen: dict[str, None] = {}
    for part in parts:
        name = part.strip()
        if name:
            seen.setdefault(name, None)
    return list(seen)


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _looks_joined(cells: list[str], separator: str) -> bool:
    """Whether the (stripped, non-empty) cells look like label names joined by `separator`."""
    joined = [c for c in cells if separator in c]
    if len(joined) < 2 or len(joined) < MIN_JOINED_SHARE * len(cells):
        return False
    split = [split_labels(c, separator) for c in cells]
    parts = [p for row in split for p in row]
    if not parts:
        return False
    # Label names are short; free text (a review with commas) has long parts of many words.
    wordy = sum(1 for p in parts if len(p) > MAX_LABEL_CHARS or len(p.split()) > MAX_LABEL_WORDS)
    if wordy > (0.01 if separator == "," else 0.05) * len(parts):
        return False
    counts = Counter(parts)
    # Label names repeat across rows; pieces of free text mostly occur once.
    once = sum(1 for n in counts.values() if n == 1)
    if once > (0.1 if separator == "," else 0.25) * len(parts) or len(counts) > 0.5 * len(parts):
        return False
    # A comma between digits is a decimal or thousands separator (regression data), not a list of labels.
    if separator == "," and all(_is_number(p) for p in counts):
        return False
    # Several labels per row combine: some name occurs in two different cells ("joy" and "joy;love"). A class
    # that merely contains the separator ("Arts, Culture") occurs in one cell value only.
    cells_of: dict[str, set[str]] = {}
    for cell, row in zip(cells, split, strict=True):
        for name in row:
            cells_of.setdefault(name, set()).add(cell)
    return any(len(v) > 1 for v in cells_of.values())


def detect_separator(cells: list[str]) -> str | None:
    """The separator joining several label names per cell (';', '|' or ','), when that is unambiguous; else None."""
    sample = [c.strip() for c in cells if c.strip()][:DETECT_SAMPLE]
    for separator in SEPARATORS:
        if _looks_joined(sample, separator):
            return separator
    return None


def label_separator(cells: list[str]) -> str | None:
    """The separator to split a label column on once the user chose multi-label: the unambiguous one, else the
    one that occurs in most cells (the user said the cells hold several labels), else None (one label a cell)."""
    found = detect_separator(cells)
    if found is not None:
        return found
    sample = [c for c in cells if c.strip()][:DETECT_SAMPLE]
    counts = {s: sum(1 for c in sample if s in c) for s in SEPARATORS}
    best = max(SEPARATORS, key=lambda s: counts[s])
    return best if counts[best] else None


def _lines(numbers: list[int]) -> str:
    shown = ", ".join(str(n) for n in numbers[:8])
    return f"line{'s' if len(numbers) > 1 else ''} {shown}{' ...' if len(numbers) > 8 else ''}"


def _names(values: list[str] | set[str], limit: int = 5) -> str:
    ordered = sorted(values)
    return ", ".join(repr(v) for v in ordered[:limit]) + (" ..." if len(ordered) > limit else "")


# ---- metrics --------------------------------------------------------------------------------------------------


def sigmoid(logits) -> np.ndarray:
    logits = np.asarray(logits, dtype=np.float64)
    return np.exp(-np.logaddexp(0.0, -logits))


def binary_cross_entropy(logits, y_true) -> float:
    """Mean BCE of sigmoid(logits) against 0/1 targets over every (row, label), computed stably."""
    z = np.asarray(logits, dtype=np.float64)
    y = np.asarray(y_true, dtype=np.float64)
    if z.size == 0:
        return 0.0
    # -[y log s(z) + (1-y) log(1-s(z))] = log(1 + e^z) - y z
    return float(np.mean(np.logaddexp(0.0, z) - y * z))


def _f1_by_threshold(probabilities: np.ndarray, truth: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """F1 of one label at each threshold of the grid (0 where there is nothing to find and nothing found)."""
    predicted = probabilities[:, None] >= grid[None, :]
    positive = truth[:, None] > 0.5
    tp = (predicted & positive).sum(axis=0)
    fp = (predicted & ~positive).sum(axis=0)
    fn = (~predicted & positive).sum(axis=0)
    denominator = 2 * tp + fp + fn
    return np.where(denominator > 0, 2 * tp / np.maximum(denominator, 1), 0.0)


def _middle_of_best(scores: np.ndarray, grid: np.ndarray) -> float:
    # Equal F1s over a run of thresholds: the middle of the run is the least fitted to the validation rows' edges.
    best = np.flatnonzero(scores >= scores.max() - 1e-12)
    return float(grid[best[len(best) // 2]])


def tune_thresholds(
    probabilities, truth, grid: np.ndarray = THRESHOLD_GRID, min_support: int = MIN_TUNING_SUPPORT
) -> np.ndarray:
    """Per-label thresholds that maximise each label's F1 on these rows; labels with fewer positives than
    `min_support` share the one threshold that maximises the macro F1 over all labels."""
    p = np.asarray(probabilities, dtype=np.float64)
    y = np.asarray(truth, dtype=np.float64)
    if p.ndim != 2 or p.shape[0] == 0:
        return np.full(p.shape[-1] if p.ndim == 2 else 0, DEFAULT_THRESHOLD)
    per_label = np.stack([_f1_by_threshold(p[:, j], y[:, j], grid) for j in range(p.shape[1])])
    shared = _middle_of_best(per_label.mean(axis=0), grid)
    support = (y > 0.5).sum(axis=0)
    return np.array(
        [_middle_of_best(per_label[j], grid) if support[j] >= min_support else shared for j in range(p.shape[1])]
    )


def label_curves(
    labels: tuple[str, ...], probabilities, truth, grid: np.ndarray = THRESHOLD_GRID
) -> dict[str, dict[str, list[float]]]:
    """Each label's precision, recall and F1 at each threshold of the grid, for the app's threshold view (the
    shape of studio.core.thresholds.threshold_curve, with the label's own F1 in place of the macro F1)."""
    p = np.asarray(probabilities, dtype=np.float64)
    y = np.asarray(truth, dtype=np.float64) > 0.5
    if p.ndim != 2 or p.shape[0] == 0:
        return {}
    rounded = [round(float(v), 4) for v in grid]
    curves = {}
    for j, name in enumerate(labels):
        # Sorted scores and searchsorted count the rows at or above each threshold in O(n log n).
        positives = np.sort(p[y[:, j], j])
        negatives = np.sort(p[~y[:, j], j])
        tp = len(positives) - np.searchsorted(positives, grid, side="left")
        fp = len(negatives) - np.searchsorted(negatives, grid, side="left")
        fn = len(positives) - tp
        # Nothing predicted is taken as precision 1 (as for the binary curve), so the curve does not drop to 0.
        precision = np.where(tp + fp > 0, tp / np.maximum(tp + fp, 1), 1.0)
        recall = np.where(tp + fn > 0, tp / np.maximum(tp + fn, 1), 0.0)
        f1 = np.where(2 * tp + fp + fn > 0, 2 * tp / np.maximum(2 * tp + fp + fn, 1), 0.0)
        curves[name] = {
            "threshold": rounded,
            "precision": [round(float(v), 4) for v in precision],
            "recall": [round(float(v), 4) for v in recall],
            "f1": [round(float(v), 4) for v in f1],
        }
    return curves


def multilabel_report(labels: tuple[str, ...], logits, truth, thresholds) -> dict:
    """Every figure the Evaluate page and metrics.json show, at the given per-label thresholds."""
    from sklearn.metrics import precision_recall_fscore_support

    p = sigmoid(logits)
    y = (np.asarray(truth, dtype=np.float64) > 0.5).astype(int)
    t = np.asarray(thresholds, dtype=np.float64)
    predicted = (p >= t[None, :]).astype(int) if p.size else np.zeros_like(y)
    ids = list(range(len(labels)))
    _, _, macro_f1, _ = precision_recall_fscore_support(y, predicted, labels=ids, average="macro", zero_division=0)
    micro_p, micro_r, micro_f1, _ = precision_recall_fscore_support(
        y, predicted, labels=ids, average="micro", zero_division=0
    )
    p_l, r_l, f_l, s_l = precision_recall_fscore_support(y, predicted, labels=ids, average=None, zero_division=0)
    return {
        "f1": float(macro_f1),
        "f1_micro": float(micro_f1),
        "precision": float(micro_p),
        "recall": float(micro_r),
        "per_label": {
            name: {
                "precision": float(p_l[i]),
                "recall": float(r_l[i]),
                "f1": float(f_l[i]),
                "support": int(s_l[i]),
                "threshold": float(t[i]),
            }
            for i, name in enumerate(labels)
        },
        "thresholds": {name: float(t[i]) for i, name in enumerate(labels)},
        "loss": binary_cross_entropy(logits, y),
    }


class MultiLabelMetrics(TaskMetrics):
    """Macro and micro F1 at per-label thresholds tuned on the validation predictions of each evaluation.

    The thresholds are chosen on the same rows they are scored on, so the figures are optimistic (on GoEmotions,
    thresholds tuned on 1,000 validation rows scored 0.03 macro F1 below thresholds tuned on the test rows
    themselves); the report says so under "thresholds_tuned_on". The thresholds of the final evaluation are the
    ones the exported model applies (folded into its head).
    """

    def __init__(self, labels: tuple[str, ...], tune: bool = True):
        super().__init__()
        self.labels = labels
        self.tune = tune

    def __call__(self, eval_prediction) -> dict[str, float]:
        logits, y_true = eval_prediction.predictions, eval_prediction.label_ids
        if isinstance(logits, tuple):
            logits = logits[0]
        if self.tune:
            thresholds = tune_thresholds(sigmoid(logits), y_true)
        else:
            thresholds = np.full(len(self.labels), DEFAULT_THRESHOLD)
        report = multilabel_report(self.labels, logits, y_true, thresholds)
        report["thresholds_tuned_on"] = "validation" if self.tune else "none (0.5)"
        # The contract's names (as for a binary model): F1 at the tuned thresholds, and at 0.5 for every label.
        report["f1_at_threshold"] = report["f1"]
        at_half = np.full(len(self.labels), DEFAULT_THRESHOLD)
        report["f1_at_0.5"] = (
            multilabel_report(self.labels, logits, y_true, at_half)["f1"] if self.tune else report["f1"]
        )
        report["label_curves"] = label_curves(self.labels, sigmoid(logits), y_true)
        self.last_report = report
        scalars = {k: report[k] for k in ("f1", "f1_micro", "precision", "recall", "loss")}
        # Equal F1s go to the lower loss rather than to the earliest checkpoint; the term moves the score < 1e-6.
        scalars["selection_score"] = report["f1"] - 1e-7 * min(report["loss"], 10.0)
        return scalars


class WeightedBCELoss:
    """The Trainer's compute_loss_func: per-label sigmoid BCE with more weight on rare labels' positives.

    Normalised by `num_items_in_batch` (the (row, label) cells of the whole accumulated batch, which the Trainer
    counts from the labels) when given, so that gradient accumulation and several devices sum to the same mean.
    """

    def __init__(self, pos_weight: list[float] | None, label_smoothing: float = 0.0):
        self.pos_weight = pos_weight
        # Targets move from 0 and 1 towards 0.5 by this share: s/2 and 1 - s/2.
        self.label_smoothing = float(label_smoothing)
        self._tensor: Any = None

    def __call__(self, outputs, labels, num_items_in_batch=None):
        import torch
        import torch.nn.functional as F

        logits = outputs["logits"] if isinstance(outputs, dict) else outputs[0]
        logits = logits.float()
        target = labels.to(logits.dtype)
        if self.label_smoothing:
            target = target * (1.0 - self.label_smoothing) + 0.5 * self.label_smoothing
        weight = None
        if self.pos_weight is not None:
            if self._tensor is None or self._tensor.device != logits.device:
                self._tensor = torch.tensor(self.pos_weight, dtype=torch.float32, device=logits.device)
            weight = self._tensor
        cells = F.binary_cross_entropy_with_logits(logits, target, pos_weight=weight, reduction="none")
        if num_items_in_batch is None:
            return cells.mean()
        return cells.sum() / torch.as_tensor(num_items_in_batch, device=cells.device, dtype=cells.dtype)


def initial_bias(train_labels: list[list[float]], pos_weight: list[float] | None) -> list[float]:
    """Each label's best constant logit under the weighted loss: log(w * p / (1 - p)) for a label on a share p of
    the rows with positive weight w. A fresh head starts there instead of at 0 (every label at 50 %)."""
    y = np.asarray(train_labels, dtype=np.float64)
    if y.ndim != 2 or y.shape[0] == 0:
        return []
    share = ((y > 0.5).sum(axis=0) + 0.5) / (y.shape[0] + 1.0)
    weight = np.asarray(pos_weight, dtype=np.float64) if pos_weight else np.ones(y.shape[1])
    return (np.log(weight) + np.log(share / (1.0 - share))).tolist()


class MultiLabelModel:
    """AutoModelForSequenceClassification whose fresh head starts at each label's base rate.

    With its bias at 0 a new head says 50 % for every label, and BCE spends the first hundreds of steps pushing
    every score down; Adam moves a bias by about the learning rate per step, so it is the encoder that gets pushed,
    and a short run ends knowing only that labels are rare (plain BCE on 4,000 GoEmotions rows, one epoch, at 5e-5
    or 2e-4: no label above 0.5 on the test rows, and no better than predicting every label once the thresholds
    are tuned). `studio_initial_bias` (given by MultiLabelTask.model_config for training only) sets a
    newly made head's bias; a head loaded from the checkpoint keeps its own, and loading an export is unchanged.
    """

    @classmethod
    def from_pretrained(cls, *args, studio_initial_bias: list[float] | None = None, **kwargs):
        from transformers import AutoModelForSequenceClassification

        if not studio_initial_bias:
            return AutoModelForSequenceClassification.from_pretrained(*args, **kwargs)
        wants_info = kwargs.pop("output_loading_info", False)
        model, info = AutoModelForSequenceClassification.from_pretrained(*args, output_loading_info=True, **kwargs)
        set_fresh_bias(model, info, studio_initial_bias)
        return (model, info) if wants_info else model


def set_fresh_bias(model, loading_info: dict, bias: list[float]) -> bool:
    """Set the head's bias to `bias` when the checkpoint did not provide it (missing or of another shape)."""
    import torch

    head = classifier_head(model, len(bias))
    name = next((n for n, m in model.named_modules() if m is head), None)
    if head is None or name is None:
        return False
    fresh = set(loading_info.get("missing_keys") or ()) | {k[0] for k in loading_info.get("mismatched_keys") or ()}
    key = f"{name}.bias"
    if not any(k == key or k.endswith(f".{key}") for k in fresh):
        return False
    with torch.no_grad():
        head.bias.copy_(torch.tensor(bias, dtype=head.bias.dtype))
    return True


def positive_weights(train_labels: list[list[float]], cap: float = MAX_POS_WEIGHT) -> list[float]:
    """sqrt(negatives / positives) per label, from 1 to `cap` (a label never seen positive gets 1)."""
    y = np.asarray(train_labels, dtype=np.float64)
    if y.ndim != 2 or y.shape[0] == 0:
        return []
    positives = (y > 0.5).sum(axis=0)
    negatives = y.shape[0] - positives
    ratio = np.where(positives > 0, negatives / np.maximum(positives, 1), 1.0)
    return np.clip(np.sqrt(ratio), 1.0, cap).tolist()


# ---- the task -------------------------------------------------------------------------------------------------


class MultiLabelTask(Task):
    """Any number of labels per text (or pair of texts): a label column whose cells join names by ';', '|' or ','."""

    name: ClassVar[str] = "multi"
    title: ClassVar[str] = "Multi-label classification"
    main_metric: ClassVar[str] = "f1"
    main_metric_title: ClassVar[str] = "Macro F1"
    shown_scalars: ClassVar[tuple[str, ...]] = ("f1", "f1_micro")
    pipeline_kwargs: ClassVar[dict[str, Any]] = {"top_k": None, "function_to_apply": "sigmoid"}
    problem_type: ClassVar[str | None] = "multi_label_classification"
    # Measured on GoEmotions with the built-in model (benchmarks/multi_label_defaults.py): a sigmoid head learns
    # rare labels far more slowly than a softmax one, and 5e-5 leaves most of them never predicted after an epoch.
    default_learning_rate: ClassVar[float] = 2e-4
    takes_pairs: ClassVar[bool] = True
    # Before pair (40): a multi-label file with a second text is multi-label, encoded as pairs.
    detect_priority: ClassVar[int] = 20

    # ---- data -------------------------------------------------------------------------------------------
    def detect(
        self, table: Table, text: str | None = None, label: str | None = None, pair: str | None = None
    ) -> Detection | None:
        columns = self.columns(table, text, label, pair)
        index = table.columns.index(columns.label)
        cells = [row[index].strip() for row in table.rows[:DETECT_SAMPLE] if row[index].strip()]
        separator = detect_separator(cells)
        if separator is None:
            return None
        rows = [split_labels(c, separator) for c in cells]
        names = {n for row in rows for n in row}
        mean = sum(len(r) for r in rows) / max(1, len(rows))
        second = f" beside the second text {columns.pair!r}" if columns.pair else ""
        return Detection(
            self.name,
            columns,
            f"The column {columns.label!r} holds several labels per row joined by {separator!r}"
            f" ({len(names)} labels, {mean:.1f} per row on average){second}.",
        )

    def columns(self, table: Table, text: str | None, label: str | None, pair: str | None) -> Columns:
        if pair and pair not in table.columns:
            infer_columns(table, pair)  # raises the sentence naming the columns
        if pair is None:
            # A second text found by name (text_pair, sentence2...) is read as the pair's other half.
            guess = infer_columns(table, text, label)
            pair = find_pair_column(table, guess.text, guess.label)
        found = infer_columns(table, text, label, exclude=(pair,) if pair else ())
        if pair in (found.text, found.label):
            raise DataError(f"The column {pair!r} cannot be both the second text and the text or label.")
        return Columns(found.text, found.label, pair or None)

    def load(self, table: Table, validation: Table | None, columns: Columns, split: SplitSettings) -> Examples:
        # A row with an empty label cell is left out (and counted in a warning), as for single-label data: an
        # empty cell more often means "not labelled yet" than "none of the labels". Data with rows that truly
        # have no label should say so with a label of their own (GoEmotions' "neutral").
        name = table.path.name
        rows = text_rows(table, columns)
        separator = label_separator(rows.labels)
        keep = [i for i, cell in enumerate(rows.labels) if split_labels(cell, separator)]
        warnings = list(rows.warnings)
        if len(keep) < len(rows.labels):
            warnings.append(
                f"{len(rows.labels) - len(keep)} rows of {name} have only separators in {columns.label!r} "
                "and were left out."
            )
        texts, pairs = take(rows.texts, keep) or [], take(rows.pairs, keep)
        label_sets = [split_labels(rows.labels[i], separator) for i in keep]
        names = label_order([n for row in label_sets for n in row])
        _check_labels(name, columns.label, label_sets, names)
        if validation is not None:
            if len(texts) < 2:
                raise DataError(f"{name} has only {len(texts)} usable row; add more rows to train on.")
            val_t, val_p, val_sets, more = _validation_rows(validation, columns, separator, names)
            warnings += more
            train_t, train_p, train_sets = texts, pairs, label_sets
        else:
            n_validation, warning = validation_count(len(texts), name, split)
            if warning:
                warnings.append(warning)
            # Stratified on each row's rarest label, so that rare labels reach the validation part too.
            frequency = Counter(n for row in label_sets for n in row)
            rarest = [min(row, key=lambda n: (frequency[n], n)) for row in label_sets]
            tr, va = split_indices(len(texts), n_validation, split.seed, stratify=rarest)
            train_t, train_p, train_sets = take(texts, tr) or [], take(pairs, tr), [label_sets[i] for i in tr]
            val_t, val_p, val_sets = take(texts, va) or [], take(pairs, va), [label_sets[i] for i in va]
        ids = {n: i for i, n in enumerate(names)}
        return Examples(
            task=self.name,
            train_texts=train_t,
            train_labels=[_multi_hot(row, ids) for row in train_sets],
            validation_texts=val_t,
            validation_labels=[_multi_hot(row, ids) for row in val_sets],
            labels=names,
            columns=columns,
            split_from_train=validation is None,
            warnings=tuple(warnings),
            train_pairs=train_p,
            validation_pairs=val_p,
        )

    def distribution(self, table: Table, columns: Columns) -> Distribution:
        cells = [c for c in table.column(columns.label) if c.strip()]
        separator = label_separator(cells)
        rows = [r for r in (split_labels(c, separator) for c in cells) if r]
        counts = Counter(n for row in rows for n in row)
        bars = [(n, counts[n]) for n in label_order(counts)]
        mean = sum(len(r) for r in rows) / max(1, len(rows))
        return Distribution("counts", "Rows per label", bars, f"{mean:.1f} labels per row on average")

    # ---- model ------------------------------------------------------------------------------------------
    def model_class(self) -> Any:
        return MultiLabelModel

    def model_config(self, examples: Examples) -> dict[str, Any]:
        config = super().model_config(examples)
        bias = initial_bias(examples.train_labels, positive_weights(examples.train_labels))
        return {**config, "studio_initial_bias": bias} if bias else config

    def label_arrow_type(self) -> Any:
        import pyarrow as pa

        return pa.list_(pa.float32())

    def loss(self, examples: Examples, options: LossOptions | None = None):
        # Rare labels' positives always weigh more here (the task's recipe); custom class weights scale that.
        weights = positive_weights(examples.train_labels) or None
        if options is not None and options.class_weights is not None:
            base = weights or [1.0] * len(options.class_weights)
            weights = [w * c for w, c in zip(base, options.class_weights, strict=True)]
        return WeightedBCELoss(weights, options.label_smoothing if options is not None else 0.0)

    # ---- metrics ----------------------------------------------------------------------------------------
    def metrics(self, examples: Examples) -> TaskMetrics:
        return MultiLabelMetrics(examples.labels)

    def summary(self, report: dict) -> dict[str, Any]:
        return {
            "f1": report["f1"],
            "f1_micro": report["f1_micro"],
            "precision": report["precision"],
            "recall": report["recall"],
            "loss": report["loss"],
            "per_label": report.get("per_label", {}),
            "thresholds": report.get("thresholds", {}),
            "thresholds_tuned_on": report.get("thresholds_tuned_on", "validation"),
            "f1_at_threshold": report.get("f1_at_threshold", report["f1"]),
            "f1_at_0.5": report.get("f1_at_0.5", report["f1"]),
            "label_curves": report.get("label_curves", {}),
        }

    # ---- export and prediction --------------------------------------------------------------------------
    def prepare_export(self, model, examples: Examples, report: dict) -> None:
        """Fold each label's tuned threshold into the head's bias, so that sigmoid(logit) >= 0.5 exactly where
        sigmoid(original logit) >= threshold: any consumer that thresholds the pipeline at 0.5 (the usual way)
        makes the studio's decisions. Without a head to fold into, the thresholds stay in the config.
        `studio_folded_thresholds` records what each label's bias was shifted by, so that a threshold set later
        (studio.core.label_thresholds) re-folds from the trained bias."""
        labels = list(examples.labels)
        tuned = report.get("thresholds") or {}
        values = [float(tuned.get(n, DEFAULT_THRESHOLD)) for n in labels]
        config = model.config
        if not getattr(config, "studio_tuned_thresholds", None):
            head = classifier_head(model, len(labels))
            if head is not None:
                fold_thresholds(head, values)
                config.studio_thresholds = dict.fromkeys(labels, DEFAULT_THRESHOLD)
                config.studio_folded_thresholds = dict(zip(labels, values, strict=True))
            else:
                log.warning("No linear head with a bias to fold the thresholds into; they stay in the config.")
                config.studio_thresholds = dict(zip(labels, values, strict=True))
                config.studio_folded_thresholds = dict.fromkeys(labels, DEFAULT_THRESHOLD)
            config.studio_tuned_thresholds = dict(zip(labels, values, strict=True))
        super().prepare_export(model, examples, report)

    def decode(self, logits, config) -> list[Prediction]:
        labels = _label_names(config)
        thresholds = config_thresholds(config, labels)
        probabilities = sigmoid(np.asarray(logits, dtype=np.float64).reshape(-1, len(labels)))
        out = []
        for row in probabilities.tolist():
            chosen = [i for i, p in enumerate(row) if p >= thresholds[i]]
            best = max(chosen or range(len(row)), key=row.__getitem__)
            out.append(
                Prediction(
                    label=";".join(labels[i] for i in chosen),
                    score=row[best],
                    probabilities=dict(zip(labels, row, strict=True)),
                    chosen=tuple(labels[i] for i in chosen),
                )
            )
        return out

    def csv_header(self, config) -> list[str]:
        return ["predicted_labels", *[f"p({label})" for label in _label_names(config)]]

    def csv_cells(self, prediction: Prediction, config) -> list[str]:
        return [
            prediction.label,
            *[f"{prediction.probabilities[label]:.6f}" for label in _label_names(config)],
        ]

    def card_lines(self, metrics: dict) -> list[str]:
        per_label = metrics.get("per_label") or {}
        if not per_label:
            return []
        lines = [
            "",
            "Each label's threshold was tuned on the validation data (figures above are at these thresholds, so "
            "slightly optimistic) and folded into the classifier's bias: the exported model's sigmoid scores "
            "cross 0.5 where the tuned thresholds were.",
            "",
            "| label | precision | recall | F1 | support | threshold |",
            "|---|---|---|---|---|---|",
        ]
        lines += [
            f"| {name} | {s['precision']:.4f} | {s['recall']:.4f} | {s['f1']:.4f} | {s['support']} "
            f"| {s.get('threshold', DEFAULT_THRESHOLD):.2f} |"
            for name, s in per_label.items()
        ]
        return lines


def _label_names(config) -> list[str]:
    return [str(config.id2label.get(i, i)) for i in range(config.num_labels)]


def config_thresholds(config, labels: list[str]) -> list[float]:
    """The thresholds a saved model applies: config.studio_thresholds (by name, or a list), else 0.5."""
    saved = getattr(config, "studio_thresholds", None)
    if isinstance(saved, dict):
        return [float(saved.get(n, DEFAULT_THRESHOLD)) for n in labels]
    if isinstance(saved, (list, tuple)) and len(saved) == len(labels):
        return [float(v) for v in saved]
    return [DEFAULT_THRESHOLD] * len(labels)


def classifier_head(model, num_labels: int):
    """The layer that makes the logits: the last nn.Linear with num_labels outputs and a bias (BERT's
    `classifier`, RoBERTa's `classifier.out_proj`...), or None."""
    from torch import nn

    found = None
    for module in model.modules():
        if isinstance(module, nn.Linear) and module.out_features == num_labels and module.bias is not None:
            found = module
    return found


def fold_thresholds(head, thresholds: list[float]) -> None:
    """bias_i -= logit(t_i): sigmoid(z_i - logit(t_i)) >= 0.5 exactly when sigmoid(z_i) >= t_i."""
    import torch

    clipped = [min(max(t, 1e-6), 1 - 1e-6) for t in thresholds]
    shift = torch.tensor([math.log(t / (1 - t)) for t in clipped], dtype=head.bias.dtype, device=head.bias.device)
    with torch.no_grad():
        head.bias.sub_(shift)


def _multi_hot(names: list[str], ids: dict[str, int]) -> list[float]:
    row = [0.0] * len(ids)
    for name in names:
        if name in ids:
            row[ids[name]] = 1.0
    return row


def _check_labels(name: str, column: str, label_sets: list[list[str]], names: tuple[str, ...]) -> None:
    if len(names) < 2:
        raise DataError(
            f"Every row of {name} has the same label ({names[0]!r}) in {column!r}; a multi-label classifier needs "
            "at least two labels."
        )
    if len(label_sets) >= 4 and len(names) > 0.5 * len(label_sets):
        raise DataError(
            f"The column {column!r} of {name} has {len(names)} different labels in {len(label_sets)} rows, so it "
            "is not a label column (labels repeat across rows); choose the column that holds the labels."
        )


def _validation_rows(validation: Table, columns: Columns, separator: str | None, names: tuple[str, ...]):
    """(texts, pairs, label sets, warnings) of the validation table, its labels checked against the training's."""
    vname = validation.path.name
    vrows = text_rows(validation, columns)
    warnings = list(vrows.warnings)
    known = set(names)
    texts: list[str] = []
    pairs: list[str] | None = [] if vrows.pairs is not None else None
    sets: list[list[str]] = []
    all_unknown: list[int] = []
    unknown_names: set[str] = set()
    partly = 0
    for i, cell in enumerate(vrows.labels):
        row = split_labels(cell, separator)
        if not row:
            continue
        unknown = [n for n in row if n not in known]
        if unknown:
            unknown_names.update(unknown)
            if len(unknown) == len(row):
                all_unknown.append(vrows.lines[i])
                continue
            partly += 1
        texts.append(vrows.texts[i])
        if pairs is not None and vrows.pairs is not None:
            pairs.append(vrows.pairs[i])
        sets.append([n for n in row if n in known])
    if all_unknown:
        raise DataError(
            f"In the validation file {vname}, {_lines(all_unknown)} of {columns.label!r} "
            f"{'hold' if len(all_unknown) > 1 else 'holds'} only labels that "
            f"the training data lacks ({_names(unknown_names)}); add training rows with these labels, or correct "
            f"or remove those rows of {vname}."
        )
    if partly:
        warnings.append(
            f"{partly} rows of {vname} also name labels the training data lacks ({_names(unknown_names)}); "
            "those labels were left out of them."
        )
    if not texts:
        raise DataError(f"The validation file {vname} has no row with a label in {columns.label!r}.")
    return texts, pairs, sets, warnings
