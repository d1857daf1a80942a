"""Pre-flight data check: duplicates, train/validation leakage, conflicting labels, empty, short and long texts,
rare and imbalanced labels. Findings are advice with the rows they point at; training starts regardless.

Rows are 1-based data rows as the Data page's preview numbers them (the header is not a row).
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from threading import Event
from typing import Any

import numpy as np

from studio.core.csvio import Table, read_table
from studio.core.near_duplicates import Texts
from studio.core.preflight_copies import CopyChecker
from studio.core.preflight_findings import KINDS, TITLES, Finding, Side
from studio.core.preflight_labels import row_labels
from studio.core.preflight_rows import label_findings, length_findings, row_findings
from studio.core.tasks.base import Columns
from studio.core.text_scan import Cancelled, TokenCounter, WordTable, load_token_counter

__all__ = ["KINDS", "TITLES", "Cancelled", "Finding", "PreflightReport", "check_data"]

log = logging.getLogger(__name__)

DEFAULT_MAX_LENGTH = 128


@dataclass(frozen=True)
class PreflightReport:
    """Every finding for a training file (and its validation file), with the figures the JSON names."""

    train: str
    validation: str | None
    task: str
    columns: Columns
    train_rows: int
    validation_rows: int
    findings: tuple[Finding, ...]
    values: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0

    def finding(self, kind: str) -> Finding | None:
        return next((f for f in self.findings if f.kind == kind), None)

    def to_json(self) -> dict[str, Any]:
        """The `studio check --json` object: the contract's keys (duplicates, leakage, conflicts...) and more."""
        out: dict[str, Any] = {
            "train": self.train,
            "validation": self.validation,
            "task": self.task,
            "columns": {"text": self.columns.text, "label": self.columns.label, "pair": self.columns.pair},
            "rows": {"train": self.train_rows, "validation": self.validation_rows},
            "seconds": round(self.seconds, 3),
        }
        out.update(self.values)
        out["findings"] = [f.to_dict() for f in self.findings]
        return out


def check_data(
    train: str | Path | Table,
    validation: str | Path | Table | None = None,
    *,
    task: str | None = None,
    text_column: str | None = None,
    label_column: str | None = None,
    pair_column: str | None = None,
    model: str | None = None,
    max_length: int = DEFAULT_MAX_LENGTH,
    use_tokenizer: bool = True,
    counter: TokenCounter | None = None,
    stop: Event | None = None,
    report: Callable[[int, int], None] | None = None,
) -> PreflightReport:
    """Check a training file (and a validation file) the way training would read them; DataError for bad input.

    The task and columns are those given, the rest detected as training does. Lengths are counted with the
    tokenizer of `model` (the built-in model when None; `counter` if given), or estimated from the words when it
    cannot be read or `use_tokenizer` is off. `stop` set from another thread ends the check with Cancelled;
    `report(done, total)` tells the progress in percent.
    """
    from studio.core.data import require_columns
    from studio.core.tasks import detect_task, get_task

    started = time.perf_counter()
    table = train if isinstance(train, Table) else read_table(train)
    if task is None:
        detection = detect_task(table, text_column, label_column, pair_column)
        chosen, columns = get_task(detection.task), detection.columns
    else:
        chosen = get_task(task)
        columns = chosen.columns(table, text_column, label_column, pair_column if chosen.takes_pairs else None)
    other = validation if isinstance(validation, Table) or validation is None else read_table(validation)
    other_columns = columns
    if other is not None:
        if getattr(other, "lines", None) and columns.text not in other.columns and len(other.columns) >= 2:
            other_columns = Columns(other.columns[0], other.columns[1])  # a CoNLL validation file
        else:
            require_columns(other, table.path.name, columns)
    note = None
    if counter is None and use_tokenizer:
        counter, note = load_token_counter(model)
    words = WordTable(counter)
    sides = [_side(table, columns, chosen.name, None)]
    if other is not None:
        sides.append(_side(other, other_columns, chosen.name, sides[0].labels.separator))
    total_rows = sum(len(s.texts) for s in sides)

    def progress(done: int, total: int, before: int, rows: int) -> None:
        # Reading the texts is most of the work: 0-80 %, the files one after the other.
        if report is not None:
            report(int(80 * (before + rows * done / max(1, total)) / max(1, total_rows)), 100)

    scanned = []
    before = 0
    for side in sides:
        told = functools.partial(progress, before=before, rows=len(side.texts))
        scanned.append(words.scan(side.texts, side.pairs, stop, told))
        before += len(side.texts)
    if stop is not None and stop.is_set():
        raise Cancelled
    texts = _joined([s.texts for s in scanned])
    checker = CopyChecker(sides, texts, len(sides[0].texts))
    findings = checker.copies()
    if report is not None:
        report(95, 100)
    first = scanned[0]
    findings += row_findings(sides[0], first.words, first.pair_words)
    length, values_length = length_findings(first.tokens, first.words, max_length, counter, note)
    findings += length
    labelled, values_labels = label_findings(sides[0], chosen.name)
    findings += labelled
    values = {**checker.values, **values_length, **values_labels}
    values["empty"] = list(_rows_of(findings, "empty"))
    values["one_word"] = list(_rows_of(findings, "one_word"))
    values["no_label"] = list(_rows_of(findings, "no_label"))
    order = {k: i for i, k in enumerate(KINDS)}
    findings.sort(key=lambda f: order.get(f.kind, len(order)))
    return PreflightReport(
        train=str(table.path),
        validation=str(other.path) if other is not None else None,
        task=chosen.name,
        columns=columns,
        train_rows=len(table.rows),
        validation_rows=len(other.rows) if other is not None else 0,
        findings=tuple(findings),
        values=values,
        seconds=time.perf_counter() - started,
    )


def _side(table: Table, columns: Columns, task: str, separator: str | None) -> Side:
    ti, li = table.columns.index(columns.text), table.columns.index(columns.label)
    pi = table.columns.index(columns.pair) if columns.pair and columns.pair in table.columns else None
    texts = [row[ti] for row in table.rows]
    pairs = [row[pi] for row in table.rows] if pi is not None else None
    labels = row_labels(task, [row[li] for row in table.rows], table, separator)
    return Side(table.path.name, texts, pairs, labels)


def _joined(parts: Sequence[Texts]) -> Texts:
    if len(parts) == 1:
        return parts[0]
    words = np.concatenate([p.words for p in parts])
    offsets = [parts[0].offsets]
    shift = parts[0].offsets[-1]
    for p in parts[1:]:
        offsets.append(p.offsets[1:] + shift)
        shift += p.offsets[-1]
    return Texts(words, np.concatenate(offsets))


def _rows_of(findings: list[Finding], kind: str) -> tuple[int, ...]:
    return next((f.rows for f in findings if f.kind == kind), ())
