"""A corrected copy of a CSV: rows relabelled and dropped, written beside the original under a new name."""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass
from pathlib import Path

from studio.core.errors import DataError, StudioError


@dataclass(frozen=True)
class CorrectedCopy:
    """Where the corrected copy went and what changed in it."""

    path: Path
    relabelled: int
    dropped: int
    rows: int


def corrected_name(source: Path) -> Path:
    """A new file beside the source: name-corrected.csv, else name-corrected-2.csv, ... (never an existing file)."""
    base = f"{source.stem}-corrected"
    path, n = source.with_name(f"{base}{source.suffix or '.csv'}"), 1
    while path.exists():
        n += 1
        path = source.with_name(f"{base}-{n}{source.suffix or '.csv'}")
    return path


def is_corrected_copy(path: str | Path, source: str | Path) -> bool:
    """Whether path is a name corrected_name(source) gives: name-corrected.csv or name-corrected-N.csv beside it."""
    path, source = Path(path).expanduser().absolute(), Path(source).expanduser().absolute()
    base, suffix = f"{source.stem}-corrected", source.suffix or ".csv"
    if path.parent != source.parent or path.suffix != suffix:
        return False
    return path.stem == base or (path.stem.startswith(f"{base}-") and path.stem[len(base) + 1 :].isdigit())


def save_corrected_copy(
    source: str | Path,
    label_column: str,
    relabel: dict[int, str] | None = None,
    drop: set[int] | list[int] | None = None,
    dest: str | Path | None = None,
) -> CorrectedCopy:
    """Write a copy of the CSV with rows relabelled ({data row: new label}) and rows dropped, atomically, beside
    the original under a new name (or at `dest`); the original is never overwritten. Rows are 1-based data rows,
    as the candidates number them."""
    from studio.core.csvio import read_table

    relabel = dict(relabel or {})
    dropped = set(drop or ())
    table = read_table(source)
    name = table.path.name
    if label_column not in table.columns:
        raise DataError(
            f"{name} has no column {label_column!r}; its columns are {', '.join(repr(c) for c in table.columns)}."
        )
    out_of_range = sorted(r for r in set(relabel) | dropped if not 1 <= r <= len(table.rows))
    if out_of_range:
        raise DataError(
            f"{name} has rows 1 to {len(table.rows)}, not {', '.join(str(r) for r in out_of_range[:5])}; "
            "the file may have changed since the run: look for label errors again."
        )
    empty = sorted(r for r, v in relabel.items() if not str(v).strip())
    if empty:
        raise DataError(f"Row {empty[0]} would get an empty label; choose a label, or drop the row instead.")
    both = sorted(set(relabel) & dropped)
    if both:
        raise DataError(f"Row {both[0]} is both relabelled and dropped; choose one.")
    target = Path(dest).expanduser() if dest else corrected_name(table.path)
    if target.resolve() == table.path.resolve():
        raise DataError(f"The corrected copy would overwrite {name}; choose another name.")
    index = table.columns.index(label_column)
    tmp = target.with_name(f".{target.name}.partial")
    written = 0
    try:
        with open(tmp, "w", encoding="utf-8", newline="") as handle:
            writer = csv.writer(handle, delimiter=table.delimiter)
            writer.writerow(table.columns)
            for number, row in enumerate(table.rows, start=1):
                if number in dropped:
                    continue
                if number in relabel:
                    row = (*row[:index], str(relabel[number]).strip(), *row[index + 1 :])
                writer.writerow(row)
                written += 1
        os.replace(tmp, target)
    except OSError as exc:
        raise StudioError(f"Could not write the corrected copy {target}: {exc.strerror or exc}.") from exc
    finally:
        tmp.unlink(missing_ok=True)
    return CorrectedCopy(target, len(relabel), len(dropped), written)
