"""From CSV files to labelled examples: column inference, the rows every task shares, the validation split.

The task (studio.core.tasks) decides what a label is; this module reads tables, finds columns and splits.
"""

from __future__ import annotations

import logging
import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from studio.core.csvio import Table, read_table
from studio.core.errors import DataError
from studio.core.tasks.base import Columns, Examples, SplitSettings

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


def infer_columns(
    table: Table, text: str | None = None, label: str | None = None, exclude: tuple[str, ...] = ()
) -> Columns:
    """Pick the text and label columns by name, else by shape: long varied text, few repeated labels.

    Columns in `exclude` (a chosen second-text column) are never picked.
    """
    check_column(table, text, "text")
    check_column(table, label, "label")
    lowered = {c.lower(): c for c in table.columns if c not in exclude}
    sample = table.rows[:2000]
    stats = {c: _column_stats(sample, i) for i, c in enumerate(table.columns)}
    if label is None:
        named = [lowered[n] for n in LABEL_NAMES if n in lowered and lowered[n] != text]
        if named:
            label = named[0]
        else:
            candidates = [c for c in table.columns if c != text and c not in exclude]
            # Few distinct values relative to the rows, and short: that is what a label looks like.
            label = min(candidates, key=lambda c: (stats[c][0], stats[c][1]))
    if text is None:
        named = [lowered[n] for n in TEXT_NAMES if n in lowered and lowered[n] != label]
        if named:
            text = named[0]
        else:
            candidates = [c for c in table.columns if c != label and c not in exclude]
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


PAIR_NAMES = (
    "text_pair",
    "text2",
    "sentence2",
    "hypothesis",
    "question2",
    "premise2",
    "answer",
    "response",
    "passage",
    "context",
    "second_text",
)


def find_pair_column(table: Table, text: str, label: str | None = None) -> str | None:
    """The column that holds the second text of a pair, found by name (text_pair, sentence2, hypothesis...)."""
    lowered = {c.lower(): c for c in table.columns if c not in (text, label)}
    for name in PAIR_NAMES:
        if name in lowered:
            return lowered[name]
    return None


def check_column(table: Table, name: str | None, kind: str) -> None:
    """DataError when a column chosen by name is not in the table."""
    # An empty name is "none": a second-text column turned off (--pair-column "").
    if name and name not in table.columns:
        raise DataError(
            f"{table.path.name} has no column named {name!r}; its columns are "
            f"{', '.join(repr(c) for c in table.columns)}. Choose the {kind} column from those."
        )


@dataclass(frozen=True)
class Rows:
    """A table's usable rows: texts, second texts (when there is a pair column), raw label cells, their lines."""

    texts: list[str]
    pairs: list[str] | None
    labels: list[str]
    lines: list[int]
    warnings: tuple[str, ...]


def text_rows(table: Table, columns: Columns) -> Rows:
    """The rows with a text, a label and (with a pair column) a second text; the others counted in a warning.

    `lines` are 1-based line numbers as a spreadsheet shows them (the header is line 1), for error sentences.
    """
    name = table.path.name
    ti, li = table.columns.index(columns.text), table.columns.index(columns.label)
    pi = table.columns.index(columns.pair) if columns.pair else None
    texts: list[str] = []
    pairs: list[str] | None = [] if pi is not None else None
    labels: list[str] = []
    lines: list[int] = []
    blank = no_pair = 0
    for number, row in enumerate(table.rows, start=2):
        text, label = row[ti], row[li].strip()
        if not text.strip() or not label:
            blank += 1
            continue
        if pi is not None:
            second = row[pi]
            if not second.strip():
                no_pair += 1
                continue
            pairs.append(second)  # type: ignore[union-attr]
        texts.append(text)
        labels.append(label)
        lines.append(number)
    warnings = []
    if blank:
        warnings.append(f"{blank} of {len(table.rows)} rows of {name} have no text or no label and were left out.")
    if no_pair:
        warnings.append(
            f"{no_pair} of {len(table.rows)} rows of {name} have no second text in {columns.pair!r} and were left out."
        )
    if not texts:
        raise DataError(
            f"Every row of {name} has an empty {columns.text!r} or {columns.label!r}"
            f"{f' or {columns.pair!r}' if columns.pair else ''}; check that these are the right columns."
        )
    return Rows(texts, pairs, labels, lines, tuple(warnings))


def validation_count(rows: int, name: str, split: SplitSettings) -> tuple[int, str | None]:
    """How many rows to hold out for validation, and a warning when the cap cut the share."""
    if rows < MIN_ROWS_TO_SPLIT:
        raise DataError(
            f"{name} has only {rows} usable rows; at least {MIN_ROWS_TO_SPLIT} are needed to hold some back "
            "for validation (or give a validation file)."
        )
    wanted = max(1, math.ceil(split.share * rows))
    if wanted > split.max_rows:
        return split.max_rows, (
            f"Validation holds {split.max_rows:,} rows of {name}, not {split.share:.0%} "
            f"({wanted:,}): a larger held-out part would be evaluated at every evaluation for little gain. "
            "Give a validation file to validate on more rows."
        )
    return wanted, None


def split_indices(rows: int, n_validation: int, seed: int, stratify: list | None = None) -> tuple[list[int], list[int]]:
    """(train, validation) row indices; stratified by `stratify` when every class has two rows or more."""
    from sklearn.model_selection import train_test_split

    if stratify is not None:
        counts = Counter(stratify)
        if min(counts.values()) < 2 or n_validation < len(counts) or rows - n_validation < len(counts):
            stratify = None
    train, validation = train_test_split(
        list(range(rows)), test_size=n_validation, random_state=seed, stratify=stratify
    )
    return list(train), list(validation)


def take(values: list | None, indices: list[int]) -> list | None:
    return None if values is None else [values[i] for i in indices]


def take_rows(rows: Rows, indices: list[int]) -> Rows:
    """The rows at these indices (warnings stay with the whole)."""
    return Rows(
        [rows.texts[i] for i in indices],
        None if rows.pairs is None else [rows.pairs[i] for i in indices],
        [rows.labels[i] for i in indices],
        [rows.lines[i] for i in indices],
        (),
    )


def require_columns(validation: Table, train_name: str, columns: Columns) -> None:
    """DataError when the validation file lacks one of the training file's columns."""
    wanted = [c for c in (columns.text, columns.label, columns.pair) if c]
    missing = [c for c in wanted if c not in validation.columns]
    if missing:
        raise DataError(
            f"The validation file {validation.path.name} has no column {missing[0]!r} (its columns are "
            f"{', '.join(repr(c) for c in validation.columns)}); it needs the same columns as {train_name}."
        )


def load_examples(
    train_csv: str | Path,
    validation_csv: str | Path | None = None,
    text_column: str | None = None,
    label_column: str | None = None,
    validation_share: float = 0.1,
    seed: int = 42,
    max_validation_rows: int = MAX_VALIDATION_ROWS,
    task: str | None = None,
    pair_column: str | None = None,
) -> Examples:
    """Read the training (and validation) file and return checked, labelled examples for the task.

    Without `task`, the task is detected from the training file (see studio.core.tasks.detect_task). Without a
    validation file, `validation_share` of the rows are held out, at most `max_validation_rows`.
    """
    from studio.core.tasks import detect_task, get_task

    table = read_table(train_csv)
    if task is None:
        detection = detect_task(table, text_column, label_column, pair_column)
        log.info("Task %s: %s", detection.task, detection.reason)
        task = detection.task
    chosen = get_task(task)
    columns = chosen.columns(table, text_column, label_column, pair_column)
    validation = read_table(validation_csv) if validation_csv else None
    if validation is not None:
        require_columns(validation, table.path.name, columns)
    split = SplitSettings(share=validation_share, seed=seed, max_rows=max_validation_rows)
    return chosen.load(table, validation, columns, split)
