"""Token classification (NER): one BIO tag per word, entity-level seqeval F1, entities with character offsets."""

from __future__ import annotations

import json
import logging
import re
import warnings
from collections import Counter
from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np

from studio.core.csvio import Table
from studio.core.data import check_column, split_indices, validation_count
from studio.core.errors import DataError, ModelError
from studio.core.tasks.base import (
    Columns,
    Detection,
    Distribution,
    Examples,
    Prediction,
    SplitSettings,
    Task,
    TaskMetrics,
)

log = logging.getLogger(__name__)

# Column names that hold a sentence's words and its tags (each cell space-joined), in the order they are tried.
TOKEN_NAMES = ("tokens", "words", "token", "word", "sentence", "text")
TAG_NAMES = ("tags", "ner_tags", "ner", "tag", "labels", "label", "bio", "entities")
# The usual entity types come first, in the order NER datasets list them; other types follow alphabetically.
COMMON_TYPES = ("PER", "LOC", "ORG", "MISC")
OUTSIDE = "O"
IGNORE = -100
# How many validation sentences the report lists with their errors.
WORST_SENTENCES = 20
# Rows looked at to recognise a table.
DETECT_ROWS = 500

_BIO = re.compile(r"^([BI])-(\S+)$")
# BIOES (S- single, E- end) and BILOU (U- unit, L- last) say the same as BIO with more prefixes.
_OTHER_SCHEME = re.compile(r"^([ESLU])-(\S+)$")
_TAG_LIKE = re.compile(r"^(O|[A-Za-z]{1,2}[-_]\S+|[A-Z][A-Z0-9_.$-]*)$")
# Words as CoNLL-style data splits them: punctuation apart, but "U.S.", "3.5", "re-engineered" and "AT&T" whole.
_WORD = re.compile(r"(?:\w\.){2,}|\d+(?:[.,:]\d+)+|\w+(?:[-'\u2019&]\w+)*|[^\w\s]")


# ---- tags ---------------------------------------------------------------------------------------------------


def repair_bio(tags: Sequence[str]) -> list[str]:
    """BIO made valid: an I- tag that starts an entity (after O, another type, or first) becomes B-."""
    out = []
    previous: str | None = None  # the entity type the previous tag is part of; None after O
    for tag in tags:
        if tag.startswith("I-"):
            kind = tag[2:]
            if previous != kind:
                tag = "B-" + kind
            previous = kind
        elif tag.startswith("B-"):
            previous = tag[2:]
        else:
            previous = None
        out.append(tag)
    return out


def entity_spans(tags: Sequence[str]) -> list[tuple[str, int, int]]:
    """(type, start, end) of each entity of valid BIO tags; word indices, end exclusive."""
    spans: list[tuple[str, int, int]] = []
    kind: str | None = None
    start = 0
    for i, tag in enumerate([*tags, OUTSIDE]):
        inside = tag.startswith("I-") and tag[2:] == kind
        if kind is not None and not inside:
            spans.append((kind, start, i))
            kind = None
        if tag.startswith(("B-", "I-")) and not inside:
            kind, start = tag[2:], i
    return spans


def type_order(types) -> list[str]:
    """Entity types in a stable order: PER, LOC, ORG, MISC when present, then the others alphabetically."""
    present = set(types)
    return [t for t in COMMON_TYPES if t in present] + sorted(present - set(COMMON_TYPES))


def tag_names(types) -> tuple[str, ...]:
    """The label names in id order: O, then B- and I- of each type."""
    return (OUTSIDE, *[f"{p}-{t}" for t in type_order(types) for p in ("B", "I")])


def _to_bio(tag: str) -> str:
    match = _OTHER_SCHEME.match(tag)
    if match is None:
        return tag
    return ("B-" if match.group(1) in "SU" else "I-") + match.group(2)


def _entity_type(tag: str) -> str | None:
    match = _BIO.match(_to_bio(tag))
    return match.group(2) if match else None


# ---- reading tables -----------------------------------------------------------------------------------------


def _split_cells(table: Table, columns: Columns, limit: int | None = None):
    ti, li = table.columns.index(columns.text), table.columns.index(columns.label)
    rows = table.rows if limit is None else table.rows[:limit]
    for row in rows:
        yield row[ti].split(), row[li].split()


def _line_of(table: Table, row: int, word: int = 0) -> int:
    """The file line a row (and a word of it) is on: CoNLL files have a line per word, CSV files one per row."""
    starts = getattr(table, "lines", None)
    if starts:
        return starts[row] + word
    return row + 2  # the header is line 1


def _lines_text(lines: list[int]) -> str:
    shown = ", ".join(str(n) for n in lines[:5])
    return shown + (f" and {len(lines) - 5} more" if len(lines) > 5 else "")


def _read_sentences(table: Table, columns: Columns) -> tuple[list[list[str]], list[list[str]], list[str]]:
    """(words, BIO tags, warnings) of every usable row; DataError for count mismatches and tags that are not BIO."""
    name = table.path.name
    conll = bool(getattr(table, "lines", None))
    words_out: list[list[str]] = []
    tags_out: list[list[str]] = []
    mismatched: list[tuple[int, int, int]] = []
    bad: dict[str, int] = {}
    blank = converted = repaired = 0
    begins = insides = 0
    for i, (words, tags) in enumerate(_split_cells(table, columns)):
        if not words and not tags:
            blank += 1
            continue
        if len(words) != len(tags):
            mismatched.append((_line_of(table, i), len(words), len(tags)))
            continue
        bio = []
        for j, tag in enumerate(tags):
            new = _to_bio(tag)
            converted += new != tag
            if new != OUTSIDE and _BIO.match(new) is None and new not in bad:
                bad[new] = _line_of(table, i, j)
            bio.append(new)
        begins += sum(t.startswith("B-") for t in bio)
        insides += sum(t.startswith("I-") for t in bio)
        fixed = repair_bio(bio)
        repaired += fixed != bio
        words_out.append(words)
        tags_out.append(fixed)
    if mismatched:
        line, n_words, n_tags = mismatched[0]
        others = [m[0] for m in mismatched[1:]]
        also = f" (so do line{'s' if len(others) > 1 else ''} {_lines_text(others)})" if others else ""
        raise DataError(
            f"Line {line} of {name} has {n_words} word{'s' if n_words != 1 else ''} in {columns.text!r} but "
            f"{n_tags} tag{'s' if n_tags != 1 else ''} in {columns.label!r}{also}; each word needs exactly one "
            "tag, both joined by spaces."
        )
    if bad:
        shown = ", ".join(f"{tag!r} (line {line})" for tag, line in list(bad.items())[:5])
        more = f" and {len(bad) - 5} more" if len(bad) > 5 else ""
        where = f"The tags of {name}" if conll else f"The column {columns.label!r} of {name}"
        raise DataError(
            f"{where} are not all BIO tags: {shown}{more}; every tag must be O, B-TYPE or I-TYPE "
            "(such as B-PER, I-PER), the B- on the first word of an entity."
        )
    if not words_out:
        raise DataError(f"Every row of {name} has empty {columns.text!r} and {columns.label!r}; check the columns.")
    warnings_out = []
    if blank:
        warnings_out.append(f"{blank} of {len(table.rows)} rows of {name} have no words and were left out.")
    if converted:
        warnings_out.append(
            f"{name} uses BIOES/BILOU tags (S-, E-, U-, L-); they were read as BIO (S- and U- as B-, E- and L- as I-)."
        )
    if insides and not begins:
        warnings_out.append(
            f"{name} is tagged IO (I- tags and no B-); it was converted to BIO, the first word of each entity "
            "becoming B- (two entities of one type side by side read as one, as IO cannot tell them apart)."
        )
    elif repaired:
        warnings_out.append(
            f"{repaired} sentence{'s' if repaired != 1 else ''} of {name} had an I- tag that starts an entity "
            "(after O or another type); it was read as B-."
        )
    return words_out, tags_out, warnings_out


def _types(tag_rows: list[list[str]]) -> set[str]:
    return {t[2:] for tags in tag_rows for t in tags if t != OUTSIDE}


# ---- metrics ------------------------------------------------------------------------------------------------


def seqeval_report(true_tags: list[list[str]], predicted_tags: list[list[str]], types: Sequence[str]) -> dict:
    """Entity-level micro precision/recall/F1 (seqeval, strict IOB2), per type, and token accuracy."""
    from seqeval.metrics import classification_report
    from seqeval.scheme import IOB2

    with warnings.catch_warnings():
        # Types absent from both sides make seqeval and numpy warn about empty means; their figures are 0.
        warnings.simplefilter("ignore")
        report = classification_report(
            true_tags, predicted_tags, mode="strict", scheme=IOB2, output_dict=True, zero_division=0
        )
    micro = report.get("micro avg", {})
    per_entity = {}
    for kind in type_order([*types, *(k for k in report if not k.endswith(" avg"))]):
        row = report.get(kind, {})
        per_entity[kind] = {
            "precision": float(row.get("precision", 0.0)),
            "recall": float(row.get("recall", 0.0)),
            "f1": float(row.get("f1-score", 0.0)),
            "support": int(row.get("support", 0)),
        }
    total = sum(len(t) for t in true_tags)
    correct = sum(a == b for t, p in zip(true_tags, predicted_tags, strict=True) for a, b in zip(t, p, strict=True))
    return {
        "f1": float(micro.get("f1-score", 0.0)),
        "precision": float(micro.get("precision", 0.0)),
        "recall": float(micro.get("recall", 0.0)),
        "accuracy": correct / total if total else 0.0,
        "per_entity": per_entity,
    }


def _masked_cross_entropy(logits: np.ndarray, labels: np.ndarray) -> float:
    mask = labels != IGNORE
    if not mask.any():
        return 0.0
    chosen = logits[mask].astype(np.float64)
    shifted = chosen - chosen.max(axis=-1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))
    return float(-log_probs[np.arange(len(chosen)), labels[mask]].mean())


class TokenMetrics(TaskMetrics):
    """Entity F1 (seqeval strict BIO) of first-sub-token predictions, per type, token accuracy and the worst sentences.

    The words of the worst sentences come from the validation examples: the engine evaluates in dataset order
    (TokenTask.needs_eval_order); a row whose gold tags do not match its position is looked up by its tags.
    """

    def __init__(self, labels: tuple[str, ...], words: list[list[str]], label_ids: list[list[int]]):
        super().__init__()
        self.labels = labels
        self.types = type_order({name[2:] for name in labels if name != OUTSIDE})
        self.words = words
        self.label_ids = label_ids

    def __call__(self, eval_prediction) -> dict[str, float]:
        logits, label_ids = eval_prediction.predictions, eval_prediction.label_ids
        if isinstance(logits, tuple):
            logits = logits[0]
        logits, label_ids = np.asarray(logits), np.asarray(label_ids)
        predicted_ids = logits.argmax(axis=-1)
        names = np.asarray(self.labels, dtype=object)
        true_tags, predicted_tags = [], []
        for row_labels, row_predicted in zip(label_ids, predicted_ids, strict=True):
            mask = row_labels != IGNORE
            true_tags.append(repair_bio(names[row_labels[mask]].tolist()))
            predicted_tags.append(repair_bio(names[row_predicted[mask]].tolist()))
        report = seqeval_report(true_tags, predicted_tags, self.types)
        report["loss"] = _masked_cross_entropy(logits, label_ids)
        report["worst"], report["truncated_sentences"] = self._worst(true_tags, predicted_tags)
        self.last_report = report
        scalars = {k: report[k] for k in ("f1", "precision", "recall", "accuracy", "loss")}
        # Equal entity F1s (common early on small sets) go to the lower loss; the term moves the score by < 1e-6.
        scalars["selection_score"] = report["f1"] - 1e-7 * min(report["loss"], 10.0)
        return scalars

    def _worst(self, true_tags: list[list[str]], predicted_tags: list[list[str]]) -> tuple[list[dict], int]:
        names = self.labels
        by_tags: dict[tuple[str, ...], list[int]] = {}
        for i, ids in enumerate(self.label_ids):
            by_tags.setdefault(tuple(repair_bio([names[j] for j in ids])), []).append(i)
        scored = []
        truncated = 0
        for position, (true, predicted) in enumerate(zip(true_tags, predicted_tags, strict=True)):
            row = self._row_of(position, true, by_tags)
            if row is None:
                continue
            truncated += len(true) < len(self.words[row])
            true_spans, predicted_spans = entity_spans(true), entity_spans(predicted)
            errors = len(set(true_spans) ^ set(predicted_spans))
            if errors:
                scored.append((errors, row, true_spans, predicted_spans, len(true)))
        scored.sort(key=lambda s: (-s[0], s[1]))
        worst = [
            {
                "tokens": self.words[row][:visible],
                "true": [list(span) for span in true_spans],
                "predicted": [list(span) for span in predicted_spans],
                "errors": errors,
            }
            for errors, row, true_spans, predicted_spans, visible in scored[:WORST_SENTENCES]
        ]
        return worst, truncated

    def _row_of(self, position: int, true: list[str], by_tags: dict[tuple[str, ...], list[int]]) -> int | None:
        names = self.labels
        if position < len(self.label_ids):
            expected = repair_bio([names[j] for j in self.label_ids[position][: len(true)]])
            if expected == true:
                return position
        rows = by_tags.get(tuple(true))
        return rows[0] if rows else None


# ---- the task -----------------------------------------------------------------------------------------------


class TokenTask(Task):
    """A tag per word (BIO entities): words and tags space-joined in two columns, or a CoNLL file."""

    name: ClassVar[str] = "token"
    title: ClassVar[str] = "Token classification (NER)"
    main_metric: ClassVar[str] = "f1"
    main_metric_title: ClassVar[str] = "Entity F1"
    shown_scalars: ClassVar[tuple[str, ...]] = ("f1", "precision", "recall")
    pipeline_task: ClassVar[str] = "token-classification"
    pipeline_kwargs: ClassVar[dict[str, Any]] = {"aggregation_strategy": "simple"}
    problem_type: ClassVar[str | None] = None
    # Measured on wikigold with the built-in model (benchmarks/ner_throughput.py, entity F1): in 2 epochs 1e-4 0.40,
    # 2e-4 0.55, 3e-4 0.63, 5e-4 0.63, the HF example at 2e-4 0.58; in 3 epochs 2e-4 0.68, 3e-4 0.69, the example 0.68.
    default_learning_rate: ClassVar[float] = 3e-4
    takes_pairs: ClassVar[bool] = False
    # Asked first: a words + tags table would otherwise pass for a pair or single-label table.
    detect_priority: ClassVar[int] = 10
    # The worst sentences are matched to their words by position (see TokenMetrics).
    needs_eval_order: ClassVar[bool] = True

    # ---- data -------------------------------------------------------------------------------------------
    def detect(
        self, table: Table, text: str | None = None, label: str | None = None, pair: str | None = None
    ) -> Detection | None:
        self._refuse_pair(pair)
        check_column(table, text, "text")
        check_column(table, label, "label")
        found = _find_columns(table, text, label)
        if found is None:
            return None
        types = type_order(
            {k for _, tags in _split_cells(table, found, DETECT_ROWS) for t in tags if (k := _entity_type(t))}
        )
        kinds = f" ({', '.join(types[:8])}{', ...' if len(types) > 8 else ''} entities)" if types else ""
        return Detection(
            self.name,
            found,
            f"The columns {found.text!r} and {found.label!r} hold words and one tag per word{kinds}.",
        )

    def columns(self, table: Table, text: str | None, label: str | None, pair: str | None) -> Columns:
        self._refuse_pair(pair)
        check_column(table, text, "text")
        check_column(table, label, "label")
        found = _find_columns(table, text, label)
        if found is not None:
            return found
        lowered = {c.lower(): c for c in table.columns}
        text = text or next((lowered[n] for n in TOKEN_NAMES if n in lowered and lowered[n] != label), None)
        label = label or next((lowered[n] for n in TAG_NAMES if n in lowered and lowered[n] != text), None)
        if text is None or label is None or text == label:
            raise DataError(
                f"{table.path.name} has no columns of words and their tags (such as 'tokens' and 'tags', each "
                "joined by spaces, one tag per word); choose them, or give a CoNLL file (a token and its tag per "
                "line)."
            )
        # The user's (or the names') choice: load() says what is wrong with the cells if anything is.
        return Columns(text, label)

    def _refuse_pair(self, pair: str | None) -> None:
        if pair:  # "" is "no second text", which is what this task takes
            raise DataError(
                f"Token classification tags the words of one text; it takes no second text column ({pair!r})."
            )

    def load(self, table: Table, validation: Table | None, columns: Columns, split: SplitSettings) -> Examples:
        name = table.path.name
        words, tags, warnings_out = _read_sentences(table, columns)
        types = _types(tags)
        if not types:
            raise DataError(
                f"Every tag in {name} is O; token classification needs tagged entities (B-TYPE and I-TYPE tags) "
                "to learn from."
            )
        labels = tag_names(types)
        if validation is not None:
            v_columns = columns
            if (columns.text not in validation.columns or columns.label not in validation.columns) and getattr(
                validation, "lines", None
            ):
                v_columns = Columns(validation.columns[0], validation.columns[1])  # a CoNLL validation file
            v_words, v_tags, v_warnings = _read_sentences(validation, v_columns)
            warnings_out += v_warnings
            unknown = sorted(_types(v_tags) - types)
            if unknown:
                shown = ", ".join(repr(u) for u in unknown[:5]) + (" ..." if len(unknown) > 5 else "")
                raise DataError(
                    f"The validation file {validation.path.name} has entity types that the training data lacks "
                    f"({shown}); add training sentences with them or remove them from {validation.path.name}."
                )
            if len(words) < 2:
                raise DataError(f"{name} has only {len(words)} usable sentence; add more sentences to train on.")
            train_w, train_t, val_w, val_t = words, tags, v_words, v_tags
        else:
            n_validation, warning = validation_count(len(words), name, split)
            if warning:
                warnings_out.append(warning.replace(" rows", " sentences"))
            train_i, val_i = split_indices(len(words), n_validation, split.seed)
            train_w, train_t = [words[i] for i in train_i], [tags[i] for i in train_i]
            val_w, val_t = [words[i] for i in val_i], [tags[i] for i in val_i]
        ids = {n: i for i, n in enumerate(labels)}
        return Examples(
            task=self.name,
            train_texts=train_w,
            train_labels=[[ids[t] for t in row] for row in train_t],
            validation_texts=val_w,
            validation_labels=[[ids[t] for t in row] for row in val_t],
            labels=labels,
            columns=columns,
            split_from_train=validation is None,
            warnings=tuple(warnings_out),
        )

    def distribution(self, table: Table, columns: Columns) -> Distribution:
        counts: Counter[str] = Counter()
        sentences = words = inside = 0
        for row_words, row_tags in _split_cells(table, columns):
            if not row_words or len(row_words) != len(row_tags):
                continue  # load() names these rows; the chart shows what can be read
            tags = repair_bio([t if _entity_type(t) else OUTSIDE for t in map(_to_bio, row_tags)])
            spans = entity_spans(tags)
            counts.update(kind for kind, _, _ in spans)
            sentences += 1
            words += len(row_words)
            inside += sum(end - start for _, start, end in spans)
        bars = [(kind, counts[kind]) for kind in type_order(counts)]
        note = (
            f"{sum(counts.values()):,} entities in {sentences:,} sentences; {inside / words:.0%} of {words:,} words "
            "are part of an entity"
            if words
            else ""
        )
        return Distribution("counts", "Entities per type", bars, note)

    # ---- model ------------------------------------------------------------------------------------------
    def model_class(self) -> Any:
        from transformers import AutoModelForTokenClassification

        return AutoModelForTokenClassification

    # ---- features ---------------------------------------------------------------------------------------
    def tokenize(self, examples: Examples, tokenizer, max_length: int) -> tuple[Any, Any]:
        """Word-aligned datasets: each word's tag on its first sub-token, -100 on the rest and on special tokens.

        A sentence longer than max_length sub-tokens is cut; its words past the cut are neither trained on nor
        scored (the report counts such validation sentences as `truncated_sentences`).
        """
        from studio.core.features import tokenizer_fingerprint

        if not getattr(tokenizer, "is_fast", False):
            raise ModelError(
                "This model's tokenizer has no fast (Rust) version, which token classification needs to align "
                "words with their sub-words; choose another model."
            )
        fingerprint = tokenizer_fingerprint(tokenizer)
        train = tokenize_words(examples.train_texts, examples.train_labels, tokenizer, max_length, fingerprint)
        validation = tokenize_words(
            examples.validation_texts, examples.validation_labels, tokenizer, max_length, fingerprint
        )
        return train, validation

    def collator(self, tokenizer, pad_to_multiple_of: int | None) -> Any:
        """Pads each batch to its longest row, the labels with -100."""
        from transformers import DataCollatorForTokenClassification

        return DataCollatorForTokenClassification(
            tokenizer, pad_to_multiple_of=pad_to_multiple_of, label_pad_token_id=IGNORE
        )

    # ---- metrics ----------------------------------------------------------------------------------------
    def metrics(self, examples: Examples) -> TaskMetrics:
        return TokenMetrics(examples.labels, examples.validation_texts, examples.validation_labels)

    def summary(self, report: dict) -> dict[str, Any]:
        return {
            "f1": report["f1"],
            "precision": report["precision"],
            "recall": report["recall"],
            "accuracy": report["accuracy"],
            "loss": report["loss"],
            "per_entity": report.get("per_entity", {}),
            "worst": report.get("worst", []),
        }

    # ---- export and prediction --------------------------------------------------------------------------
    def predict(self, runner, texts: list[str], pairs: list[str] | None = None) -> list[Prediction]:
        """Entities with character offsets: the text split into words, a tag per word from its first sub-token."""
        if pairs is not None:
            raise DataError("A token classification model reads one text per row; give no second texts.")
        words = [
            [(m.group(), m.start(), m.end()) for m in _WORD.finditer(t if isinstance(t, str) else str(t))]
            for t in texts
        ]
        probabilities = word_probabilities(runner, [[w for w, _, _ in row] for row in words])
        labels = [str(runner.config.id2label.get(i, i)) for i in range(runner.config.num_labels)]
        out = []
        for text, row, probs in zip(texts, words, probabilities, strict=True):
            best = probs.argmax(axis=-1) if len(row) else np.zeros(0, dtype=int)
            tags = repair_bio([labels[i] for i in best])
            entities = []
            for kind, start, end in entity_spans(tags):
                first, last = row[start][1], row[end - 1][2]
                score = float(np.mean([probs[i, best[i]] for i in range(start, end)]))
                entities.append({"entity": kind, "word": text[first:last], "start": first, "end": last, "score": score})
            label = "; ".join(f"{e['entity']}: {e['word']}" for e in entities)
            score = float(np.mean([e["score"] for e in entities])) if entities else 1.0
            out.append(Prediction(label=label, score=score, entities=tuple(entities)))
        return out

    def decode(self, logits, config) -> list[Prediction]:
        raise NotImplementedError("token classification decodes per word in predict(), not from one row of logits")

    def csv_header(self, config) -> list[str]:
        return ["entities"]

    def csv_cells(self, prediction: Prediction, config) -> list[str]:
        return [json.dumps(list(prediction.entities), ensure_ascii=False)]

    def card_lines(self, metrics: dict) -> list[str]:
        per_entity = metrics.get("per_entity") or {}
        if not per_entity:
            return []
        lines = ["", "| entity type | precision | recall | F1 | support |", "|---|---|---|---|---|"]
        lines += [
            f"| {kind} | {s['precision']:.4f} | {s['recall']:.4f} | {s['f1']:.4f} | {s['support']} |"
            for kind, s in per_entity.items()
        ]
        return lines


def _find_columns(table: Table, text: str | None, label: str | None) -> Columns | None:
    """The (words, tags) columns: cells space-joined with equal counts in nearly every row, tags that look like
    tags (O, B-PER, I-LOC...) and sentences of several words. Named columns (tokens, tags...) are tried first."""

    def ranked(names: tuple[str, ...], chosen: str | None) -> list[str]:
        if chosen is not None:
            return [chosen]
        rank = {n: i for i, n in enumerate(names)}
        return sorted(table.columns, key=lambda c: rank.get(c.lower(), len(names)))

    sample = table.rows[:DETECT_ROWS]
    for tag_column in ranked(TAG_NAMES, label):
        for word_column in ranked(TOKEN_NAMES, text):
            if word_column == tag_column:
                continue
            named = word_column.lower() in TOKEN_NAMES and tag_column.lower() in TAG_NAMES
            if _looks_like_tagged_words(
                sample, table.columns.index(word_column), table.columns.index(tag_column), named
            ):
                return Columns(word_column, tag_column)
    return None


def _looks_like_tagged_words(rows: Sequence[tuple[str, ...]], wi: int, ti: int, named: bool) -> bool:
    pairs = [(r[wi].split(), r[ti].split()) for r in rows]
    pairs = [(w, t) for w, t in pairs if w or t]
    if not pairs:
        return False
    equal = sum(len(w) == len(t) for w, t in pairs) / len(pairs)
    several = sum(len(w) > 1 for w, _ in pairs) / len(pairs)
    tags = [tag for _, t in pairs for tag in t]
    tag_like = sum(bool(_TAG_LIKE.match(tag)) for tag in tags) / max(1, len(tags))
    distinct = set(tags)
    # Tags are few and repeat; without telling names, an "O" (outside any entity) must be among them.
    few = len(distinct) <= max(3, len(tags) // 4)
    return equal >= 0.95 and several >= 0.3 and tag_like >= 0.95 and few and (named or OUTSIDE in distinct)


def tokenize_words(
    words: list[list[str]], labels: list[list[int]], tokenizer, max_length: int, tokenizer_key: str | None = None
):
    """A datasets.Dataset of unpadded input ids and word-aligned labels, reused from the cache if seen."""
    import pyarrow as pa

    from studio.core.features import cached_map, clip, content_key, keeps_token_type_ids, tokenizer_fingerprint

    columns: dict[str, list] = {"words": words, "labels": labels}
    key = content_key(columns, tokenizer_key or tokenizer_fingerprint(tokenizer), max_length, "token-v1")
    with_types = keeps_token_type_ids(tokenizer)
    ids_type = pa.list_(pa.int32())
    truncated = 0

    def encode(batch: pa.Table) -> pa.Table:
        nonlocal truncated
        # Each word yields one sub-token or more, so words past 2 x max_length can never be kept; clipping them
        # (and absurdly long words) spares the tokenizer a 100,000-word cell.
        batch_words = [
            [clip(w, max_length) for w in row[: 2 * max_length]] for row in batch.column("words").to_pylist()
        ]
        batch_labels = batch.column("labels").to_pylist()
        encoded = tokenizer(
            batch_words,
            is_split_into_words=True,
            truncation=True,
            max_length=max_length,
            return_attention_mask=False,
            return_token_type_ids=with_types,
        )
        aligned = []
        for i, tags in enumerate(batch_labels):
            row: list[int] = []
            previous = None
            for word in encoded.word_ids(i):
                row.append(IGNORE if word is None or word == previous else tags[word])
                previous = word
            seen = max((w for w in encoded.word_ids(i) if w is not None), default=-1) + 1
            truncated += seen < len(tags)
            aligned.append(row)
        out = {"input_ids": pa.array(encoded["input_ids"], type=ids_type), "labels": pa.array(aligned, type=ids_type)}
        if with_types and "token_type_ids" in encoded:
            out["token_type_ids"] = pa.array(encoded["token_type_ids"], type=ids_type)
        return pa.table(out)

    dataset = cached_map(columns, encode, key, {"words": pa.list_(pa.string()), "labels": ids_type})
    if truncated:
        log.warning(
            "%d of %d sentences are longer than %d sub-tokens; their words past that are neither trained on nor "
            "scored (raise the maximum length to keep them).",
            truncated,
            len(words),
            max_length,
        )
    return dataset


def word_probabilities(runner, sentences: list[list[str]], batch_size: int = 32) -> list[np.ndarray]:
    """Per sentence, a (words, labels) array of the softmax at each word's first sub-token, read through the
    runner's read_words (ModelRunner on PyTorch, OnnxRunner on onnxruntime).

    Sentences longer than the model's window are read in consecutive windows, each starting at the first word
    the previous one cut off, so that every word gets a prediction.
    """
    num_labels = runner.config.num_labels
    out = [np.zeros((len(s), num_labels), dtype=np.float32) for s in sentences]
    # (sentence, first word) windows still to read; sentences without words need none.
    pending = [(i, 0) for i, s in enumerate(sentences) if s]
    while pending:
        pending.sort(key=lambda p: len(sentences[p[0]]) - p[1])
        following = []
        for start in range(0, len(pending), batch_size):
            chunk = pending[start : start + batch_size]
            probs, word_ids = runner.read_words([sentences[i][first:] for i, first in chunk])
            for row, (i, first) in enumerate(chunk):
                previous = None
                last = -1
                for position, word in enumerate(word_ids[row]):
                    if word is not None and word != previous:
                        out[i][first + word] = probs[row, position]
                        last = word
                    previous = word
                if last >= 0 and first + last + 1 < len(sentences[i]):
                    following.append((i, first + last + 1))
        pending = following
    # A word that yields no sub-token (a lone control character) has no prediction: it is outside any entity.
    outside = int(getattr(runner.config, "label2id", {}).get(OUTSIDE, 0))
    for probs in out:
        probs[probs.sum(axis=-1) == 0, outside] = 1.0
    return out
