"""The findings about single rows and the label column: empty, one-word and unlabelled rows, texts over the max
length, rare labels and class imbalance."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from studio.core.preflight_findings import Finding, Side, numbers, plural, verb
from studio.core.rare_classes import IMBALANCE_RATIO, imbalance_ratio
from studio.core.text_scan import TokenCounter

RARE_ROWS = 5  # a label with fewer rows than this is too rare to learn
KEEP_SHARE = 0.95  # the max length proposed keeps this share of the texts whole
MANY_CUT = 0.05  # more texts cut than this makes the length finding a warning


def row_findings(side: Side, words: np.ndarray, pair_words: np.ndarray | None) -> list[Finding]:
    """Rows with no text (or no second text), no label, or a text of one word."""
    findings = []
    empty_mask = words == 0
    one_mask = words == 1
    if pair_words is not None:
        empty_mask |= pair_words == 0
        one_mask = (one_mask | (pair_words == 1)) & ~empty_mask
    empty = tuple(int(i) + 1 for i in np.flatnonzero(empty_mask))
    one = tuple(int(i) + 1 for i in np.flatnonzero(one_mask))
    unlabelled = tuple(i + 1 for i, key in enumerate(side.labels.keys) if key is None and not empty_mask[i])
    what = "no text or no second text" if pair_words is not None else "no text"
    if empty:
        findings.append(
            Finding(
                "empty",
                f"{plural(len(empty), 'row')} of {side.name} {verb(len(empty), 'has', 'have')} {what} "
                f"(rows {numbers(empty)}); training leaves them out, so fill them in or remove them.",
                "info",
                empty,
            )
        )
    if unlabelled:
        findings.append(
            Finding(
                "no_label",
                f"{plural(len(unlabelled), 'row')} of {side.name} {verb(len(unlabelled), 'has', 'have')} no "
                f"label (rows {numbers(unlabelled)}); training leaves them out, so label them or remove them.",
                "info",
                unlabelled,
            )
        )
    if one:
        texts = "a one-word text or second text" if pair_words is not None else "a one-word text"
        findings.append(
            Finding(
                "one_word",
                f"{plural(len(one), 'row')} of {side.name} {verb(len(one), 'has', 'have')} {texts} "
                f"(rows {numbers(one)}); check that they are real examples, as one word gives the model little to "
                "go on.",
                "info",
                one,
            )
        )
    return findings


def length_findings(
    tokens: np.ndarray, words: np.ndarray, max_length: int, counter: TokenCounter | None, note: str | None
) -> tuple[list[Finding], dict[str, Any]]:
    """Texts longer than the max length in tokens, with the share cut and the length that keeps KEEP_SHARE whole."""
    present = words > 0
    lengths = tokens[present]
    counted = f"counted with the tokenizer of {counter.name}" if counter is not None else "estimated from the words"
    if counter is None and note:
        counted += f" ({note})"
    keep = math.ceil(float(np.percentile(lengths, KEEP_SHARE * 100))) if len(lengths) else 0
    long_rows = tuple(int(i) + 1 for i in np.flatnonzero(present & (tokens > max_length)))
    share = len(long_rows) / max(1, int(present.sum()))
    values = {
        "too_long": list(long_rows),
        "lengths": {
            "max_length": max_length,
            "share_too_long": round(share, 6),
            "keep_95": keep,
            "longest": int(lengths.max()) if len(lengths) else 0,
            "median": float(np.median(lengths)) if len(lengths) else 0.0,
            "counted_with": counter.name if counter is not None else "estimate",
        },
    }
    if not long_rows:
        return [], values
    if keep > max_length:
        advice = f"a max length of {keep} would keep {KEEP_SHARE:.0%} of them whole (training takes longer)"
    else:
        advice = (
            f"{KEEP_SHARE:.0%} fit already (a max length of {keep} would do), so this matters only if the labels "
            "depend on the ends of the longest texts"
        )
    message = (
        f"{plural(len(long_rows), 'text')} ({share:.1%}) {verb(len(long_rows), 'is', 'are')} longer than the max "
        f"length of {max_length} tokens and will be cut ({counted}); {advice}."
    )
    return [Finding("too_long", message, "warning" if share > MANY_CUT else "info", long_rows)], values


def label_findings(side: Side, task: str) -> tuple[list[Finding], dict[str, Any]]:
    """Labels in fewer than RARE_ROWS rows, and the largest label over the smallest from IMBALANCE_RATIO on."""
    names = side.labels.names
    values: dict[str, Any] = {"imbalance": None, "rare_labels": {}, "label_counts": {}}
    if names is None:
        return [], values
    rows_of: dict[str, list[int]] = {}
    for i, row_names in enumerate(names):
        for name in row_names:
            rows_of.setdefault(name, []).append(i + 1)
    counts = {name: len(rows) for name, rows in rows_of.items()}
    values["label_counts"] = dict(sorted(counts.items(), key=lambda kv: -kv[1]))
    findings = []
    unit = "entity type" if task == "token" else "label"
    rare = sorted((n for n, c in counts.items() if c < RARE_ROWS), key=lambda n: (counts[n], n))
    values["rare_labels"] = {n: rows_of[n] for n in rare}
    if rare:
        shown = ", ".join(f"{n!r} ({counts[n]})" for n in rare[:6]) + (" ..." if len(rare) > 6 else "")
        findings.append(
            Finding(
                "rare_labels",
                f"{plural(len(rare), unit)} {verb(len(rare), 'occurs', 'occur')} in fewer than {RARE_ROWS} rows: "
                f"{shown}; add examples, merge each with a similar label or remove it, since a model cannot learn a "
                "label from so few.",
                "warning",
                tuple(sorted(r for n in rare for r in rows_of[n])),
                tuple(tuple(rows_of[n]) for n in rare),
                tuple(f"{n!r}: rows {numbers(rows_of[n], 8)}" for n in rare),
            )
        )
    ratio = imbalance_ratio(counts)
    if len(counts) >= 2:
        largest = max(counts, key=lambda n: (counts[n], n))
        smallest = min(counts, key=lambda n: (counts[n], n))
        values["imbalance"] = {
            "ratio": round(ratio, 3),
            "largest": largest,
            "smallest": smallest,
            "counts": values["label_counts"],
        }
        if ratio >= IMBALANCE_RATIO:
            advice = {
                "single": "use balanced class weights or oversampling (Train page; --class-weights balanced or "
                "--oversample) so that the rare classes count",
                "pair": "use balanced class weights or oversampling (Train page; --class-weights balanced or "
                "--oversample) so that the rare classes count",
                "multi": "rare labels' positives already weigh more in the loss; more rows of them help most",
                "token": "more sentences with the rare entity types help most; class weights make them count",
            }.get(task, "more rows of the rare labels help most")
            findings.append(
                Finding(
                    "imbalance",
                    f"{largest!r} has {ratio:.1f}x the rows of {smallest!r}; {advice}.",
                    "warning",
                    tuple(rows_of[smallest]),
                    (tuple(rows_of[smallest]),),
                    (f"{smallest!r}: rows {numbers(rows_of[smallest], 8)}",),
                )
            )
    return findings, values
