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
    """Accuracy, macro precision/recall/F1, per class and the confusion matrix, from scikit-learn."""

    def __init__(self, labels: tuple[str, ...]):
        super().__init__()
        self.labels = labels

    def __call__(self, eval_prediction) -> dict[str, float]:
        from studio.core.metrics import classification_report, cross_entropy

        logits, y_true = eval_prediction.predictions, eval_prediction.label_ids
        if isinstance(logits, tuple):
            logits = logits[0]
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

    def distribution(self, table: Table, columns: Columns) -> Distribution:
        bars = label_distribution(table, columns.label)
        return Distribution("counts", "Rows per label", bars)

    def metrics(self, examples: Examples) -> TaskMetrics:
        return SingleLabelMetrics(examples.labels)

    def summary(self, report: dict) -> dict:
        return {
            "f1": report["f1"],
            "accuracy": report["accuracy"],
            "precision": report["precision"],
            "recall": report["recall"],
            "loss": report["loss"],
            "per_class": report.get("per_class", {}),
            "confusion": report.get("confusion", []),
        }

    def decode(self, logits, config) -> list[Prediction]:
        labels = _label_names(config)
        logits = np.asarray(logits, dtype=np.float64)
        shifted = np.exp(logits - logits.max(axis=-1, keepdims=True))
        probabilities = shifted / shifted.sum(axis=-1, keepdims=True)
        out = []
        for row in probabilities.tolist():
            best = max(range(len(row)), key=row.__getitem__)
            out.append(Prediction(labels[best], row[best], dict(zip(labels, row, strict=False))))
        return out

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
        if not per_class:
            return []
        lines = ["", "| label | precision | recall | F1 | support |", "|---|---|---|---|---|"]
        lines += [
            f"| {name} | {s['precision']:.4f} | {s['recall']:.4f} | {s['f1']:.4f} | {s['support']} |"
            for name, s in per_class.items()
        ]
        return lines


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
