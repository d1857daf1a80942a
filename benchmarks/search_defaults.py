"""A search against the default settings: `studio search --trials 8` (no --space: the default space) and a plain
`studio train` on the same rows, both through the CLI; the best trial's F1 should be at least the plain run's.

The default settings are the search's first trial (queued, or a grid's first point), so the best is at least theirs by
construction; the plain run shows that trial is the same run a user gets from `studio train`.

  python benchmarks/search_defaults.py                 # sms_spam: 400 train / 200 validation rows, 8 trials
  python benchmarks/search_defaults.py --quick         # 3 trials on 80 rows: a smoke check, not a measurement
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (
    REPO,
    SHARED_DATA,
    emit_result,
    machine_info,
    read_rows,
    setup_environment,
    stratified_subsample,
    write_rows,
)


def _studio(*args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "studio", *args], cwd=REPO, capture_output=True, text=True, env=os.environ, check=False
    )
    if done.returncode != 0:
        raise SystemExit(f"studio {' '.join(args)} failed: {done.stderr.strip()}")
    return done.stdout


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", choices=("sms_spam", "ag_news"), default="sms_spam")
    parser.add_argument("--train-rows", type=int, default=400)
    parser.add_argument("--validation-rows", type=int, default=200)
    parser.add_argument("--epochs", type=float, default=2.0)
    parser.add_argument("--trials", type=int, default=8)
    parser.add_argument("--method", choices=("tpe", "random", "grid"), default="tpe")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--out", help="write the result JSON here")
    args = parser.parse_args(argv)
    if args.quick:
        args.train_rows, args.validation_rows, args.trials, args.epochs = 80, 40, 3, 1.0
    setup_environment()
    home = Path(tempfile.mkdtemp(prefix="bench-search-defaults-"))
    os.environ["STUDIO_HOME"] = str(home)

    folder = SHARED_DATA / args.dataset
    texts, labels = read_rows(folder / "train.csv")
    train_t, train_l = stratified_subsample(texts, labels, args.train_rows, seed=1)
    val_texts, val_labels = read_rows(folder / ("validation.csv" if args.dataset == "sms_spam" else "test.csv"))
    val_t, val_l = stratified_subsample(val_texts, val_labels, args.validation_rows, seed=2)
    train_csv = write_rows(home / "train.csv", train_t, train_l)
    validation_csv = write_rows(home / "validation.csv", val_t, val_l)
    fixed = ["--train", str(train_csv), "--validation", str(validation_csv), "--epochs", str(args.epochs)]
    fixed += ["--max-length", "64"]

    load = [os.getloadavg()[0]]
    started = time.perf_counter()
    _studio("train", *fixed, "--output", str(home / "plain"))
    plain_seconds = time.perf_counter() - started
    plain_f1 = json.loads((home / "plain" / "metrics.json").read_text())["f1"]

    started = time.perf_counter()
    search = home / "search"
    out = _studio("search", *fixed, "--trials", str(args.trials), "--method", args.method, "--output", str(search))
    search_seconds = time.perf_counter() - started
    load.append(os.getloadavg()[0])
    summary = json.loads((search / "search.json").read_text())
    defaults = [t for t in summary["trials"] if t.get("defaults")]
    finished = [t for t in summary["trials"] if t["state"] in ("complete", "pruned")]
    result = {
        "benchmark": "search_defaults",
        "machine": machine_info(),
        "args": vars(args),
        "space": summary["space"],
        "plain_f1": plain_f1,
        "defaults_trial_f1": defaults[0]["metric"] if defaults else None,
        "best_f1": summary["best"]["metric"],
        "best_settings": summary["best"]["settings"],
        "best_minus_plain": summary["best"]["metric"] - plain_f1,
        "finished_trials": len(finished),
        "trials": [{k: t.get(k) for k in ("number", "settings", "state", "metric", "defaults")} for t in finished],
        "plain_seconds": round(plain_seconds, 1),
        "search_seconds": round(search_seconds, 1),
        "load_average": [round(x, 2) for x in load],
        "cli_output": out.strip().splitlines()[-3:],
    }
    print(json.dumps({k: result[k] for k in ("plain_f1", "defaults_trial_f1", "best_f1", "finished_trials")}))
    emit_result(result, args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
