"""Duplicates, train/validation leakage and conflicting labels, from the links between the rows of both files."""

from __future__ import annotations

from typing import Any

import numpy as np

from studio.core.near_duplicates import Texts, find_links
from studio.core.preflight_findings import Finding, Side, excerpt, numbers, plural, verb

PAIRS_PER_GROUP = 1000  # leakage pairs of one group of copies beyond this pair each row with one of the other side


class CopyChecker:
    """Duplicates, leakage and conflicts from the links between all rows of both files (train rows first)."""

    def __init__(self, sides: list[Side], texts: Texts, n_train: int):
        self.sides, self.n_train = sides, n_train
        self.count = len(texts)
        # Pairs are duplicates only with the same words in both texts (see find_links).
        links = find_links(texts, near=sides[0].pairs is None)
        self.values: dict[str, Any] = {}
        # Each row's cells as they are (both files, train rows first): a group is "exact" when they are equal.
        self.cells: list = []
        for side in sides:
            self.cells += side.texts if side.pairs is None else list(zip(side.texts, side.pairs, strict=True))
        self.same, self.group = self._join_wordless(texts.lengths, links.same_group, links.group)

    def _join_wordless(self, lengths: np.ndarray, same: np.ndarray, group: np.ndarray) -> tuple[np.ndarray, ...]:
        """Join the texts that have no word once punctuation is removed (":-) :-)", "...") by their cells, case
        and spacing apart: find_links compares words, so it leaves each of them alone. Blank cells are the `empty`
        finding's, not one big group of copies."""
        wordless = np.flatnonzero(lengths == 0)
        if len(wordless) < 2:
            return same, group
        same, group = same.copy(), group.copy()
        first: dict[Any, int] = {}
        for i in wordless.tolist():
            cell = self.cells[i]
            key = (
                tuple(" ".join(c.casefold().split()) for c in cell)
                if isinstance(cell, tuple)
                else (" ".join(cell.casefold().split()),)
            )
            if not any(key):
                continue
            # In row order, so the group keeps the number of its first row (as components() numbers groups);
            # these rows have no other links, so no group they were in is split.
            same[i] = group[i] = first.setdefault(key, i)
        return same, group

    def _side_row(self, index: int) -> tuple[Side, int]:
        if index < self.n_train:
            return self.sides[0], index
        return self.sides[1], index - self.n_train

    def _members(self, labels: np.ndarray) -> list[np.ndarray]:
        """Indices of each group of 2 or more, in row order, groups ordered by their first row."""
        sizes = np.bincount(labels)
        shared = np.flatnonzero(sizes[labels] > 1)
        if not len(shared):
            return []
        order = shared[np.argsort(labels[shared], kind="stable")]
        cuts = np.flatnonzero(np.diff(labels[order])) + 1
        groups = np.split(order, cuts)
        groups.sort(key=lambda g: int(g[0]))
        return groups

    def copies(self) -> list[Finding]:
        """The duplicates, leakage and conflicts findings; their figures go to `values` under the JSON's keys."""
        findings: list[Finding] = []
        train_groups: list[tuple[int, ...]] = []
        kinds: list[str] = []
        train_notes: list[str] = []
        val_groups: list[tuple[int, ...]] = []
        val_notes: list[str] = []
        leakage: list[tuple[int, int]] = []
        leakage_notes: list[str] = []
        leaked_labels: list[tuple[int, int]] = []
        for members in self._members(self.group):
            train = [int(i) for i in members if i < self.n_train]
            val = [int(i) for i in members if i >= self.n_train]
            if len(train) > 1:
                train_groups.append(tuple(i + 1 for i in train))
                kind = self._kind(train)
                kinds.append(kind)
                train_notes.append(self._note(train, kind))
            if len(val) > 1:
                val_groups.append(tuple(i - self.n_train + 1 for i in val))
                val_notes.append(self._note(val, self._kind(val)))
            if train and val:
                for t, v in self._pairs(train, val):
                    leakage.append((t + 1, v - self.n_train + 1))
                    text = excerpt(self.sides[0].text_of(t))
                    leakage_notes.append(f"Training row {t + 1:,}, validation row {v - self.n_train + 1:,}: “{text}”")
                    if self._label(t) != self._label(v):
                        leaked_labels.append((t + 1, v - self.n_train + 1))
        self.values["duplicates"] = [list(g) for g in train_groups]
        self.values["duplicate_kinds"] = kinds
        self.values["leakage"] = [list(p) for p in leakage]
        self.values["leakage_conflicts"] = [list(p) for p in leaked_labels]
        self.values["validation_duplicates"] = [list(g) for g in val_groups]
        if train_groups:
            findings.append(self._duplicates_finding(train_groups, kinds, train_notes))
        if leakage:
            findings.append(self._leakage_finding(leakage, leakage_notes, leaked_labels))
        if val_groups:
            rows = sum(len(g) for g in val_groups)
            findings.append(
                Finding(
                    "validation_duplicates",
                    f"{plural(len(val_groups), 'group')} of rows of {self.sides[1].name} "
                    f"{verb(len(val_groups), 'holds', 'hold')} the same or nearly the same text ({rows:,} rows); "
                    "keep one row of each, so that no text counts twice in the score.",
                    "info",
                    tuple(sorted(r for g in val_groups for r in g)),
                    tuple(val_groups),
                    tuple(val_notes),
                    file="validation",
                )
            )
        findings += self._conflicts()
        return findings

    def _pairs(self, train: list[int], val: list[int]) -> list[tuple[int, int]]:
        if len(train) * len(val) <= PAIRS_PER_GROUP:
            return [(t, v) for v in val for t in train]
        return [(train[0], v) for v in val] + [(t, val[0]) for t in train[1:]]

    def _kind(self, members: list[int]) -> str:
        cells = self.cells
        if len({cells[i] for i in members}) == 1:
            return "exact"
        if len({int(self.same[i]) for i in members}) == 1:
            return "same words"
        return "near"

    def _label(self, index: int) -> str | None:
        side, row = self._side_row(index)
        return side.labels.keys[row]

    def _note(self, members: list[int], kind: str) -> str:
        side, row = self._side_row(members[0])
        offset = members[0] - row
        rows = [i - offset + 1 for i in members]
        what = {"exact": "", "same words": " (case, spacing or punctuation apart)", "near": " (nearly the same)"}[kind]
        return f"Rows {numbers(rows, 8)}{what}: “{excerpt(side.text_of(row))}”"

    def _duplicates_finding(self, groups: list[tuple[int, ...]], kinds: list[str], notes: list[str]) -> Finding:
        rows = sum(len(g) for g in groups)
        apart = []
        if same := kinds.count("same words"):
            apart.append(f"{same:,} differ only in case, spacing or punctuation")
        if near := kinds.count("near"):
            apart.append(f"{near:,} by a word or so")
        nearly = f"; of the groups, {' and '.join(apart)}" if apart else ""
        split = (
            "the copies can land on both sides of the validation split and flatter the score"
            if len(self.sides) == 1
            else "each copy counts again in training"
        )
        return Finding(
            "duplicates",
            f"{plural(len(groups), 'group')} of rows {verb(len(groups), 'holds', 'hold')} the same text "
            f"({rows:,} rows{nearly}); keep one row of each group, since {split}.",
            "warning",
            tuple(sorted(r for g in groups for r in g)),
            tuple(groups),
            tuple(notes),
        )

    def _leakage_finding(self, pairs: list[tuple[int, int]], notes: list[str], relabelled: list) -> Finding:
        rows = len({v for _, v in pairs})
        other = f", {len(relabelled):,} of them with a different label" if relabelled else ""
        return Finding(
            "leakage",
            f"{plural(rows, 'row')} of the validation file {self.sides[1].name} {verb(rows, 'has', 'have')} the "
            f"same or nearly the same text as a training row ({plural(len(pairs), 'pair')}{other}); remove "
            f"{verb(rows, 'it', 'them')} from one of the files, or the validation score measures memory rather "
            "than learning.",
            "warning",
            tuple(sorted({t for t, _ in pairs})),
            tuple(pairs),
            tuple(notes),
        )

    def _conflicts(self) -> list[Finding]:
        findings = []
        for file, offset, side in (("train", 0, self.sides[0]), ("validation", self.n_train, self._val_side())):
            if side is None:
                continue
            n = len(side.texts)
            groups, notes, labels_out = [], [], []
            near = 0
            # The same text, or nearly (a word apart in ten or more): a copy with another label either way.
            for members in self._members(self.group[offset : offset + n]):
                keyed = [int(i) for i in members if side.labels.keys[int(i)] is not None]
                if len({side.labels.keys[i] for i in keyed}) < 2:
                    continue
                groups.append(tuple(i + 1 for i in keyed))
                shown = [side.labels.shown[i] for i in keyed]
                labels_out.append(shown)
                nearly = len({int(self.same[i + offset]) for i in keyed}) > 1
                near += nearly
                by = ", ".join(f"{i + 1:,} ({label})" for i, label in zip(keyed[:6], shown[:6], strict=False))
                more = f" and {len(keyed) - 6:,} more" if len(keyed) > 6 else ""
                what = " (nearly the same)" if nearly else ""
                notes.append(f"Rows {by}{more}{what}: “{excerpt(side.text_of(keyed[0]))}”")
            key = "conflicts" if file == "train" else "validation_conflicts"
            self.values[key] = [list(g) for g in groups]
            self.values[f"{key[:-1]}_labels" if file == "train" else "validation_conflict_labels"] = labels_out
            if not groups:
                continue
            rows = sum(len(g) for g in groups)
            where = "" if file == "train" else f" in {side.name}"
            how = f"; {near:,} of them a word or so apart" if near else ""
            findings.append(
                Finding(
                    key,
                    f"{plural(len(groups), 'text')}{where} {verb(len(groups), 'appears', 'appear')} with different "
                    f"labels ({rows:,} rows, compared ignoring case and punctuation{how}); correct the labels or drop "
                    "the rows, since a model cannot learn both.",
                    "warning" if file == "train" else "info",
                    tuple(sorted(r for g in groups for r in g)),
                    tuple(groups),
                    tuple(notes),
                    file=file,
                )
            )
        return findings

    def _val_side(self) -> Side | None:
        return self.sides[1] if len(self.sides) > 1 else None
