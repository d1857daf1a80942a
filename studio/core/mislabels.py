"""The rows most likely mislabelled after a run: confident learning (cleanlab) on out-of-sample probabilities."""

from __future__ import annotations

import csv
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from studio.core.errors import DataError, StudioError
from studio.core.events import StopToken
from studio.core.tasks.base import Columns

log = logging.getLogger(__name__)

VALIDATION = "validation"
TRAIN = "train"
DEFAULT_FOLDS = 5
# The tasks whose rows have classes (one each, or a set for multi-label); the others get a sentence.
SUPPORTED_TASKS = ("single", "pair", "multi")
# (share done 0..1, what is happening) for a progress bar and a status line.
ProgressFn = Callable[[float, str], None]


@dataclass(frozen=True)
class Candidate:
    """One row and how likely its label is wrong.

    `row` is the 1-based data row (the header not counted) of `file`: for a validation split held out of the
    training file, that is the training file. `score` is 1 minus cleanlab's label quality (higher: more likely
    mislabelled); `flagged` says whether confident learning counts the row as a label issue. For multi-label
    rows, `label` and `suggested` are label sets joined by the file's separator.
    """

    split: str
    row: int
    text: str
    label: str
    suggested: str
    score: float
    flagged: bool
    file: str
    pair: str | None = None


@dataclass(frozen=True)
class MislabelReport:
    """The candidates, most likely mislabelled first, and what the row numbers refer to."""

    candidates: list[Candidate]
    labels: tuple[str, ...]
    train_file: str
    validation_file: str | None
    split_from_train: bool
    label_column: str
    notes: tuple[str, ...] = field(default=())

    @property
    def flagged(self) -> list[Candidate]:
        return [c for c in self.candidates if c.flagged]


@dataclass(frozen=True)
class _Split:
    """One split's rows as the run read them: texts, second texts, labels (a class id each; for multi-label a
    list of ids), file data rows, the file."""

    name: str
    texts: list[str]
    pairs: list[str] | None
    labels: list[int]
    lines: list[int]
    file: str


def find_mislabels(
    run_dir: str | Path,
    thorough: bool = False,
    folds: int = DEFAULT_FOLDS,
    fold_epochs: float | None = None,
    progress: ProgressFn | None = None,
    stop: StopToken | None = None,
    device: str = "auto",
) -> MislabelReport:
    """Rank a finished run's validation rows (and with `thorough` its training rows, by k-fold) by how likely
    their label is wrong.

    The validation rows are scored from the run's model, which never trained on them. The training rows need
    predictions from models that did not see them either: `thorough` trains `folds` models, each on the other
    folds with the run's settings (`fold_epochs` epochs, default the run's), and predicts the fold it left out.
    """
    from studio.core import runs

    summary = runs.load_run(run_dir)
    config = summary.config
    if config is None:
        raise StudioError(f"The settings of the run in {summary.path} cannot be read; choose another run.")
    model_dir = summary.path / runs.MODEL
    if not (model_dir / "config.json").is_file():
        raise StudioError(
            f"The run in {summary.path} has no trained model yet; finish (or resume) the run, then look for "
            "label errors."
        )
    task = config.task or "single"
    if task not in SUPPORTED_TASKS:
        raise StudioError(
            f"Finding label errors works for single-label, sentence-pair and multi-label classification; this run is "
            f"{_task_title(task)}, which it cannot check yet."
        )
    if thorough and not 2 <= folds <= 20:
        raise StudioError(f"The number of folds must be from 2 to 20 (got {folds}); 5 is usual.")
    report = _progress(progress)
    report(0.0, "Reading the run's data")
    train, validation, labels, columns, separator = _splits(config)
    multi = task == "multi"
    report(0.02, f"Predicting the {len(validation.texts):,} validation rows with the run's model")
    probabilities = [_predict(model_dir, validation, labels, device, multi)]
    splits = [validation]
    if thorough:
        from studio.core.mislabel_folds import cross_validated

        _check_stop(stop)
        probabilities.append(
            cross_validated(config, train, validation, labels, folds, fold_epochs, report, stop, device, separator)
        )
        splits.append(train)
    report(0.98, "Ranking the rows by how likely their label is wrong")
    thresholds = _decision_thresholds(model_dir, labels) if multi else None
    candidates = _rank(splits, probabilities, labels, thresholds, separator)
    notes = []
    if not config.validation_csv:
        notes.append(
            f"The validation rows were held out of {Path(config.train_csv).name}: their row numbers are that file's."
        )
    report(1.0, "Done")
    return MislabelReport(
        candidates=candidates,
        labels=labels,
        train_file=str(config.train_csv),
        validation_file=config.validation_csv or None,
        split_from_train=not config.validation_csv,
        label_column=columns.label,
        notes=tuple(notes),
    )


def _task_title(task: str) -> str:
    from studio.core.tasks import get_task

    try:
        return get_task(task).title.lower()
    except StudioError:
        return task


def _progress(progress: ProgressFn | None) -> ProgressFn:
    def report(done: float, message: str) -> None:
        log.info("%s (%.0f %%)", message, 100 * done)
        if progress is not None:
            progress(done, message)

    return report


def _check_stop(stop: StopToken | None) -> None:
    if stop is not None and stop.is_set():
        raise StudioError("The search for label errors was stopped; nothing was written.")


def _splits(config) -> tuple[_Split, _Split, tuple[str, ...], Columns, str]:
    """The run's training and validation rows, read from its files as training read them, with their data row
    numbers; and the separator of multi-label cells (";" for the other tasks)."""
    from studio.core.csvio import read_table
    from studio.core.data import require_columns
    from studio.core.tasks import get_task
    from studio.core.tasks.base import SplitSettings

    task = get_task(config.task or "single")
    for path in (config.train_csv, config.validation_csv):
        if path and not Path(path).expanduser().is_file():
            raise DataError(
                f"The run's data file {path} is no longer there; put it back where it was to look for label errors."
            )
    table = read_table(config.train_csv)
    columns = task.columns(table, config.text_column, config.label_column, config.pair_column)
    validation = read_table(config.validation_csv) if config.validation_csv else None
    if validation is not None:
        require_columns(validation, table.path.name, columns)
    split = SplitSettings(share=config.validation_share, seed=config.seed)
    examples = task.load(table, validation, columns, split)
    separator = ";"
    train_labels, validation_labels = examples.train_labels, examples.validation_labels
    if hasattr(task, "source_lines"):
        train_lines, validation_lines = task.source_lines(table, validation, columns, split)
    else:
        # Multi-label: each row found again in its file by its text, second text and labels.
        from studio.core.tasks.multi import label_separator

        separator = label_separator(table.column(columns.label)) or ";"
        train_labels = [[j for j, v in enumerate(row) if v > 0.5] for row in train_labels]
        validation_labels = [[j for j, v in enumerate(row) if v > 0.5] for row in validation_labels]
        validation_lines = _find_lines(
            validation or table,
            columns,
            separator,
            examples.labels,
            examples.validation_texts,
            examples.validation_pairs,
            validation_labels,
            used=set(),
        )
        used = set(validation_lines) if validation is None else set()
        train_lines = _find_lines(
            table, columns, separator, examples.labels, examples.train_texts, examples.train_pairs, train_labels, used
        )
    train_file = str(table.path)
    validation_file = str(validation.path) if validation is not None else train_file
    return (
        _Split(
            TRAIN, examples.train_texts, examples.train_pairs, train_labels, [n - 1 for n in train_lines], train_file
        ),
        _Split(
            VALIDATION,
            examples.validation_texts,
            examples.validation_pairs,
            validation_labels,
            [n - 1 for n in validation_lines],
            validation_file,
        ),
        examples.labels,
        columns,
        separator,
    )


def _find_lines(table, columns, separator, names, texts, pairs, labels, used: set[int]) -> list[int]:
    """The file line (the header is line 1) of each (text, second text, label set), in order; each line once, the
    lines in `used` (taken by the other split) left out."""
    from collections import defaultdict, deque

    from studio.core.data import text_rows
    from studio.core.tasks.multi import split_labels

    rows = text_rows(table, columns)
    ids = {n: i for i, n in enumerate(names)}
    where: dict[tuple, deque[int]] = defaultdict(deque)
    for i, line in enumerate(rows.lines):
        if line in used:
            continue
        label_set = tuple(sorted({ids[n] for n in split_labels(rows.labels[i], separator) if n in ids}))
        where[(rows.texts[i], rows.pairs[i] if rows.pairs is not None else None, label_set)].append(line)
    found = []
    for i, text in enumerate(texts):
        key = (text, pairs[i] if pairs is not None else None, tuple(sorted(labels[i])))
        if not where[key]:
            raise StudioError(
                f"A row of the run's data could not be found again in {table.path.name}; the file may have changed "
                "since the run: train again on it, then look for label errors."
            )
        found.append(where[key].popleft())
    return found


def _predict(model_dir: Path, rows: _Split, labels: tuple[str, ...], device: str, multi: bool = False) -> np.ndarray:
    """(rows, labels) probabilities of a model folder for these rows, columns in the run's label order: the
    model's own probabilities, any threshold folded into its head undone."""
    from studio.core.inference import Predictor

    predictor = Predictor(model_dir, device=device)
    out = np.zeros((len(rows.texts), len(labels)), dtype=np.float64)
    if not rows.texts:
        return out
    logits = predictor.runner.sequence_logits(rows.texts, rows.pairs if predictor.takes_pairs else None)
    if multi:
        from studio.core.tasks.multi import sigmoid

        probabilities = sigmoid(logits + _folded_shift(predictor.model.config, predictor.labels))
    else:
        from studio.core.thresholds import decide, rule_of

        probabilities, _ = decide(logits, rule_of(predictor.model.config, predictor.labels))
    # A fold model may lack a class its training part never held: that class gets no probability.
    columns = {name: j for j, name in enumerate(predictor.labels)}
    for i, name in enumerate(labels):
        if name in columns:
            out[:, i] = probabilities[:, columns[name]]
    if multi:
        return out
    sums = out.sum(axis=1, keepdims=True)
    return out / np.where(sums > 0, sums, 1.0)


def _folded_shift(config, names: list[str]) -> np.ndarray:
    """What a multi-label export subtracted from each label's logit: the logit of the threshold folded into its
    bias (0 where none was)."""
    from studio.core.label_thresholds import folded_thresholds

    folded = folded_thresholds(config, names)
    t = np.clip(np.array([folded[n] for n in names], dtype=np.float64), 1e-6, 1 - 1e-6)
    return np.log(t / (1 - t))


def _decision_thresholds(model_dir: Path, labels: tuple[str, ...]) -> np.ndarray:
    """Each label's threshold as the run tuned it (on the model's own probabilities), 0.5 where none was."""
    import json

    try:
        config = json.loads((model_dir / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        config = {}
    tuned = config.get("studio_tuned_thresholds") or {}
    return np.array([float(tuned.get(name, 0.5)) if isinstance(tuned, dict) else 0.5 for name in labels])


def _ids(label) -> list[int]:
    return label if isinstance(label, list) else [label]


def _label_text(label, labels: tuple[str, ...], separator: str) -> str:
    return separator.join(labels[j] for j in _ids(label))


def label_scores(labels, probabilities, multi: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """(score, flagged) per row: 1 - cleanlab's self-confidence label quality, and whether confident learning
    (cleanlab.filter.find_label_issues, pruned by the estimated noise rates) counts the row as a label issue.

    `labels` are class ids, or with `multi` lists of ids (cleanlab's multi-label scores: each label's
    one-vs-rest quality, pooled over the labels).
    """
    from cleanlab.filter import find_label_issues

    p = np.asarray(probabilities, dtype=np.float64)
    if len(labels) == 0:
        return np.zeros(0), np.zeros(0, dtype=bool)
    if multi:
        from cleanlab.multilabel_classification import get_label_quality_scores as multilabel_quality

        y: Any = [list(map(int, row)) for row in labels]
        quality = multilabel_quality(y, p)
    else:
        from cleanlab.rank import get_label_quality_scores

        y = np.asarray(labels, dtype=np.int64)
        quality = get_label_quality_scores(y, p, method="self_confidence")
    try:
        found = find_label_issues(y, p, filter_by="prune_by_noise_rate", multi_label=multi)
        flagged = np.asarray(found, dtype=bool)
    except (ValueError, IndexError, ZeroDivisionError) as exc:
        # Too few rows of a class to estimate its noise rate: the ranking still holds, the flags do not.
        log.warning("Confident learning could not flag label issues (%s); ranking by label quality alone.", exc)
        flagged = np.zeros(len(labels), dtype=bool)
    return 1.0 - np.asarray(quality, dtype=np.float64), flagged


def _rank(
    splits: list[_Split],
    probabilities: list[np.ndarray],
    labels: tuple[str, ...],
    thresholds: np.ndarray | None = None,
    separator: str = ";",
) -> list[Candidate]:
    """Every row as a candidate, most likely mislabelled first. With `thresholds` (multi-label), a row's
    suggestion is the labels whose probability reaches their threshold."""
    import warnings

    multi = thresholds is not None
    y = [label for s in splits for label in s.labels]
    p = np.concatenate(probabilities)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # cleanlab warns about classes with few rows; the ranking stands
        scores, flagged = label_scores(y, p, multi)
    found = []
    i = 0
    for split, probs in zip(splits, probabilities, strict=True):
        for j in range(len(split.texts)):
            found.append(
                Candidate(
                    split=split.name,
                    row=split.lines[j],
                    text=split.texts[j],
                    label=_label_text(split.labels[j], labels, separator),
                    suggested=_suggestion(probs[j], labels, thresholds, separator),
                    score=float(scores[i]),
                    flagged=bool(flagged[i]),
                    file=split.file,
                    pair=split.pairs[j] if split.pairs is not None else None,
                )
            )
            i += 1
    found.sort(key=lambda c: (-c.score, c.split != VALIDATION, c.row))
    return found


def _suggestion(probabilities: np.ndarray, labels: tuple[str, ...], thresholds, separator: str) -> str:
    if thresholds is None:
        return labels[int(np.argmax(probabilities))]
    return separator.join(labels[j] for j in np.flatnonzero(probabilities >= thresholds))


CSV_COLUMNS = ("split", "row", "text", "label", "suggested", "score", "flagged", "file")


def write_candidates(report: MislabelReport, output: str | Path, top: int | None = None) -> int:
    """Write the ranked candidates (the first `top`, else all) as CSV, atomically; return how many rows."""
    from studio.core.inference import escape_cell

    output = Path(output).expanduser()
    sources = {Path(report.train_file).resolve()}
    if report.validation_file:
        sources.add(Path(report.validation_file).resolve())
    if output.resolve() in sources:
        raise DataError("The candidates would overwrite the run's data file; choose another output file.")
    rows = report.candidates[:top] if top else report.candidates
    pairs = any(c.pair is not None for c in rows)
    # The contract's columns keep their places; a pair's second text comes last.
    header = [*CSV_COLUMNS, *(["text_pair"] if pairs else [])]
    tmp = output.with_name(f".{output.name}.partial")
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
        with open(tmp, "w", encoding="utf-8", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(header)
            for c in rows:
                cells = [c.split, str(c.row), c.text, c.label, c.suggested, f"{c.score:.6f}"]
                cells += ["yes" if c.flagged else "no", Path(c.file).name, *([c.pair or ""] if pairs else [])]
                writer.writerow([escape_cell(v) for v in cells])
        os.replace(tmp, output)
    except OSError as exc:
        raise StudioError(f"Could not write the candidates to {output}: {exc.strerror or exc}.") from exc
    finally:
        tmp.unlink(missing_ok=True)
    return len(rows)
