"""The validation rows behind a run's figures: each row's true and predicted label and confidence, per cell."""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from studio.core.errors import StudioError

log = logging.getLogger(__name__)

# What the engine keeps of the final evaluation (save_predictions): the rows exactly as the figures counted them.
PREDICTIONS_FILE = "validation_predictions.json"
# The tasks whose validation rows can be listed; regression has a scatter of its own.
SUPPORTED_TASKS = ("single", "pair", "multi", "token")
CORRECT, FALSE_POSITIVE, FALSE_NEGATIVE = "correct", "false positive", "false negative"
FOUND, MISSED, WRONG = "found", "missed", "wrongly predicted"


@dataclass(frozen=True)
class ValidationRow:
    """One validation row (or, for NER, one entity of a sentence) as the Evaluate page lists it.

    `index` is the row's position in the run's validation split; `true` and `predicted` are label names (joined by
    "; " for multi-label, "TYPE: words" for an entity); `confidence` is the model's probability of what it predicted.
    `outcome` says how a multi-label or NER row counts for the label or entity type asked about.
    """

    index: int
    text: str
    true: str
    predicted: str
    confidence: float
    pair: str | None = None
    outcome: str = ""


@dataclass(frozen=True)
class _Entity:
    row: int
    kind: str
    start: int
    end: int
    outcome: str
    score: float


@dataclass
class ValidationRows:
    """A run's validation rows with their predictions, and the rows behind each cell of its figures."""

    task: str
    labels: tuple[str, ...]
    texts: list[str]
    true: list  # single: class ids; multi: sets of ids; token: lists of tag names
    predicted: list
    confidence: list[float]
    pairs: list[str] | None = None
    source: str = "recomputed"  # or "saved": the engine's own final evaluation
    entities: list[_Entity] = field(default_factory=list)

    def confusion(self) -> list[list[int]]:
        """The confusion matrix of these rows (single-label): rows true, columns predicted."""
        n = len(self.labels)
        matrix = np.zeros((n, n), dtype=int)
        for t, p in zip(self.true, self.predicted, strict=True):
            matrix[int(t), int(p)] += 1
        return matrix.tolist()

    def cell(self, true: int, predicted: int) -> list[ValidationRow]:
        """The rows whose true class is `true` and predicted class `predicted` (single-label), in split order."""
        return [
            self._row(i)
            for i, (t, p) in enumerate(zip(self.true, self.predicted, strict=True))
            if (t, p)
            == (
                true,
                predicted,
            )
        ]

    def label_rows(self, name: str) -> list[ValidationRow]:
        """Multi-label: the rows where label `name` is true or predicted, each marked correct, false positive or
        false negative (mistakes first)."""
        j = self.labels.index(name)
        found = []
        for i, (t, p) in enumerate(zip(self.true, self.predicted, strict=True)):
            if j in t or j in p:
                outcome = CORRECT if (j in t and j in p) else FALSE_NEGATIVE if j in t else FALSE_POSITIVE
                found.append(replace(self._row(i), outcome=outcome))
        return sorted(found, key=lambda r: (r.outcome == CORRECT, r.index))

    def label_counts(self, name: str) -> dict[str, int]:
        rows = self.label_rows(name)
        return {k: sum(r.outcome == k for r in rows) for k in (CORRECT, FALSE_POSITIVE, FALSE_NEGATIVE)}

    def entity_rows(self, kind: str) -> list[ValidationRow]:
        """NER: each entity of type `kind`, true or predicted: found, missed, or wrongly predicted (mistakes first)."""
        found = []
        for e in self.entities:
            if e.kind != kind:
                continue
            words = self.texts[e.row].split(" ")[e.start : e.end]
            span = f"{kind}: {' '.join(words)}"
            true = span if e.outcome in (FOUND, MISSED) else ""
            predicted = span if e.outcome in (FOUND, WRONG) else ""
            found.append(ValidationRow(e.row, self.texts[e.row], true, predicted, e.score, None, e.outcome))
        return sorted(found, key=lambda r: (r.outcome == FOUND, r.index))

    def _name(self, value) -> str:
        if self.task == "multi":
            return "; ".join(self.labels[j] for j in sorted(value))
        return self.labels[int(value)]

    def _row(self, i: int) -> ValidationRow:
        return ValidationRow(
            index=i,
            text=self.texts[i],
            true=self._name(self.true[i]),
            predicted=self._name(self.predicted[i]),
            confidence=float(self.confidence[i]),
            pair=self.pairs[i] if self.pairs is not None else None,
        )


# ---- the engine's hook: keep the final evaluation's per-row predictions -------------------------------------


def save_predictions(run_dir: str | Path, examples, logits, report: dict) -> None:
    """Write the validation rows' predictions of the final evaluation into the run (single, pair, multi-label),
    decided as the figures were: at the tuned binary threshold, or at each label's threshold."""
    task = examples.task
    if task not in ("single", "pair", "multi"):
        return
    logits = np.asarray(logits[0] if isinstance(logits, tuple) else logits, dtype=np.float64)
    labels = tuple(examples.labels)
    if task == "multi":
        probabilities = 1.0 / (1.0 + np.exp(-logits))
        thresholds_by_name = report.get("thresholds") or {}
        thresholds = np.array([float(thresholds_by_name.get(n, 0.5)) for n in labels])
        chosen = probabilities >= thresholds
        predicted: list = [np.flatnonzero(row).tolist() for row in chosen]
        confidence = [
            float(probabilities[i, p].mean()) if p else float(1 - probabilities[i].max())
            for i, p in enumerate(predicted)
        ]
    else:
        probabilities = _softmax(logits)
        if len(labels) == 2 and "threshold" in report and report.get("threshold_label") in labels:
            positive = labels.index(report["threshold_label"])
            hit = probabilities[:, positive] >= float(report["threshold"])
            ids = np.where(hit, positive, 1 - positive)
        else:
            ids = probabilities.argmax(axis=-1)
        predicted = ids.astype(int).tolist()
        confidence = probabilities[np.arange(len(ids)), ids].astype(float).tolist()
    data = {"task": task, "labels": list(labels), "predicted": predicted, "confidence": confidence}
    path = Path(run_dir) / PREDICTIONS_FILE
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(data), encoding="utf-8")
    os.replace(tmp, path)


def _softmax(logits: np.ndarray) -> np.ndarray:
    shifted = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return shifted / shifted.sum(axis=-1, keepdims=True)


# ---- the rows of a run ------------------------------------------------------------------------------------


def validation_rows(
    run_dir: str | Path, device: str = "cpu", progress: Callable[[str], None] | None = None
) -> ValidationRows:
    """The run's validation rows (its data files read again, the split reproduced) with the predictions behind its
    figures: those the engine kept at the end of training, else predicted again with the run's model."""
    from studio.core import runs

    summary = runs.load_run(run_dir)
    config = summary.config
    if config is None:
        raise StudioError(f"The settings of the run in {summary.path} cannot be read; choose another run.")
    task = str((summary.metrics or {}).get("task") or config.task or "single")
    if task not in SUPPORTED_TASKS:
        raise StudioError("The validation rows can be listed for classification and entity runs, not for this one.")
    model_dir = summary.path / runs.MODEL
    if not (model_dir / "config.json").is_file():
        raise StudioError(f"The run in {summary.path} has no trained model yet; finish (or resume) the run first.")
    for path in (config.train_csv, config.validation_csv):
        if path and not Path(path).expanduser().is_file():
            raise StudioError(
                f"The run's data file {path} is no longer there; put it back where it was to list the rows."
            )
    if progress is not None:
        progress("Reading the run's validation rows")
    from studio.core.data import load_examples

    examples = load_examples(
        config.train_csv,
        config.validation_csv or None,
        text_column=config.text_column,
        label_column=config.label_column,
        validation_share=config.validation_share,
        seed=config.seed,
        task=task,
        pair_column=config.pair_column,
    )
    labels = tuple(examples.labels)
    texts = list(examples.validation_texts)
    saved = _read_saved(summary.path, task, labels, len(texts))
    if task == "token":
        return _token_rows(model_dir, examples, config.max_length, device)
    true: list = (
        [set(np.flatnonzero(np.asarray(v) > 0.5).tolist()) for v in examples.validation_labels]
        if task == "multi"
        else [int(v) for v in examples.validation_labels]
    )
    if saved is not None:
        predicted, confidence = saved
        source = "saved"
    else:
        if progress is not None:
            progress(f"Predicting the {len(texts):,} validation rows with the run's model")
        predicted, confidence = _predict(model_dir, examples, config.max_length, device)
        source = "recomputed"
    return ValidationRows(task, labels, texts, true, predicted, confidence, examples.validation_pairs, source)


def _read_saved(run_dir: Path, task: str, labels: tuple[str, ...], rows: int) -> tuple[list, list[float]] | None:
    try:
        data = json.loads((run_dir / PREDICTIONS_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if data.get("task") != task or tuple(data.get("labels") or ()) != labels or len(data.get("predicted", ())) != rows:
        log.warning("The kept validation predictions do not fit the run's data now; predicting them again.")
        return None
    predicted = [set(p) for p in data["predicted"]] if task == "multi" else [int(p) for p in data["predicted"]]
    return predicted, [float(c) for c in data["confidence"]]


def _predict(model_dir: Path, examples, max_length: int, device: str) -> tuple[list, list[float]]:
    """Predicted ids (sets for multi-label) and confidences of the run's model, decided as its export decides."""
    from studio.core.inference import Predictor

    predictor = Predictor(model_dir, device=device, max_length=max_length)
    labels = tuple(examples.labels)
    texts = list(examples.validation_texts)
    if not texts:
        return [], []
    pairs = examples.validation_pairs if predictor.takes_pairs else None
    predictions = predictor.predict(texts, pairs)
    ids = {name: j for j, name in enumerate(labels)}
    if examples.task == "multi":
        predicted_sets = [{ids[n] for n in p.chosen if n in ids} for p in predictions]
        confidence = [
            float(np.mean([p.probabilities[n] for n in p.chosen])) if p.chosen else 1 - max(p.probabilities.values())
            for p in predictions
        ]
        return predicted_sets, confidence
    return [ids.get(p.label, 0) for p in predictions], [float(p.score) for p in predictions]


def _token_rows(model_dir: Path, examples, max_length: int, device: str) -> ValidationRows:
    """NER: each validation sentence's true and predicted entities, matched exactly (type and words)."""
    from studio.core.inference import Predictor
    from studio.core.tasks.token import entity_spans, repair_bio, word_probabilities

    predictor = Predictor(model_dir, device=device, max_length=max_length)
    sentences = [list(words) for words in examples.validation_texts]
    probabilities = word_probabilities(predictor.runner, sentences) if sentences else []
    names = predictor.labels
    tag_names = examples.labels
    true_tags, predicted_tags, entities = [], [], []
    for i, (words, tags, probs) in enumerate(zip(sentences, examples.validation_labels, probabilities, strict=True)):
        truth = repair_bio([tag_names[int(t)] for t in tags])
        best = probs.argmax(axis=-1) if len(words) else np.zeros(0, dtype=int)
        guess = repair_bio([names[int(b)] for b in best])
        true_spans, guessed_spans = set(entity_spans(truth)), set(entity_spans(guess))
        for kind, start, end in sorted(true_spans | guessed_spans, key=lambda s: (s[1], s[2])):
            span = (kind, start, end)
            outcome = FOUND if span in true_spans and span in guessed_spans else MISSED if span in true_spans else WRONG
            score = float(np.mean([probs[w, best[w]] for w in range(start, end)])) if end > start else 0.0
            entities.append(_Entity(i, kind, start, end, outcome, score))
        true_tags.append(truth)
        predicted_tags.append(guess)
    texts = [" ".join(words) for words in sentences]
    confidence = [1.0] * len(texts)
    return ValidationRows(
        "token", tag_names, texts, true_tags, predicted_tags, confidence, None, "recomputed", entities
    )
