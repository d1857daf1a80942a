"""Issue 15's "How it will be checked", end to end through the CLI, on real data with planted problems (seeded).

For each dataset (ag_news: 4 topics, long texts; sms_spam: binary, short texts; trec: 6 question types, very
short texts) a training and a validation file are made from the shared data, and into them are planted:

- exact duplicates within train (a text copied once or twice, same label);
- near-exact duplicates within train: the case changed, the punctuation changed, or one word changed (the last
  only in texts of at least ten words, the engine's documented floor: "What is the capital of France ?" and
  "... of Spain ?" are different questions; one-word changes in shorter texts are planted too and reported apart,
  as information, not as misses);
- train/validation leakage: a validation text copied into train as it is, or with one of those edits;
- conflicting labels: a training text copied with another label (as it is, or with its case or punctuation
  changed);
- a hundred validation labels flipped to another class (rows not involved in leakage).

Then, as the checker will, with the CLI as a subprocess:

1. `studio check --train --validation --json`: recall of every planted duplicate group, leakage pair
   [train_row, validation_row] and conflict group; every reported group or pair that is not planted is compared
   with the source texts (difflib ratio of the normalised words) and counted as a false positive unless the
   source texts are near copies themselves.
2. a short `studio train` (built-in model, default settings but one epoch on a subset), then
   `studio mislabels --run RUN --output RUN/mislabels.csv`: how many flipped rows are in the top 200 validation
   candidates (target: at least 50).
3. on the binary set: metrics.json's `threshold`, `f1_at_threshold` >= `f1_at_0.5`; `studio predict` on the
   exported folder labels each row by the threshold (rows whose probability lies between 0.5 and the threshold
   get the thresholded label; the plain transformers argmax of the folder agrees); the model card shows it.
4. `studio report --run RUN --output report.html`, rendered with headless Chromium to a PNG (look at it).

  python benchmarks/planted_check.py --out benchmarks/results/2026-11-30-planted_check.json
  python benchmarks/planted_check.py --check-only        # step 1 only (seconds)
"""

from __future__ import annotations

import argparse
import csv
import difflib
import json
import os
import random
import re
import shutil
import string
import subprocess
import sys
import tempfile
import time
import unicodedata
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import REPO, SHARED_DATA, emit_result, machine_info, read_rows, write_rows

STUDIO = [sys.executable, "-m", "studio"]
ASCII_PUNCTUATION = set(string.punctuation)
FLIPS = 100
SOURCES = {
    "ag_news": ("ag_news/train.csv", "ag_news/test.csv"),
    "sms_spam": ("sms_spam/train.csv", "sms_spam/validation.csv"),
    "trec": ("trec/train.csv", "trec/test.csv"),
}
# (base training rows, base validation rows); the planted copies come on top.
SIZES = {"ag_news": (2000, 1000), "sms_spam": (2000, 558), "trec": (2000, 500)}
# Planted per dataset.
EXACT_GROUPS = 25
NEAR_GROUPS = 25  # per edit kind
SHORT_WORD_GROUPS = 15  # one word changed in texts under ten words: information only
LEAK_EXACT = 25
LEAK_NEAR = 30
CONFLICT_EXACT = 20
CONFLICT_NEAR = 10
NEAR_WORDS = 10  # the engine's floor for a one-word change (studio.core.near_duplicates.MIN_NEAR_WORDS)
SIMILAR_RATIO = 0.8  # source texts this close (difflib on normalised words) are real near copies, not false alarms


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", help="write the figures to this JSON file")
    p.add_argument("--seed", type=int, default=15)
    p.add_argument("--datasets", nargs="+", default=list(SOURCES), choices=list(SOURCES))
    p.add_argument("--train-datasets", nargs="+", default=["ag_news", "sms_spam"], choices=list(SOURCES))
    p.add_argument("--check-only", action="store_true", help="only the pre-flight check (no training)")
    p.add_argument("--train-rows", type=int, default=None, help="base training rows (default per dataset)")
    p.add_argument("--epochs", type=float, default=1.0)
    p.add_argument("--work", type=Path, help="keep the files here (default: a temporary folder)")
    p.add_argument("--screenshots", type=Path, default=Path(tempfile.gettempdir()) / "planted_check")
    return p.parse_args(argv)


# Planting ----------------------------------------------------------------------------------------------------


def norm_words(text: str) -> list[str]:
    """Words as the issue compares them: case folded, punctuation (ASCII's, with ` ^ ~ |, and Unicode's) removed;
    written apart from the engine's code."""
    out = []
    for word in text.split():
        w = "".join(ch for ch in word.casefold() if ch not in ASCII_PUNCTUATION and unicodedata.category(ch)[0] != "P")
        if w:
            out.append(w)
    return out


def similar(a: str, b: str) -> float:
    return difflib.SequenceMatcher(None, norm_words(a), norm_words(b), autojunk=False).ratio()


def edit(text: str, kind: str, rng: random.Random, vocabulary: list[str]) -> str | None:
    """The text with one small edit of `kind`, or None when this text cannot take it (or it would not change)."""
    if kind == "case":
        options = [text.upper(), text.lower(), text.swapcase()]
        options = [o for o in options if o != text]
        return rng.choice(options) if options else None
    if kind == "punctuation":
        stripped = re.sub(r"[.,;:!?\"']", "", text)
        options = [o for o in (stripped, text + "!!", text.replace(" ", ", ", 1), text + " ...") if o != text]
        options = [o for o in options if norm_words(o) == norm_words(text)]
        return rng.choice(options) if options else None
    if kind == "word":
        words = text.split()
        # A word that is a word (letters), so that the change is one normalised word.
        spots = [i for i, w in enumerate(words) if w.isalpha() and len(w) > 2]
        if not spots:
            return None
        i = rng.choice(spots)
        replacement = rng.choice([v for v in vocabulary if v.casefold() != words[i].casefold()])
        words[i] = replacement
        return " ".join(words)
    raise ValueError(kind)


class Planter:
    """Builds the training rows (shuffled) and validation rows with the planted structures, keeping their rows."""

    def __init__(self, name: str, seed: int, train_rows: int | None):
        self.name = name
        self.rng = random.Random(f"{seed}-{name}")
        train_file, val_file = SOURCES[name]
        texts, labels = read_rows(SHARED_DATA / train_file)
        v_texts, v_labels = read_rows(SHARED_DATA / val_file)
        n_train, n_val = SIZES[name]
        n_train = train_rows or n_train
        train_idx = self.rng.sample(range(len(texts)), min(n_train, len(texts)))
        val_idx = self.rng.sample(range(len(v_texts)), min(n_val, len(v_texts)))
        self.train = [{"text": texts[i], "label": labels[i], "id": k} for k, i in enumerate(train_idx)]
        self.val = [{"text": v_texts[i], "label": v_labels[i]} for i in val_idx]
        self.labels = sorted(set(labels))
        self.vocabulary = sorted({w for t in texts[:3000] for w in t.split() if w.isalpha() and len(w) > 3})
        # Texts whose normalised words occur once in the base files: planted sources, so a group is what we made.
        counts: dict[tuple, int] = {}
        for row in self.train + self.val:
            key = tuple(norm_words(row["text"]))
            counts[key] = counts.get(key, 0) + 1
        self.unique_train = [r for r in self.train if counts[tuple(norm_words(r["text"]))] == 1 and r["text"].strip()]
        self.unique_val = [i for i, r in enumerate(self.val) if counts[tuple(norm_words(r["text"]))] == 1]
        self.rng.shuffle(self.unique_train)
        self.rng.shuffle(self.unique_val)
        self.next_id = len(self.train)
        self.groups: list[dict] = []  # planted duplicate groups within train: {"kind", "ids"}
        self.short_groups: list[dict] = []
        self.leaks: list[dict] = []  # {"kind", "id", "val"} val index 0-based
        self.conflicts: list[dict] = []  # {"kind", "ids"}
        self.flipped: list[int] = []  # val indices 0-based

    def _take_train(self, need_words: int = 0, short: bool = False) -> dict:
        for i, row in enumerate(self.unique_train):
            n = len(norm_words(row["text"]))
            if (short and 3 <= n < NEAR_WORDS) or (not short and n >= need_words):
                return self.unique_train.pop(i)
        raise RuntimeError(f"{self.name}: no more unique training texts for planting")

    def _add(self, text: str, label: str) -> int:
        self.train.append({"text": text, "label": label, "id": self.next_id})
        self.next_id += 1
        return self.next_id - 1

    def _edited(self, row_text: str, kind: str) -> str | None:
        for _ in range(10):
            out = edit(row_text, kind, self.rng, self.vocabulary)
            if out is not None and out != row_text:
                return out
        return None

    def plant(self) -> None:
        rng = self.rng
        for _ in range(EXACT_GROUPS):
            source = self._take_train()
            ids = [source["id"]] + [self._add(source["text"], source["label"]) for _ in range(rng.choice((1, 2)))]
            self.groups.append({"kind": "exact", "ids": ids})
        for kind in ("case", "punctuation", "word"):
            made = 0
            while made < NEAR_GROUPS:
                source = self._take_train(need_words=NEAR_WORDS if kind == "word" else 1)
                text = self._edited(source["text"], kind)
                if text is None:
                    continue
                self.groups.append({"kind": kind, "ids": [source["id"], self._add(text, source["label"])]})
                made += 1
        made = 0
        while made < SHORT_WORD_GROUPS:
            try:
                source = self._take_train(short=True)
            except RuntimeError:
                break
            text = self._edited(source["text"], "word")
            if text is None:
                continue
            self.short_groups.append({"kind": "word_short", "ids": [source["id"], self._add(text, source["label"])]})
            made += 1
        # Leakage: validation texts copied into train (its label too, as a real leak would be).
        kinds = ["exact"] * LEAK_EXACT + ["case", "punctuation", "word"] * (LEAK_NEAR // 3)
        for kind in kinds:
            while True:
                v = self.unique_val.pop()
                text = self.val[v]["text"]
                if kind == "word" and len(norm_words(text)) < NEAR_WORDS:
                    continue
                copy = text if kind == "exact" else self._edited(text, kind)
                if copy is not None:
                    break
            self.leaks.append({"kind": kind, "id": self._add(copy, self.val[v]["label"]), "val": v})
        # Conflicts: a training text again with another label.
        for kind in ["exact"] * CONFLICT_EXACT + ["case", "punctuation"] * (CONFLICT_NEAR // 2):
            source = self._take_train()
            text = source["text"] if kind == "exact" else self._edited(source["text"], kind)
            if text is None:
                continue
            other = rng.choice([label for label in self.labels if label != source["label"]])
            self.conflicts.append({"kind": kind, "ids": [source["id"], self._add(text, other)]})
        # Flips: validation rows not in any leak, to another class.
        leaked = {leak["val"] for leak in self.leaks}
        candidates = [i for i in range(len(self.val)) if i not in leaked]
        self.flipped = sorted(rng.sample(candidates, FLIPS))
        for i in self.flipped:
            self.val[i]["true_label"] = self.val[i]["label"]
            self.val[i]["label"] = rng.choice([label for label in self.labels if label != self.val[i]["label"]])
        rng.shuffle(self.train)
        self.row_of = {row["id"]: k + 1 for k, row in enumerate(self.train)}

    def write(self, folder: Path) -> tuple[Path, Path]:
        folder.mkdir(parents=True, exist_ok=True)
        train = write_rows(folder / "train.csv", [r["text"] for r in self.train], [r["label"] for r in self.train])
        val = write_rows(folder / "validation.csv", [r["text"] for r in self.val], [r["label"] for r in self.val])
        return train, val

    def planted(self) -> dict:
        """The planted structures as 1-based data rows."""

        def rows(ids):
            return sorted(self.row_of[i] for i in ids)

        return {
            "duplicates": [{"kind": g["kind"], "rows": rows(g["ids"])} for g in self.groups],
            "short_word_changes": [{"kind": g["kind"], "rows": rows(g["ids"])} for g in self.short_groups],
            "leakage": [{"kind": x["kind"], "pair": [self.row_of[x["id"]], x["val"] + 1]} for x in self.leaks],
            "conflicts": [{"kind": c["kind"], "rows": rows(c["ids"])} for c in self.conflicts],
            "flipped": [i + 1 for i in self.flipped],
        }


def short_one_word_pairs(planter: Planter) -> dict:
    """Pairs of distinct base training texts under ten words that differ in one word (substituted): what a lower
    floor would report as near copies, and how many of them carry different labels (different examples)."""
    ids_planted = {i for g in planter.groups + planter.short_groups + planter.conflicts for i in g["ids"]}
    ids_planted |= {x["id"] for x in planter.leaks}
    keys: dict[tuple, dict[tuple, str]] = {}
    for row in planter.train:
        if row["id"] in ids_planted:
            continue
        words = tuple(norm_words(row["text"]))
        if not 3 <= len(words) < NEAR_WORDS:
            continue
        for i in range(len(words)):
            keys.setdefault((i, words[:i] + words[i + 1 :]), {})[words] = row["label"]
    pairs = different = 0
    for texts in keys.values():
        items = list(texts.items())
        for a in range(len(items)):
            for b in range(a + 1, len(items)):
                pairs += 1
                different += items[a][1] != items[b][1]
    return {"pairs": pairs, "with_different_labels": different}


# Step 1: the check ---------------------------------------------------------------------------------------------


def run_cli(args: list[str], env: dict, timeout: float = 900) -> tuple[subprocess.CompletedProcess, float]:
    started = time.perf_counter()
    proc = subprocess.run([*STUDIO, *args], capture_output=True, text=True, env=env, cwd=str(REPO), timeout=timeout)
    seconds = time.perf_counter() - started
    if proc.returncode != 0:
        raise RuntimeError(
            f"studio {' '.join(args[:1])} failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
        )
    return proc, seconds


def load() -> dict:
    load1, load5, load15 = os.getloadavg()
    return {"load1": round(load1, 2), "load5": round(load5, 2), "load15": round(load15, 2)}


def score_check(planter: Planter, found: dict) -> dict:
    truth = planter.planted()
    train_text = {k + 1: r["text"] for k, r in enumerate(planter.train)}
    val_text = {k + 1: r["text"] for k, r in enumerate(planter.val)}

    def group_index(groups):
        index = {}
        for g, members in enumerate(groups):
            for r in members:
                index[r] = g
        return index

    def recall(planted, reported, key="rows"):
        index = group_index(reported)
        by_kind: dict[str, list[int]] = {}
        missed = []
        for item in planted:
            hit = len({index.get(r, -1 - r) for r in item[key]}) == 1
            by_kind.setdefault(item["kind"], [0, 0])
            by_kind[item["kind"]][0] += hit
            by_kind[item["kind"]][1] += 1
            if not hit:
                missed.append(item)
        total = sum(v[0] for v in by_kind.values()), sum(v[1] for v in by_kind.values())
        return {
            "found": total[0],
            "planted": total[1],
            "recall": total[0] / max(1, total[1]),
            "by_kind": {k: f"{a}/{b}" for k, a in by_kind.items() for a, b in [by_kind[k]]},
            "missed": missed[:10],
        }

    planted_of: dict[int, int] = {}
    for g, item in enumerate(truth["duplicates"] + truth["short_word_changes"] + truth["conflicts"]):
        for r in item["rows"]:
            planted_of[r] = g

    def group_false_positives(groups, text_of):
        """Members of reported groups joined to no other member by a planted link or a near copy in the source."""
        unexplained, natural, examples = 0, 0, []
        for members in groups:
            for r in members:
                partners = [s for s in members if s != r]
                if any(planted_of.get(r, -1) == planted_of.get(s, -2) for s in partners):
                    continue
                best = max((similar(text_of[r], text_of[s]) for s in partners), default=0.0)
                if best >= SIMILAR_RATIO:
                    natural += 1
                else:
                    unexplained += 1
                    if len(examples) < 8:
                        examples.append(
                            {"row": r, "ratio": round(best, 3), "text": text_of[r][:160], "group": members[:6]}
                        )
        return {"false_positive_rows": unexplained, "natural_copy_rows": natural, "examples": examples}

    duplicates = recall(truth["duplicates"], found.get("duplicates", []))
    duplicates.update(group_false_positives(found.get("duplicates", []), train_text))
    short = recall(truth["short_word_changes"], found.get("duplicates", []))
    conflicts = recall(truth["conflicts"], found.get("conflicts", []))
    conflicts.update(group_false_positives(found.get("conflicts", []), train_text))
    reported_pairs = {tuple(p) for p in found.get("leakage", [])}
    planted_pairs = {tuple(x["pair"]) for x in truth["leakage"]}
    by_kind: dict[str, list[int]] = {}
    missed = []
    for x in truth["leakage"]:
        hit = tuple(x["pair"]) in reported_pairs
        by_kind.setdefault(x["kind"], [0, 0])
        by_kind[x["kind"]][0] += hit
        by_kind[x["kind"]][1] += 1
        if not hit:
            missed.append(x)
    fp, natural, examples = 0, 0, []
    for t, v in sorted(reported_pairs - planted_pairs):
        ratio = similar(train_text[t], val_text[v])
        if ratio >= SIMILAR_RATIO:
            natural += 1
        else:
            fp += 1
            if len(examples) < 8:
                examples.append(
                    {
                        "pair": [t, v],
                        "ratio": round(ratio, 3),
                        "train": train_text[t][:160],
                        "validation": val_text[v][:160],
                    }
                )
    leakage = {
        "found": len(planted_pairs & reported_pairs),
        "planted": len(planted_pairs),
        "recall": len(planted_pairs & reported_pairs) / max(1, len(planted_pairs)),
        "by_kind": {k: f"{a}/{b}" for k, (a, b) in by_kind.items()},
        "missed": missed[:10],
        "reported_pairs": len(reported_pairs),
        "false_positive_pairs": fp,
        "natural_copy_pairs": natural,
        "examples": examples,
    }
    return {
        "duplicates": duplicates,
        "short_word_changes_info": short,
        "leakage": leakage,
        "conflicts": conflicts,
        "all_found": duplicates["recall"] == 1 and leakage["recall"] == 1 and conflicts["recall"] == 1,
    }


# Steps 2-4: train, mislabels, thresholds, report ----------------------------------------------------------------


def train(train_csv: Path, val_csv: Path, export: Path, env: dict, epochs: float) -> tuple[Path, float, dict]:
    proc, seconds = run_cli(
        [
            "train",
            "--train",
            str(train_csv),
            "--validation",
            str(val_csv),
            "--epochs",
            str(epochs),
            "--output",
            str(export),
        ],
        env,
        timeout=1800,
    )
    run_dir = None
    for line in proc.stdout.splitlines():
        if line.startswith("run:"):
            run_dir = Path(line.split(":", 1)[1].strip())
    if run_dir is None:
        raise RuntimeError(f"studio train printed no run folder:\n{proc.stdout[-2000:]}")
    metrics = json.loads((export / "metrics.json").read_text(encoding="utf-8"))
    return run_dir, seconds, metrics


def mislabels(run_dir: Path, planter: Planter, env: dict) -> dict:
    output = run_dir / "mislabels.csv"
    _, seconds = run_cli(["mislabels", "--run", str(run_dir), "--output", str(output)], env)
    with open(output, newline="", encoding="utf-8") as handle:
        rows = [r for r in csv.DictReader(handle) if r["split"] == "validation"]
    flipped = {i + 1 for i in planter.flipped}
    top = [int(r["row"]) for r in rows[: 2 * FLIPS]]
    # The rows must be the validation file's: each candidate's text and label are that row's.
    mismatched = sum(
        1
        for r in rows
        if planter.val[int(r["row"]) - 1]["text"] != r["text"] or planter.val[int(r["row"]) - 1]["label"] != r["label"]
    )
    hits = len(flipped & set(top))
    suggested_right = sum(
        1
        for r in rows[: 2 * FLIPS]
        if int(r["row"]) in flipped and r["suggested"] == planter.val[int(r["row"]) - 1]["true_label"]
    )
    return {
        "seconds": round(seconds, 1),
        "validation_candidates": len(rows),
        "flipped": len(flipped),
        "flipped_in_top_200": hits,
        "target": FLIPS // 2,
        "passed": hits >= FLIPS // 2,
        "suggested_the_original_label": suggested_right,
        "rows_not_matching_the_file": mismatched,
    }


def threshold_check(export: Path, metrics: dict, val_csv: Path, planter: Planter, env: dict, work: Path) -> dict:
    import numpy as np

    out: dict = {
        "threshold": metrics.get("threshold"),
        "threshold_label": metrics.get("threshold_label"),
        "f1_at_threshold": metrics.get("f1_at_threshold"),
        "f1_at_0.5": metrics.get("f1_at_0.5"),
    }
    out["keys_present"] = all(k in metrics for k in ("threshold", "f1_at_threshold", "f1_at_0.5"))
    out["f1_not_below"] = out["keys_present"] and metrics["f1_at_threshold"] >= metrics["f1_at_0.5"]
    predictions = work / "predictions.csv"
    run_cli(["predict", "--model", str(export), "--input", str(val_csv), "--output", str(predictions)], env)
    with open(predictions, newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        header = reader.fieldnames or []
        rows = list(reader)
    out["predict_columns"] = header
    threshold, positive = metrics.get("threshold"), metrics.get("threshold_label")
    label_col = next((c for c in ("predicted_label", "prediction", "predicted") if c in header), None)
    prob_col = f"p({positive})" if f"p({positive})" in header else None
    out["columns_used"] = [label_col, prob_col]
    if threshold is None or label_col is None or prob_col is None:
        out["passed"] = False
        return out
    p = np.array([float(r[prob_col]) for r in rows])
    chosen = [r[label_col] for r in rows]
    expected = [positive if v >= threshold else next(x for x in planter.labels if x != positive) for v in p]
    between = (p >= min(threshold, 0.5)) & (p < max(threshold, 0.5))
    out["rows_following_threshold"] = f"{sum(a == b for a, b in zip(chosen, expected, strict=True))}/{len(rows)}"
    out["rows_between_0.5_and_threshold"] = int(between.sum())
    out["between_rows_thresholded"] = int(sum(chosen[i] == expected[i] for i in np.flatnonzero(between)))
    # The folder without the studio: plain transformers, argmax of the (folded) head.
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(export)
    model = AutoModelForSequenceClassification.from_pretrained(export).eval()
    texts = [r["text"] for r in planter.val]
    plain = []
    with torch.no_grad():
        for s in range(0, len(texts), 64):
            enc = tokenizer(texts[s : s + 64], truncation=True, max_length=128, padding=True, return_tensors="pt")
            plain += [model.config.id2label[int(i)] for i in model(**enc).logits.argmax(-1)]
    out["plain_transformers_agrees"] = f"{sum(a == b for a, b in zip(plain, chosen, strict=True))}/{len(rows)}"
    card = (export / "README.md").read_text(encoding="utf-8") if (export / "README.md").is_file() else ""
    lines = [ln for ln in card.splitlines() if "threshold" in ln.lower()]
    shown = any(f"{threshold:.2f}" in ln or f"{threshold:.4f}" in ln or f"{threshold:g}" in ln for ln in lines)
    out["model_card_lines"] = lines[:4]
    out["model_card_shows_threshold"] = shown
    out["passed"] = bool(
        out["f1_not_below"]
        and out["rows_following_threshold"] == f"{len(rows)}/{len(rows)}"
        and out["plain_transformers_agrees"] == f"{len(rows)}/{len(rows)}"
        and shown
    )
    return out


def report_and_screenshot(run_dir: Path, name: str, env: dict, shots: Path) -> dict:
    html = run_dir / "report.html"
    _, seconds = run_cli(["report", "--run", str(run_dir), "--output", str(html)], env)
    text = html.read_text(encoding="utf-8")
    external = re.findall(r"""(?:src|href)\s*=\s*["'](?!data:|#)([^"']+)""", text)
    out = {
        "seconds": round(seconds, 1),
        "bytes": len(text.encode("utf-8")),
        "img_tags": len(re.findall(r"<img\b", text)),
        "inline_svg": len(re.findall(r"<svg\b", text)),
        "external_references": external[:5],
    }
    browser = shutil.which("chromium-headless-shell") or shutil.which("chromium") or shutil.which("google-chrome")
    if browser is None:
        out["screenshot"] = "no headless Chromium on this machine"
        return out
    shots.mkdir(parents=True, exist_ok=True)
    png = shots / f"report-{name}.png"
    cmd = [
        browser,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--hide-scrollbars",
        f"--screenshot={png}",
        "--window-size=1280,6000",
        html.resolve().as_uri(),
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    out["browser"] = Path(browser).name
    out["screenshot"] = _shown(png) if png.is_file() else f"failed: {proc.stderr[-500:]}"
    if png.is_file():
        out["screenshot_size"] = _trim(png)
    return out


def _trim(png: Path) -> list[int]:
    """Cut the white below the page's end (the window is taller than any report); return the size kept."""
    import numpy as np
    from PIL import Image

    with Image.open(png) as image:
        pixels = np.asarray(image.convert("L"))
        inked = np.flatnonzero((pixels < 250).any(axis=1))
        bottom = int(inked[-1]) + 40 if len(inked) else pixels.shape[0]
        kept = image.crop((0, 0, image.width, min(bottom, image.height)))
    kept.save(png, optimize=True)
    return [kept.width, kept.height]


def _shown(path: Path) -> str:
    return str(path.relative_to(REPO)) if path.is_relative_to(REPO) else str(path)


# Main ------------------------------------------------------------------------------------------------------------


def main(argv=None) -> dict:
    args = parse_args(argv)
    work = args.work or Path(tempfile.mkdtemp(prefix="planted-check-"))
    env = {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "TOKENIZERS_PARALLELISM": "false",
        "STUDIO_HOME": str(work / "studio_home"),
    }
    result: dict = {
        "benchmark": "planted_check",
        "command": "python benchmarks/planted_check.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        "seed": args.seed,
        "machine": machine_info(),
        "load_at_start": load(),
        "planted_per_dataset": {
            "duplicate_groups": {
                "exact": EXACT_GROUPS,
                "case": NEAR_GROUPS,
                "punctuation": NEAR_GROUPS,
                "word (>= 10 words)": NEAR_GROUPS,
            },
            "short_word_changes_info": SHORT_WORD_GROUPS,
            "leakage_pairs": {"exact": LEAK_EXACT, "near (case, punctuation, word)": LEAK_NEAR},
            "conflict_groups": {"exact": CONFLICT_EXACT, "case or punctuation": CONFLICT_NEAR},
            "flipped_validation_labels": FLIPS,
        },
        "datasets": {},
    }
    for name in args.datasets:
        planter = Planter(name, args.seed, args.train_rows if name in args.train_datasets else None)
        planter.plant()
        train_csv, val_csv = planter.write(work / name)
        entry: dict = {"train_rows": len(planter.train), "validation_rows": len(planter.val), "labels": planter.labels}
        check_json = work / name / "check.json"
        before = load()
        _, seconds = run_cli(
            ["check", "--train", str(train_csv), "--validation", str(val_csv), "--json", str(check_json)], env
        )
        found = json.loads(check_json.read_text(encoding="utf-8"))
        entry["check"] = {
            "seconds_cli": round(seconds, 2),
            "seconds_engine": found.get("seconds"),
            "load": before,
            **score_check(planter, found),
        }
        print(
            f"{name}: check {seconds:.1f} s; duplicates {entry['check']['duplicates']['found']}/"
            f"{entry['check']['duplicates']['planted']}, leakage {entry['check']['leakage']['found']}/"
            f"{entry['check']['leakage']['planted']}, conflicts {entry['check']['conflicts']['found']}/"
            f"{entry['check']['conflicts']['planted']}",
            file=sys.stderr,
            flush=True,
        )
        if not args.check_only and name in args.train_datasets:
            export = work / name / "export"
            before = load()
            run_dir, seconds, metrics = train(train_csv, val_csv, export, env, args.epochs)
            entry["train"] = {
                "seconds": round(seconds, 1),
                "load": before,
                "epochs": args.epochs,
                "f1": metrics.get("f1"),
                "accuracy": metrics.get("accuracy"),
            }
            print(f"{name}: trained in {seconds:.0f} s, f1 {metrics.get('f1')}", file=sys.stderr, flush=True)
            entry["mislabels"] = {"load": load(), **mislabels(run_dir, planter, env)}
            print(
                f"{name}: mislabels {entry['mislabels']['flipped_in_top_200']}/100 in top 200",
                file=sys.stderr,
                flush=True,
            )
            if len(planter.labels) == 2:
                entry["threshold"] = threshold_check(export, metrics, val_csv, planter, env, work / name)
            entry["report"] = {"load": load(), **report_and_screenshot(run_dir, name, env, args.screenshots)}
        entry["check"]["short_texts_one_word_apart_in_source"] = short_one_word_pairs(planter)
        result["datasets"][name] = entry
    result["load_at_end"] = load()
    emit_result(result, args.out)
    return result


if __name__ == "__main__":
    main()
