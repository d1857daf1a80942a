"""The pre-flight data check on 10,000 and 100,000 rows: its time, how it scales, and what it finds.

The files are ag_news training texts repeated with small edits, as a user's data with copies would be: each of
`rows / 10` source texts appears ten times, once as it is and nine times edited (case changed, punctuation
changed, one word changed, added or removed, at random positions). Both sizes have the same make-up, so the
time ratio measures scaling alone (linear: 10x the rows, about 10x the time).

Each size is checked `--repeats` times in this process after a warm-up (imports, the first tokenizer load), with
the built-in model's tokenizer (the default of `studio check`) and once without it (lengths estimated). The
figures are wall time and CPU time (the machine is shared: its load average is recorded beside them), and the
recall of the planted copies: the share of edited copies that are in one group with their source (copies by one
word need texts of at least ten words: shorter ones count only when their normalised words are all the same).

Targets (issue 15): 100,000 rows in under 10 s; scaling linear (time ratio 100k/10k at most 12).

  python benchmarks/preflight.py --out benchmarks/results/2026-11-30-preflight.json
  python benchmarks/preflight.py --quick
"""

from __future__ import annotations

import argparse
import csv
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import SHARED_DATA, emit_result, machine_info, print_table, setup_environment

TARGET_SECONDS = 10.0
TARGET_RATIO = 12.0
COPIES = 10
EDITS = ("case", "punctuation", "changed", "added", "removed")


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="1,000 and 10,000 rows, one repeat: a smoke check")
    p.add_argument("--out", help="also write the figures to this JSON file")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--data-dir", type=Path, default=SHARED_DATA)
    return p.parse_args(argv)


def edit(text: str, kind: str, rng: random.Random, vocabulary: list[str]) -> str:
    words = text.split()
    if kind == "case":
        return rng.choice((str.upper, str.lower, str.title))(text)
    if kind == "punctuation":
        stripped = " ".join(w.strip(".,;:!?\"'") or w for w in words)
        return rng.choice((stripped, text + "!!", text.replace(" ", ", ", 1)))
    i = rng.randrange(len(words))
    if kind == "changed":
        words[i] = rng.choice(vocabulary)
    elif kind == "added":
        words.insert(i, rng.choice(vocabulary))
    elif len(words) > 1:
        del words[i]
    return " ".join(words)


def write_edited(sources: list[tuple[str, str]], path: Path, seed: int) -> tuple[list[tuple[int, int, str]], list[str]]:
    """Each source COPIES times (the first as it is): ((source row, copy row, edit) of the edited copies, texts)."""
    rng = random.Random(seed)
    vocabulary = [w for text, _ in sources[:500] for w in text.split() if w.isalpha()]
    rows: list[tuple[str, str]] = []
    planted = []
    first_rows = {}
    order = [(s, c) for c in range(COPIES) for s in range(len(sources))]
    for source, copy in order:
        text, label = sources[source]
        if copy == 0:
            rows.append((text, label))
            first_rows[source] = len(rows)
        else:
            kind = rng.choice(EDITS)
            rows.append((edit(text, kind, rng, vocabulary), label))
            planted.append((first_rows[source], len(rows), kind))
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["text", "label"])
        writer.writerows(rows)
    return planted, [text for text, _ in rows]


def recall(report, planted: list[tuple[int, int, str]], texts: list[str]) -> dict:
    """Share of the edited copies found in one group with their source (those the check promises to find)."""
    from studio.core.near_duplicates import MIN_NEAR_WORDS
    from studio.core.text_scan import normalise

    group_of = {}
    for i, group in enumerate(report.values["duplicates"]):
        for row in group:
            group_of[row] = i
    promised = found = 0
    for source, copy, kind in planted:
        shortest = min(len(normalise(texts[source - 1])), len(normalise(texts[copy - 1])))
        if kind not in ("case", "punctuation") and shortest < MIN_NEAR_WORDS:
            continue  # a word apart in a short text: not promised
        promised += 1
        found += group_of.get(source, -1) == group_of.get(copy, -2)
    return {"promised": promised, "found": found, "recall": found / promised if promised else None}


def timed(path: Path, use_tokenizer: bool, repeats: int) -> tuple[list[float], list[float], object]:
    from studio.core.preflight import check_data

    walls, cpus, report = [], [], None
    for _ in range(repeats):
        wall, cpu = time.perf_counter(), time.process_time()
        report = check_data(path, use_tokenizer=use_tokenizer)
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    return walls, cpus, report


def main(argv=None) -> int:
    args = parse_args(argv)
    setup_environment()
    os.environ.setdefault("STUDIO_HOME", tempfile.mkdtemp(prefix="studio-bench-"))
    source = args.data_dir / "ag_news" / "train.csv"
    if not source.is_file():
        print(f"error: {source} is missing; give the shared datasets' folder with --data-dir", file=sys.stderr)
        return 2
    with open(source, newline="", encoding="utf-8") as handle:
        sources = [(r["text"], r["label"]) for r in csv.DictReader(handle)]
    sizes = (1_000, 10_000) if args.quick else (10_000, 100_000)
    repeats = 1 if args.quick else args.repeats
    folder = Path(tempfile.mkdtemp(prefix="preflight-bench-"))
    files = {}
    for rows in sizes:
        chosen = sources[: rows // COPIES]
        path = folder / f"ag_news_{rows}.csv"
        files[rows] = (path, *write_edited(chosen, path, seed=rows))

    from studio.core.preflight import check_data

    warm = folder / "warm.csv"
    write_edited(sources[:100], warm, seed=1)
    check_data(warm)  # imports and the tokenizer's first load, outside the timings

    result: dict = {"machine": machine_info(), "load_average_before": os.getloadavg(), "sizes": {}}
    table = []
    for rows in sizes:
        path, planted, texts = files[rows]
        walls, cpus, report = timed(path, True, repeats)
        plain_walls, plain_cpus, _ = timed(path, False, 1)
        found = recall(report, planted, texts)
        entry = {
            "rows": rows,
            "wall_seconds": walls,
            "cpu_seconds": cpus,
            "median_wall_seconds": statistics.median(walls),
            "median_cpu_seconds": statistics.median(cpus),
            "no_tokenizer_wall_seconds": plain_walls[0],
            "no_tokenizer_cpu_seconds": plain_cpus[0],
            "duplicate_groups": len(report.values["duplicates"]),
            "rows_in_groups": sum(len(g) for g in report.values["duplicates"]),
            "copies": found,
            "load_average_after": os.getloadavg(),
        }
        result["sizes"][str(rows)] = entry
        table.append(
            [
                f"{rows:,}",
                entry["median_wall_seconds"],
                entry["median_cpu_seconds"],
                entry["no_tokenizer_wall_seconds"],
                entry["duplicate_groups"],
                found["recall"],
                f"{os.getloadavg()[0]:.1f}",
            ]
        )
    print_table(
        "Pre-flight check (ag_news repeated with edits), built-in tokenizer",
        ["rows", "wall s", "cpu s", "wall s, no tokenizer", "groups", "copies found", "load avg"],
        table,
    )
    small, large = (result["sizes"][str(s)] for s in sizes)
    wall_ratio = large["median_wall_seconds"] / small["median_wall_seconds"]
    cpu_ratio = large["median_cpu_seconds"] / small["median_cpu_seconds"]
    result["ratio_wall"] = wall_ratio
    result["ratio_cpu"] = cpu_ratio
    print(f"\n{sizes[1]:,} / {sizes[0]:,} rows: wall time x{wall_ratio:.2f}, CPU time x{cpu_ratio:.2f}")
    if not args.quick:
        checks = {
            "100k_under_10s": large["median_wall_seconds"] < TARGET_SECONDS,
            "linear_scaling": wall_ratio <= TARGET_RATIO,
            "all_promised_copies_found": large["copies"]["recall"] == 1.0,
        }
        result["targets"] = checks
        for name, ok in checks.items():
            print(f"{'PASS' if ok else 'FAIL'}  {name}")
    emit_result(result, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
