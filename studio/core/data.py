"""From CSV files to labelled examples: column inference, label maps, the validation split."""

from __future__ import annotations

import logging
import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from studio.core.csvio import Table, read_table
from studio.core.errors import DataError

log = logging.getLogger(__name__)

TEXT_NAMES = (
    "text",
    "sentence",
    "sentence1",
    "content",
    "review",
    "document",
    "message",
    "body",
    "comment",
    "tweet",
    "question",
    "utterance",
    "query",
    "description",
    "abstract",
    "sms",
    "title",
    "input",
)
LABEL_NAMES = (
    "label",
    "labels",
    "class",
    "category",
    "target",
    "sentiment",
    "intent",
    "topic",
    "tag",
    "y",
    "output",
    "rating",
    "stars",
    "emotion",
    "class_label",
    "label_text",
)

MIN_ROWS_TO_SPLIT = 5
# An automatic split beyond this many rows adds little to the estimate but is evaluated at every evaluation:
# 10 % of 500,000 rows cost more time than the training steps between two evaluations.
MAX_VALIDATION_ROWS = 5_000


@dataclass(frozen=True)
class Columns:
    """Which column holds the text and which the label."""

    text: str
    label: str


@dataclass(frozen=True)
class Examples:
    """Texts and label ids ready to tokenize, with the label names in id order."""

    train_texts: list[str]
    train_labels: list[int]
    validation_texts: list[str]
    validation_labels: list[int]
    labels: tuple[str, ...]
    columns: Columns
    split_from_train: bool
    warnings: tuple[str, ...] = field(default=())

    @property
    def label2id(self) -> dict[str, int]:
        return {name: i for i, name in enumerate(self.labels)}


def infer_columns(table: Table, text: str | None = None, label: str | None = None) -> Columns:
    """Pick the text and label columns by name, else by shape: long varied text, few repeated labels."""
    for name, kind in ((text, "text"), (label, "label")):
        if name is not None and name not in table.columns:
            raise DataError(
                f"{table.path.name} has no column named {name!r}; its columns are "
                f"{', '.join(repr(c) for c in table.columns)}. Choose the {kind} column from those."
            )
    lowered = {c.lower(): c for c in table.columns}
    sample = table.rows[:2000]
    stats = {c: _column_stats(sample, i) for i, c in enumerate(table.columns)}
    if label is None:
        named = [lowered[n] for n in LABEL_NAMES if n in lowered and lowered[n] != text]
        if named:
            label = named[0]
        else:
            candidates = [c for c in table.columns if c != text]
            # Few distinct values relative to the rows, and short: that is what a label looks like.
            label = min(candidates, key=lambda c: (stats[c][0], stats[c][1]))
    if text is None:
        named = [lowered[n] for n in TEXT_NAMES if n in lowered and lowered[n] != label]
        if named:
            text = named[0]
        else:
            candidates = [c for c in table.columns if c != label]
            text = max(candidates, key=lambda c: (stats[c][1], stats[c][0]))
    if text == label:
        raise DataError(f"The text and the label cannot both be the column {text!r}; choose two different columns.")
    return Columns(text=text, label=label)


def _column_stats(rows: Sequence[tuple[str, ...]], index: int) -> tuple[float, float]:
    values = [row[index] for row in rows]
    if not values:
        return 0.0, 0.0
    distinct_share = len(set(values)) / len(values)
    mean_length = sum(len(v) for v in values) / len(values)
    return distinct_share, mean_length


def label_order(values) -> tuple[str, ...]:
    """A stable label order: numeric when every label is an integer, else alphabetical."""
    distinct = set(values)
    try:
        return tuple(sorted(distinct, key=lambda v: int(v)))
    except ValueError:
        return tuple(sorted(distinct, key=lambda v: (v.casefold(), v)))


def label_distribution(table: Table, label_column: str) -> list[tuple[str, int]]:
    """Each label with its row count, in label order (blank labels left out)."""
    counts = Counter(v.strip() for v in table.column(label_column) if v.strip())
    return [(name, counts[name]) for name in label_order(counts)]


def _pairs(table: Table, columns: Columns) -> tuple[list[str], list[str], int]:
    ti, li = table.columns.index(columns.text), table.columns.index(columns.label)
    texts, labels, dropped = [], [], 0
    for row in table.rows:
        text, label = row[ti], row[li].strip()
        if not text.strip() or not label:
            dropped += 1
            continue
        texts.append(text)
        labels.append(label)
    return texts, labels, dropped


def load_examples(
    train_csv: str | Path,
    validation_csv: str | Path | None = None,
    text_column: str | None = None,
    label_column: str | None = None,
    validation_share: float = 0.1,
    seed: int = 42,
    max_validation_rows: int = MAX_VALIDATION_ROWS,
) -> Examples:
    """Read the training (and validation) CSV and return checked, labelled examples.

    Without a validation file, `validation_share` of the rows are held out, at most `max_validation_rows`.
    """
    table = read_table(train_csv)
    columns = infer_columns(table, text_column, label_column)
    name = table.path.name
    warnings: list[str] = []
    texts, labels, dropped = _pairs(table, columns)
    if not texts:
        raise DataError(
            f"Every row of {name} has an empty {columns.text!r} or {columns.label!r}; "
            "check that these are the right text and label columns."
        )
    if dropped:
        warnings.append(f"{dropped} of {len(table.rows)} rows of {name} have no text or no label and were left out.")
    names = label_order(labels)
    _check_labels(name, columns.label, labels, names)

    if validation_csv:
        vtable = read_table(validation_csv)
        vname = vtable.path.name
        missing = [c for c in (columns.text, columns.label) if c not in vtable.columns]
        if missing:
            raise DataError(
                f"The validation file {vname} has no column {missing[0]!r} (its columns are "
                f"{', '.join(repr(c) for c in vtable.columns)}); it needs the same columns as {name}."
            )
        vtexts, vlabels, vdropped = _pairs(vtable, columns)
        if vdropped:
            warnings.append(
                f"{vdropped} of {len(vtable.rows)} rows of {vname} have no text or no label and were left out."
            )
        if not vtexts:
            raise DataError(f"The validation file {vname} has no row with both a text and a label.")
        unknown = sorted(set(vlabels) - set(names))
        if unknown:
            shown = ", ".join(repr(u) for u in unknown[:5]) + (" ..." if len(unknown) > 5 else "")
            raise DataError(
                f"The validation file {vname} has labels that the training data lacks ({shown}); "
                f"add training rows for them or remove them from {vname}."
            )
        if len(texts) < 2:
            raise DataError(f"{name} has only {len(texts)} usable row; add more rows to train on.")
        split = False
    else:
        wanted = max(1, math.ceil(validation_share * len(texts)))
        if wanted > max_validation_rows:
            warnings.append(
                f"Validation holds {max_validation_rows:,} rows of {name}, not {validation_share:.0%} "
                f"({wanted:,}): a larger held-out part would be evaluated at every evaluation for little gain. "
                "Give a validation file to validate on more rows."
            )
        n_validation = min(wanted, max_validation_rows)
        texts, labels, vtexts, vlabels = _split(name, texts, labels, n_validation, seed)
        split = True
    label2id = {n: i for i, n in enumerate(names)}
    return Examples(
        train_texts=texts,
        train_labels=[label2id[v] for v in labels],
        validation_texts=vtexts,
        validation_labels=[label2id[v] for v in vlabels],
        labels=names,
        columns=columns,
        split_from_train=split,
        warnings=tuple(warnings),
    )


def _check_labels(name: str, column: str, labels: list[str], names: tuple[str, ...]) -> None:
    if len(names) < 2:
        raise DataError(
            f"Every row of {name} has the same label ({names[0]!r}); a classifier needs at least two classes."
        )
    if len(labels) >= 4 and len(names) > 0.5 * len(labels):
        raise DataError(
            f"The column {column!r} of {name} has {len(names)} different values in {len(labels)} rows, so it is "
            "not a label column (a label repeats across rows); choose the column that holds the classes."
        )


def _split(name, texts, labels, n_validation, seed):
    from sklearn.model_selection import train_test_split

    if len(texts) < MIN_ROWS_TO_SPLIT:
        raise DataError(
            f"{name} has only {len(texts)} usable rows; at least {MIN_ROWS_TO_SPLIT} are needed to hold some back "
            "for validation (or give a validation file)."
        )
    counts = Counter(labels)
    stratify = labels if min(counts.values()) >= 2 and n_validation >= len(counts) else None
    train_t, val_t, train_l, val_l = train_test_split(
        texts, labels, test_size=n_validation, random_state=seed, stratify=stratify
    )
    return list(train_t), list(train_l), list(val_t), list(val_l)
