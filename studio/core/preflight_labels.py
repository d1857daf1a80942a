"""Each row's label as the pre-flight check compares and counts it, read the way the row's task reads it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from studio.core.csvio import Table


@dataclass(frozen=True)
class RowLabels:
    """Per row: `keys` compare labels (None: no label), `shown` is the label as the user wrote it, `names` the
    label names the row counts for (None for a task without classes: regression). `separator` joins several
    labels in a multi-label cell."""

    keys: list[str | None]
    shown: list[str]
    names: list[tuple[str, ...]] | None
    separator: str | None = None


def _single(cells: list[str], table: Table, separator: str | None) -> RowLabels:
    keys = [c.strip() or None for c in cells]
    return RowLabels(keys, [c.strip() for c in cells], [(k,) if k else () for k in keys])


def _multi(cells: list[str], table: Table, separator: str | None) -> RowLabels:
    from studio.core.tasks.multi import label_separator, split_labels

    if separator is None:
        separator = label_separator([c for c in cells if c.strip()])
    parts = [split_labels(c, separator) for c in cells]
    # The order of a row's labels does not matter: "joy;love" and "love;joy" are the same labels.
    keys = [";".join(sorted(p)) or None for p in parts]
    return RowLabels(keys, [c.strip() for c in cells], [tuple(p) for p in parts], separator)


def _regression(cells: list[str], table: Table, separator: str | None) -> RowLabels:
    from studio.core.tasks.regression import parse_number, uses_decimal_comma

    comma = uses_decimal_comma(table, [c for c in cells[:5000] if c.strip()])
    keys: list[str | None] = []
    for cell in cells:
        value = parse_number(cell, comma)
        keys.append(repr(value) if value is not None else (cell.strip() or None))
    return RowLabels(keys, [c.strip() for c in cells], None)


def _token(cells: list[str], table: Table, separator: str | None) -> RowLabels:
    tags = [c.split() for c in cells]
    keys = [" ".join(t) or None for t in tags]
    # A sentence counts for each entity type it has (B-PER, I-PER, S-PER... are all PER).
    names = [tuple(sorted({t.split("-", 1)[1] for t in row if len(t) > 2 and t[1] == "-"})) for row in tags]
    return RowLabels(keys, [" ".join(t) for t in tags], names)


_READERS: dict[str, Callable[[list[str], Table, str | None], RowLabels]] = {
    "single": _single,
    "pair": _single,
    "multi": _multi,
    "regression": _regression,
    "token": _token,
}


def row_labels(task: str, cells: list[str], table: Table, separator: str | None = None) -> RowLabels:
    """The labels of `cells` (one label cell per row) for the task; a task not listed here reads one label a cell.

    `separator` is the training file's multi-label separator, so that its validation file is split alike.
    """
    return _READERS.get(task, _single)(cells, table, separator)
