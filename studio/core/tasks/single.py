"""Single-label classification: each text (or pair of texts) gets one class; softmax, cross-entropy, macro F1."""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from studio.core.csvio import Table
from studio.core.data import (
    infer_columns,
    label_distribution,
    label_order,
    split_indices,
    take_rows,
    text_rows,
    validation_count,
)
from studio.core.errors import DataError
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


class SingleLabelMetrics(TaskMetrics):
    """Accuracy, macro precision/recall/F1, per class and the confusion matrix, from scikit-learn.

    With two classes the decision threshold on the positive class's probability is tuned on the validation
    predictions at every evaluation (studio.core.thresholds), and the figures are at that threshold, as the
    exported model decides; the report adds `threshold`, `f1_at_threshold` and `f1_at_0.5`.
    """

    def __init__(self, labels: tuple[str, ...], positive: int | None = None, tune: bool = True):
        super().__init__()
        self.labels = labels
        self.positive = positive if positive is not None else 1
        self.tune = tune

    def __call__(self, eval_prediction) -> dict[str, float]:
        from studio.core.metrics import classification_report, cross_entropy

        logits, y_true = eval_prediction.predictions, eval_prediction.label_ids
        if isinstance(logits, tuple):
            logits = logits[0]
        if len(self.labels) == 2:
            from studio.core.thresholds import binary_report

            report = binary_report(self.labels, logits, y_true, self.positive, self.tune)
        else:
            report = classification_report(self.labels, y_true, np.argmax(logits, axis=-1))
        report["loss"] = cross_entropy(logits, y_true)
        self.last_report = report
        scalars = {k: report[k] for k in ("accuracy", "precision", "recall", "f1", "loss")}
        # Equal F1s (common on small validation sets) go to the lower loss rather than to the earliest
        # checkpoint. The loss term moves the score by < 1e-6.
        scalars["selection_score"] = report["f1"] - 1e-7 * min(report["loss"], 10.0)
        return scalars


class SingleLabelTask(Task):
    """One class per text: a label column with few distinct values."""

    name: ClassVar[str] = "single"
    title: ClassVar[str] = "Single-label classification"
    main_metric_title: ClassVar[str] = "Macro F1"
    # Asked last: any table with a text and a repeated label column is single-label data.
    detect_priority: ClassVar[int] = 100

    def detect(
        self, table: Table, text: str | None = None, label: str | None = None, pair: str | None = None
    ) -> Detection | None:
        columns = self.columns(table, text, label, pair)
        distinct = len({v.strip() for v in table.column(columns.label)[:5000] if v.strip()})
        return Detection(
            self.name, columns, f"The column {columns.label!r} holds {distinct} different labels, one per row."
        )

    def columns(self, table: Table, text: str | None, label: str | None, pair: str | None) -> Columns:
        if pair and pair not in table.columns:
            infer_columns(table, pair)  # raises the sentence naming the columns
        exclude = (pair,) if pair else ()
        found = infer_columns(table, text, label, exclude=exclude)
        if pair in (found.text, found.label):
            raise DataError(f"The column {pair!r} cannot be both the second text and the text or label.")
        return Columns(found.text, found.label, pair or None)

    def load(self, table: Table, validation: Table | None, columns: Columns, split: SplitSettings) -> Examples:
        train, vrows, names, warnings = self._split(table, validation, columns, split)
        ids = {n: i for i, n in enumerate(names)}
        return Examples(
            task=self.name,
            train_texts=train.texts,
            train_labels=[ids[v] for v in train.labels],
            validation_texts=vrows.texts,
            validation_labels=[ids[v] for v in vrows.labels],
            labels=names,
            columns=columns,
            split_from_train=validation is None,
            warnings=tuple(warnings),
            train_pairs=train.pairs,
            validation_pairs=vrows.pairs,
        )

    def source_lines(
        self, table: Table, validation: Table | None, columns: Columns, split: SplitSettings
    ) -> tuple[list[int], list[int]]:
        """The file lines (the header is line 1) of load()'s training and validation rows, in their order; the
        validation rows held out of the training file have that file's lines."""
        train, vrows, _, _ = self._split(table, validation, columns, split)
        return train.lines, vrows.lines

    def _split(self, table: Table, validation: Table | None, columns: Columns, split: SplitSettings):
        """(training rows, validation rows, label names, warnings), checked."""
        name = table.path.name
        rows = text_rows(table, columns)
        names = label_order(rows.labels)
        _check_classes(name, columns.label, rows.labels, names)
        warnings = list(rows.warnings)
        if validation is not None:
            vrows = text_rows(validation, columns)
            warnings += vrows.warnings
            unknown = sorted(set(vrows.labels) - set(names))
            if unknown:
                shown = ", ".join(repr(u) for u in unknown[:5]) + (" ..." if len(unknown) > 5 else "")
                raise DataError(
                    f"The validation file {validation.path.name} has labels that the training data lacks ({shown}); "
                    f"add training rows for them or remove them from {validation.path.name}."
                )
            if len(rows.texts) < 2:
                raise DataError(f"{name} has only {len(rows.texts)} usable row; add more rows to train on.")
            train = rows
        else:
            n_validation, warning = validation_count(len(rows.texts), name, split)
            if warning:
                warnings.append(warning)
            tr, va = split_indices(len(rows.texts), n_validation, split.seed, stratify=rows.labels)
            train, vrows = take_rows(rows, tr), take_rows(rows, va)
        return train, vrows, names, warnings

    def distribution(self, table: Table, columns: Columns) -> Distribution:
        bars = label_distribution(table, columns.label)
        return Distribution("counts", "Rows per label", bars)

    def metrics(self, examples: Examples) -> TaskMetrics:
        positive = None
        if len(examples.labels) == 2:
            from studio.core.thresholds import positive_class

            positive = positive_class(examples.train_labels)
        return SingleLabelMetrics(examples.labels, positive)

    def summary(self, report: dict) -> dict:
        return {
            "f1": report["f1"],
            "accuracy": report["accuracy"],
            "precision": report["precision"],
            "recall": report["recall"],
            "loss": report["loss"],
            "per_class": report.get("per_class", {}),
            "confusion": report.get("confusion", []),
            **{key: report[key] for key in _THRESHOLD_KEYS if key in report},
        }

    def prepare_export(self, model, examples: Examples, report: dict) -> None:
        """A binary model keeps its tuned threshold in config.json, folded into the head's bias (see
        studio.core.thresholds): transformers.pipeline then picks the labels the studio picks."""
        if len(examples.labels) == 2:
            from studio.core.thresholds import prepare_binary_export

            prepare_binary_export(model, examples.labels, report)
        super().prepare_export(model, examples, report)

    def decode(self, logits, config) -> list[Prediction]:
        from studio.core.thresholds import decide, rule_of

        labels = _label_names(config)
        logits = np.asarray(logits, dtype=np.float64).reshape(-1, len(labels))
        # A binary model decides by its stored threshold; the probabilities are the model's own (the fold undone).
        probabilities, chosen = decide(logits, rule_of(config, labels))
        return [
            Prediction(labels[best], row[best], dict(zip(labels, row, strict=False)))
            for row, best in zip(probabilities.tolist(), chosen.tolist(), strict=True)
        ]

    def csv_header(self, config) -> list[str]:
        return ["predicted_label", "score", *[f"p({label})" for label in _label_names(config)]]

    def csv_cells(self, prediction: Prediction, config) -> list[str]:
        return [
            prediction.label,
            f"{prediction.score:.6f}",
            *[f"{prediction.probabilities[label]:.6f}" for label in _label_names(config)],
        ]

    def card_lines(self, metrics: dict) -> list[str]:
        per_class = metrics.get("per_class") or {}
        lines: list[str] = []
        if "threshold" in metrics and metrics.get("threshold_label"):
            from studio.core.thresholds import threshold_sentence

            tuned = metrics.get("threshold_tuned_on") == "validation"
            origin = "tuned on the validation data for macro F1" if tuned else str(metrics.get("threshold_tuned_on"))
            lines += ["", threshold_sentence(metrics["threshold_label"], float(metrics["threshold"]), origin)]
            if tuned:
                lines.append(
                    "The figures above are at this threshold (tuned on the same validation rows, so slightly "
                    f"optimistic): macro F1 {metrics.get('f1_at_threshold', 0.0):.4f}, against "
                    f"{metrics.get('f1_at_0.5', 0.0):.4f} at 0.5."
                )
        if not per_class:
            return lines
        lines += ["", "| label | precision | recall | F1 | support |", "|---|---|---|---|---|"]
        lines += [
            f"| {name} | {s['precision']:.4f} | {s['recall']:.4f} | {s['f1']:.4f} | {s['support']} |"
            for name, s in per_class.items()
        ]
        return lines


# The binary threshold's figures that metrics.json keeps (studio.core.thresholds.binary_report).
_THRESHOLD_KEYS = (
    "threshold",
    "threshold_label",
    "f1_at_threshold",
    "f1_at_0.5",
    "threshold_tuned_on",
    "threshold_curve",
)


def _label_names(config) -> list[str]:
    return [str(config.id2label.get(i, i)) for i in range(config.num_labels)]


def _check_classes(name: str, column: str, labels: list[str], names: tuple[str, ...]) -> None:
    if len(names) < 2:
        raise DataError(
            f"Every row of {name} has the same label ({names[0]!r}); a classifier needs at least two classes."
        )
    if len(labels) >= 4 and len(names) > 0.5 * len(labels):
        raise DataError(
            f"The column {column!r} of {name} has {len(names)} different values in {len(labels)} rows, so it is "
            "not a label column (a label repeats across rows); choose the column that holds the classes, "
            "or choose regression if it holds numbers to predict."
        )
