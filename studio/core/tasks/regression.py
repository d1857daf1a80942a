"""Regression: a number to predict per text (or pair of texts); one output, MSE on scaled targets, Pearson."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from studio.core.csvio import Table
from studio.core.data import (
    check_column,
    find_pair_column,
    infer_columns,
    split_indices,
    take,
    text_rows,
    validation_count,
)
from studio.core.errors import DataError, ExportError

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

# Column names that say "a score" when the label column found by name holds no numbers.
SCORE_NAMES = (
    "score",
    "value",
    "rating",
    "similarity",
    "relatedness",
    "target",
    "grade",
    "price",
    "toxicity",
    "stars",
    "y",
)
# Detection reads this many cells of a column: enough to count its values, quick on the Data page.
DETECT_CELLS = 20_000
# Share of a column's cells that must be numbers for it to look like targets; the rest are named at load.
NUMERIC_SHARE = 0.95
# The scale's standard deviation is at least this, so that targets that barely vary do not divide by ~0.
MIN_STD = 1e-6
# Points of the predicted-vs-true scatter kept in the report (and metrics.json).
SCATTER_POINTS = 2000
# A number as many spreadsheets write it in Europe ("3,8"), in files whose delimiter is not the comma.
_DECIMAL_COMMA = re.compile(r"[+-]?\d+,\d+")


@dataclass(frozen=True)
class NumberColumn:
    """A column's cells read as numbers: the numbers, and (index, cell) for those that are not."""

    values: list[float]
    bad: list[tuple[int, str]]

    @property
    def cells(self) -> int:
        return len(self.values) + len(self.bad)

    @property
    def distinct(self) -> int:
        return len(set(self.values))

    def looks_like_targets(self) -> bool:
        """Mostly numbers with many values: integers with few values are class ids (1-5 stars), not targets."""
        if not self.values or len(self.values) < NUMERIC_SHARE * self.cells:
            return False
        distinct = self.distinct
        fractional = any(not v.is_integer() for v in self.values)
        many = distinct >= (10 if fractional else 30)
        # A label repeats across rows; values that mostly do not cannot be classes.
        unlike_classes = distinct >= 3 and distinct > 0.5 * len(self.values)
        return many or unlike_classes


def uses_decimal_comma(table: Table, cells: list[str]) -> bool:
    """Whether the cells write decimals with a comma: a file not delimited by commas, with "3,8" and no "3.8"."""
    if table.delimiter == ",":
        return False
    if any("." in c for c in cells):
        return False
    return any(_DECIMAL_COMMA.fullmatch(c.strip()) for c in cells)


def parse_number(cell: str, decimal_comma: bool = False) -> float | None:
    """The finite number a cell holds, or None ("n/a", "high", "nan", "inf" are not targets)."""
    text = cell.strip()
    if decimal_comma and _DECIMAL_COMMA.fullmatch(text):
        text = text.replace(",", ".")
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def read_numbers(cells: list[str], decimal_comma: bool) -> NumberColumn:
    """The non-blank cells as numbers, with those that are not."""
    values: list[float] = []
    bad: list[tuple[int, str]] = []
    for i, cell in enumerate(cells):
        if not cell.strip():
            continue
        value = parse_number(cell, decimal_comma)
        if value is None:
            bad.append((i, cell.strip()))
        else:
            values.append(value)
    return NumberColumn(values, bad)


def column_numbers(table: Table, column: str, limit: int | None = DETECT_CELLS) -> NumberColumn:
    cells = table.column(column)
    if limit is not None:
        cells = cells[:limit]
    return read_numbers(cells, uses_decimal_comma(table, cells))


def _lines_phrase(lines: list[int], shown: int = 8) -> str:
    if len(lines) == 1:
        return f"line {lines[0]}"
    listed = ", ".join(str(n) for n in lines[:shown])
    return f"lines {listed}" + (f" and {len(lines) - shown} more" if len(lines) > shown else "")


def targets_of(name: str, column: str, labels: list[str], lines: list[int], decimal_comma: bool) -> list[float]:
    """The label cells as floats; DataError naming the cells that are not numbers, with their line numbers."""
    numbers = read_numbers(labels, decimal_comma)
    if not numbers.bad:
        return numbers.values
    distinct: list[str] = []
    for _, cell in numbers.bad:
        if cell not in distinct:
            distinct.append(cell)
    shown = ", ".join(repr(c) for c in distinct[:5]) + (", ..." if len(distinct) > 5 else "")
    if len(numbers.bad) > 0.5 * numbers.cells:
        raise DataError(
            f"The column {column!r} of {name} does not hold numbers (it has {shown}); regression predicts a "
            "number: choose the column of numbers, or a classification task for these labels."
        )
    bad_lines = [lines[i] for i, _ in numbers.bad]
    raise DataError(
        f"The column {column!r} of {name} has values that are not numbers on {_lines_phrase(bad_lines)} "
        f"({shown}); fix or remove those rows."
    )


def quantile_bins(values: list[float], bins: int) -> list[int]:
    """Each value's bin among `bins` of equal size by rank, so that a split can cover the whole range."""
    if bins <= 1 or not values:
        return [0] * len(values)
    ranks = np.empty(len(values), dtype=np.int64)
    ranks[np.argsort(np.asarray(values), kind="stable")] = np.arange(len(values))
    return (ranks * bins // len(values)).tolist()


def _correlations(y_true: np.ndarray, y_pred: np.ndarray) -> tuple[float, float]:
    """(Pearson, Spearman); 0 where undefined (a constant prediction, fewer than two rows) instead of nan."""
    import warnings

    from scipy.stats import pearsonr, spearmanr

    if len(y_true) < 2 or np.ptp(y_true) == 0 or np.ptp(y_pred) == 0:
        return 0.0, 0.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pearson = float(pearsonr(y_true, y_pred)[0])
        spearman = float(spearmanr(y_true, y_pred)[0])
    return (pearson if math.isfinite(pearson) else 0.0), (spearman if math.isfinite(spearman) else 0.0)


def _scatter(y_true: np.ndarray, y_pred: np.ndarray, points: int = SCATTER_POINTS) -> dict[str, list[float]]:
    """At most `points` (true, predicted) pairs, evenly spread over the rows, rounded for a compact JSON file."""
    n = len(y_true)
    index = np.arange(n) if n <= points else np.unique(np.linspace(0, n - 1, points).round().astype(np.int64))
    return {
        "true": [float(f"{v:.6g}") for v in y_true[index].tolist()],
        "predicted": [float(f"{v:.6g}") for v in y_pred[index].tolist()],
    }


def regression_report(y_true, y_pred, scale: tuple[float, float]) -> dict[str, Any]:
    """Every figure of an evaluation from user-unit targets and predictions.

    `loss` is the mean squared error in scaled units (standard deviations of the training targets, what the
    model trains on, comparable with the training loss); `mse` and `mae` are in the user's units.
    """
    y_true = np.asarray(y_true, dtype=np.float64).reshape(-1)
    y_pred = np.asarray(y_pred, dtype=np.float64).reshape(-1)
    if len(y_true) == 0:
        return {
            "pearson": 0.0,
            "spearman": 0.0,
            "mse": 0.0,
            "mae": 0.0,
            "loss": 0.0,
            "scatter": _scatter(y_true, y_pred),
        }
    error = y_pred - y_true
    mse = float(np.mean(error**2))
    pearson, spearman = _correlations(y_true, y_pred)
    return {
        "pearson": pearson,
        "spearman": spearman,
        "mse": mse,
        "mae": float(np.mean(np.abs(error))),
        "loss": mse / scale[1] ** 2,
        "scatter": _scatter(y_true, y_pred),
    }


class RegressionMetrics(TaskMetrics):
    """Pearson, Spearman, MSE and MAE in the user's units, from the model's scaled outputs and targets."""

    def __init__(self, scale: tuple[float, float], target: dict[str, float] | None = None):
        super().__init__()
        self.scale = scale
        self.target = target or {}

    def __call__(self, eval_prediction) -> dict[str, float]:
        outputs, labels = eval_prediction.predictions, eval_prediction.label_ids
        if isinstance(outputs, tuple):
            outputs = outputs[0]
        mean, std = self.scale
        outputs = np.asarray(outputs, dtype=np.float64)
        predicted = outputs.reshape(len(outputs), -1)[:, 0] * std + mean
        true = np.asarray(labels, dtype=np.float64).reshape(-1) * std + mean
        report = regression_report(true, predicted, self.scale)
        if self.target:
            report["target"] = dict(self.target)
        self.last_report = report
        scalars = {k: report[k] for k in ("pearson", "spearman", "mse", "mae", "loss")}
        # Equal Pearsons go to the lower loss; the loss term moves the score by < 1e-6.
        scalars["selection_score"] = report["pearson"] - 1e-7 * min(report["loss"], 10.0)
        return scalars


def output_layer(model):
    """The head's last projection: the last nn.Linear with one output (BERT's `classifier`, RoBERTa's
    `classifier.out_proj`, DistilBERT's `classifier`); ExportError when the model has none."""
    import torch

    found = None
    for _, module in model.named_modules():
        if isinstance(module, torch.nn.Linear) and module.out_features == 1:
            found = module
    if found is None or found.bias is None:
        raise ExportError(
            "The model's head has no single output with a bias, so the target scale cannot be folded into it; "
            "this model cannot be exported for regression."
        )
    return found


def fold_target_scale(model, mean: float, std: float) -> None:
    """Make the model's raw output y*std + mean, where y is what it was trained to predict (scaled targets).

    The exported folder then predicts in the user's units with no code of ours: what
    pipeline("text-classification", function_to_apply="none") returns is the value itself.
    """
    import torch

    layer = output_layer(model)
    if getattr(layer, "_studio_folded", False):
        return  # folding twice would scale twice
    with torch.no_grad():
        layer.weight.mul_(std)
        layer.bias.mul_(std).add_(mean)
    layer._studio_folded = True


def format_value(value: float) -> str:
    """A value to show: four significant digits, without an exponent for everyday magnitudes (12346, 3.142)."""
    if value == 0 or not math.isfinite(value):
        return f"{value:g}"
    if abs(value) >= 1e6 or abs(value) < 1e-3:
        return f"{value:.4g}"
    text = f"{value:.{max(0, 3 - math.floor(math.log10(abs(value))))}f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def _nice_width(span: float, bins: int) -> float:
    """The smallest of 1, 2, 2.5, 5 x 10^k that covers `span` in at most `bins` bars."""
    raw = span / bins
    power = 10.0 ** math.floor(math.log10(raw))
    for step in (1.0, 2.0, 2.5, 5.0, 10.0):
        if step * power >= raw * (1 - 1e-9):
            return step * power
    return 10.0 * power


def _decimals(width: float) -> int:
    for decimals in range(0, 8):
        scaled = width * 10**decimals
        if abs(scaled - round(scaled)) < 1e-6 * max(1.0, scaled):
            return decimals
    return 8


def histogram(values: list[float], bins: int = 12) -> list[tuple[str, int]]:
    """Bars of equal, round width named by their range ("0.0–0.5"); the last bar includes its upper end."""
    if not values:
        return []
    low, high = min(values), max(values)
    if low == high:
        return [(f"{low:g}", len(values))]
    width = _nice_width(high - low, bins)
    start = math.floor(low / width + 1e-9) * width
    count = max(1, math.ceil((high - start) / width - 1e-9))
    counts = [0] * count
    for v in values:
        counts[min(count - 1, max(0, int((v - start) / width + 1e-9)))] += 1
    decimals = max(_decimals(width), _decimals(start) if start else 0)
    fmt = f"{{:.{decimals}f}}"
    return [(f"{fmt.format(start + i * width)}–{fmt.format(start + (i + 1) * width)}", c) for i, c in enumerate(counts)]


class RegressionTask(Task):
    """A number per text: a label column of numbers with many values (scores, ratings, similarity)."""

    name: ClassVar[str] = "regression"
    title: ClassVar[str] = "Regression"
    main_metric: ClassVar[str] = "pearson"
    main_metric_title: ClassVar[str] = "Pearson"
    shown_scalars: ClassVar[tuple[str, ...]] = ("pearson", "spearman", "mae")
    pipeline_kwargs: ClassVar[dict[str, Any]] = {"function_to_apply": "none"}
    problem_type: ClassVar[str | None] = "regression"
    # Measured on STS-B with the built-in model (benchmarks/regression_defaults.py).
    default_learning_rate: ClassVar[float] = 2e-4
    # After multi-label (a label cell of names is never numeric), before pairs: STS-B has a second text
    # and a numeric label, and is regression.
    detect_priority: ClassVar[int] = 30

    # ---- data -------------------------------------------------------------------------------------------
    def loss(self, examples: Examples, options: LossOptions | None = None):
        """The model's own mean squared error: there are no classes to weigh or smooth (TrainConfig refuses them)."""
        return None

    def detect(
        self, table: Table, text: str | None = None, label: str | None = None, pair: str | None = None
    ) -> Detection | None:
        columns = self.columns(table, text, label, pair)
        numbers = column_numbers(table, columns.label)
        if not numbers.looks_like_targets():
            return None
        low, high = min(numbers.values), max(numbers.values)
        reason = (
            f"The column {columns.label!r} holds numbers ({numbers.distinct:,} distinct, from {low:g} to {high:g}): "
            "a value to predict."
        )
        if columns.pair:
            reason += f" The column {columns.pair!r} holds a second text beside {columns.text!r}."
        return Detection(self.name, columns, reason)

    def columns(self, table: Table, text: str | None, label: str | None, pair: str | None) -> Columns:
        check_column(table, pair, "second text")
        exclude = (pair,) if pair else ()
        found = infer_columns(table, text, label, exclude=exclude)
        if label is None and not column_numbers(table, found.label).looks_like_targets():
            # The label column found by name holds classes; a "score" column beside it may hold the numbers.
            scored = self._score_column(table, exclude=(found.text, found.label, *exclude))
            if scored is not None:
                found = infer_columns(table, text, scored, exclude=exclude)
        if pair is None:
            pair = find_pair_column(table, found.text, found.label)
            if pair is not None:
                found = infer_columns(table, text, found.label, exclude=(pair,))
        if pair in (found.text, found.label):
            raise DataError(f"The column {pair!r} cannot be both the second text and the text or label.")
        return Columns(found.text, found.label, pair or None)

    @staticmethod
    def _score_column(table: Table, exclude: tuple[str, ...]) -> str | None:
        lowered = {c.lower(): c for c in table.columns if c not in exclude}
        for name in SCORE_NAMES:
            column = lowered.get(name)
            if column is not None and column_numbers(table, column).looks_like_targets():
                return column
        return None

    def load(self, table: Table, validation: Table | None, columns: Columns, split: SplitSettings) -> Examples:
        name = table.path.name
        rows = text_rows(table, columns)
        targets = targets_of(name, columns.label, rows.labels, rows.lines, uses_decimal_comma(table, rows.labels))
        warnings = list(rows.warnings)
        _check_varies(name, columns.label, targets)
        if validation is not None:
            vrows = text_rows(validation, columns)
            warnings += vrows.warnings
            vname = validation.path.name
            val_l = targets_of(
                vname, columns.label, vrows.labels, vrows.lines, uses_decimal_comma(validation, vrows.labels)
            )
            if len(rows.texts) < 2:
                raise DataError(f"{name} has only {len(rows.texts)} usable row; add more rows to train on.")
            train_t, train_p, train_l = rows.texts, rows.pairs, targets
            val_t, val_p = vrows.texts, vrows.pairs
        else:
            n_validation, warning = validation_count(len(rows.texts), name, split)
            if warning:
                warnings.append(warning)
            # Stratified by value (ten bins by rank), so that the held-out rows span the whole range.
            bins = quantile_bins(targets, min(10, n_validation, len(targets) - n_validation))
            tr, va = split_indices(len(rows.texts), n_validation, split.seed, stratify=bins)
            train_t, train_p, train_l = [rows.texts[i] for i in tr], take(rows.pairs, tr), [targets[i] for i in tr]
            val_t, val_p, val_l = [rows.texts[i] for i in va], take(rows.pairs, va), [targets[i] for i in va]
            _check_varies(name, columns.label, train_l)
        train = np.asarray(train_l, dtype=np.float64)
        scale = (float(train.mean()), max(float(train.std()), MIN_STD))
        return Examples(
            task=self.name,
            train_texts=train_t,
            train_labels=list(train_l),
            validation_texts=val_t,
            validation_labels=list(val_l),
            labels=(columns.label,),
            columns=columns,
            split_from_train=validation is None,
            warnings=tuple(warnings),
            train_pairs=train_p,
            validation_pairs=val_p,
            target_scale=scale,
        )

    def distribution(self, table: Table, columns: Columns) -> Distribution:
        numbers = column_numbers(table, columns.label, limit=None)
        if not numbers.values:
            return Distribution("histogram", "Values", [], f"The column {columns.label!r} holds no numbers.")
        values = numbers.values
        note = f"Mean {float(np.mean(values)):.3g}, from {min(values):g} to {max(values):g}, over {len(values):,} rows"
        if numbers.bad:
            note += f"; {len(numbers.bad):,} cells are not numbers"
        return Distribution("histogram", "Values", histogram(values), note + ".")

    # ---- model ------------------------------------------------------------------------------------------
    def model_config(self, examples: Examples) -> dict[str, Any]:
        name = examples.labels[0] if examples.labels else examples.columns.label
        return {"num_labels": 1, "id2label": {0: name}, "label2id": {name: 0}, "problem_type": self.problem_type}

    def label_arrow_type(self) -> Any:
        import pyarrow as pa

        return pa.float32()

    def encode_labels(self, labels: list, examples: Examples) -> list:
        # The model learns targets of mean 0 and standard deviation 1: one learning rate suits every unit
        # (0-5 similarity, prices in thousands); metrics and the export scale back.
        mean, std = examples.target_scale or (0.0, 1.0)
        return [(float(y) - mean) / std for y in labels]

    # ---- metrics ----------------------------------------------------------------------------------------
    def metrics(self, examples: Examples) -> TaskMetrics:
        scale = examples.target_scale or (0.0, 1.0)
        train = examples.train_labels
        target = {"mean": scale[0], "std": scale[1]}
        if train:
            target |= {"min": float(min(train)), "max": float(max(train))}
        return RegressionMetrics(scale, target)

    def summary(self, report: dict) -> dict[str, Any]:
        out = {k: report[k] for k in ("pearson", "spearman", "mse", "mae", "loss")}
        out["scatter"] = report.get("scatter", {"true": [], "predicted": []})
        if "target" in report:
            out["target"] = report["target"]
        return out

    # ---- export and prediction --------------------------------------------------------------------------
    def prepare_export(self, model, examples: Examples, report: dict) -> None:
        super().prepare_export(model, examples, report)
        mean, std = examples.target_scale or (0.0, 1.0)
        fold_target_scale(model, mean, std)
        model.config.problem_type = "regression"
        # For information only: the head already gives values in the user's units.
        model.config.studio_target_scale = [mean, std]

    def decode(self, logits, config) -> list[Prediction]:
        outputs = np.asarray(logits, dtype=np.float64)
        values = outputs.reshape(len(outputs), -1)[:, 0].tolist()
        return [Prediction(label=format_value(v), score=v, value=v) for v in values]

    def csv_header(self, config) -> list[str]:
        return ["predicted_value"]

    def csv_cells(self, prediction: Prediction, config) -> list[str]:
        value = prediction.value if prediction.value is not None else prediction.score
        return [f"{value:.6g}"]

    def card_lines(self, metrics: dict) -> list[str]:
        target = metrics.get("target") or {}
        labels = metrics.get("labels") or []
        column = f"`{labels[0]}`" if labels else "the target"
        lines = [""]
        if {"min", "max", "mean", "std"} <= target.keys():
            lines.append(
                f"Predicts {column}: the training values run from {target['min']:g} to {target['max']:g} "
                f"(mean {target['mean']:.4g}, standard deviation {target['std']:.4g})."
            )
        lines.append(
            'The raw output is the value in the training data\'s units: `pipeline("text-classification", '
            'model=folder, function_to_apply="none")` returns it as the score. Pearson and Spearman are '
            "correlations with the true values, MSE and MAE are in those units, and the loss is the mean squared "
            "error in standard deviations of the training values."
        )
        return lines


def _check_varies(name: str, column: str, targets: list[float]) -> None:
    if targets and min(targets) == max(targets):
        raise DataError(
            f"Every training row of {name} has the same value in {column!r} ({targets[0]:g}), so there is "
            "nothing to learn; regression needs values that vary."
        )
