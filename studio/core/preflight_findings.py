"""What the pre-flight check reports: a Finding per kind of problem, the kinds' titles, and the sentence helpers."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from studio.core.preflight_labels import RowLabels

EXCERPT = 90

# The kinds, in the order they are shown (what most distorts training or its score first).
KINDS = (
    "leakage",
    "duplicates",
    "conflicts",
    "validation_duplicates",
    "validation_conflicts",
    "rare_labels",
    "imbalance",
    "too_long",
    "empty",
    "no_label",
    "one_word",
)
TITLES = {
    "leakage": "Validation texts also in training",
    "duplicates": "Duplicate texts",
    "conflicts": "Same text, different labels",
    "validation_duplicates": "Duplicates in the validation file",
    "validation_conflicts": "Conflicting labels in the validation file",
    "rare_labels": "Rare labels",
    "imbalance": "Class imbalance",
    "too_long": "Texts longer than the max length",
    "empty": "Empty texts",
    "no_label": "Rows without a label",
    "one_word": "One-word texts",
}


@dataclass(frozen=True)
class Finding:
    """One piece of advice: what was found and what to do, and the rows it points at.

    `rows` are rows of `file` ("train" or "validation"). `groups` hold the rows that belong together
    (duplicates, conflicts) or, for leakage, (training row, validation row) pairs; `notes` has one line per group
    (an excerpt of the text, the labels). `severity` is "warning" (likely to hurt the model or its score) or
    "info".
    """

    kind: str
    message: str
    severity: str = "warning"
    rows: tuple[int, ...] = ()
    groups: tuple[tuple[int, ...], ...] = ()
    notes: tuple[str, ...] = ()
    file: str = "train"

    @property
    def title(self) -> str:
        return TITLES.get(self.kind, self.kind.replace("_", " ").capitalize())

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "severity": self.severity,
            "message": self.message,
            "file": self.file,
            "rows": list(self.rows),
            "groups": [list(g) for g in self.groups],
        }


@dataclass(frozen=True)
class Side:
    """One file's cells as the check reads them: its name, texts, second texts and labels."""

    name: str
    texts: list[str]
    pairs: list[str] | None
    labels: RowLabels

    def text_of(self, row: int) -> str:
        text = self.texts[row].strip()
        return f"{text} / {self.pairs[row].strip()}" if self.pairs is not None else text


def excerpt(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= EXCERPT else text[: EXCERPT - 1] + "…"


def numbers(rows: Sequence[int], shown: int = 6) -> str:
    listed = ", ".join(f"{r:,}" for r in rows[:shown])
    return listed + (f" and {len(rows) - shown:,} more" if len(rows) > shown else "")


def verb(n: int, one: str, many: str) -> str:
    return one if n == 1 else many


def plural(n: int, one: str, many: str | None = None) -> str:
    return f"{n:,} {one if n == 1 else (many or one + 's')}"
