"""Search with and without pruning: 12 random-search trials over the learning rate on sms_spam, each way.

Both searches run through the real engine (studio.core.search: each trial a run of the built-in model) with the same
seeded random sampler, so they draw the same 12 learning rates; one lets Optuna's median pruner stop the trials that
fall behind at the same evaluation. Figures: wall time of each search, their ratio, and the best trial's validation
macro F1 of each.

  python benchmarks/search_pruning.py                  # 400 train / 200 validation rows, 2 epochs, 12 trials
  python benchmarks/search_pruning.py --quick          # 3 trials on 80 rows: a smoke check, not a measurement
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (
    SHARED_DATA,
    emit_result,
    machine_info,
    read_rows,
    setup_environment,
    stratified_subsample,
    write_rows,
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train-rows", type=int, default=400)
    parser.add_argument("--validation-rows", type=int, default=200)
    parser.add_argument("--epochs", type=float, default=2.0)
    parser.add_argument("--trials", type=int, default=12)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--out", help="write the result JSON here")
    args = parser.parse_args(argv)
    if args.quick:
        args.train_rows, args.validation_rows, args.trials, args.epochs = 80, 40, 3, 1.0
    setup_environment()
    home = Path(tempfile.mkdtemp(prefix="bench-search-"))
    os.environ["STUDIO_HOME"] = str(home)
    from studio.core.config import TrainConfig
    from studio.core.search import SearchSettings, prepare_search, run_search

    texts, labels = read_rows(SHARED_DATA / "sms_spam" / "train.csv")
    train_t, train_l = stratified_subsample(texts, labels, args.train_rows, seed=1)
    val_texts, val_labels = read_rows(SHARED_DATA / "sms_spam" / "validation.csv")
    val_t, val_l = stratified_subsample(val_texts, val_labels, args.validation_rows, seed=2)
    base = TrainConfig(
        train_csv=str(write_rows(home / "train.csv", train_t, train_l)),
        validation_csv=str(write_rows(home / "validation.csv", val_t, val_l)),
        epochs=args.epochs,
        batch_size=32,
        max_length=64,
        evaluations_per_epoch=4,
    )
    systems = {}
    for prune in (False, True):
        name = "pruned" if prune else "full"
        settings = SearchSettings(base, ("lr=1e-6:1e-3:log",), method="random", trials=args.trials, prune=prune)
        started = time.perf_counter()
        prepare_search(settings, home / name)
        result = run_search(home / name, export_best=False)
        wall = time.perf_counter() - started
        states = [t["state"] for t in result.trials]
        systems[name] = {
            "wall_seconds": round(wall, 1),
            "best_f1": result.best["metric"] if result.best else None,
            "best_learning_rate": result.best["settings"]["learning_rate"] if result.best else None,
            "complete": states.count("complete"),
            "pruned": states.count("pruned"),
            "learning_rates": [t["settings"]["learning_rate"] for t in result.trials],
        }
        print(name, systems[name], flush=True)
    full, pruned = systems["full"], systems["pruned"]
    summary = {
        "wall_time_ratio": pruned["wall_seconds"] / full["wall_seconds"],
        "best_f1_change": (pruned["best_f1"] or 0) - (full["best_f1"] or 0),
        "same_learning_rates": full["learning_rates"] == pruned["learning_rates"],
    }
    print(summary)
    emit_result(
        {"benchmark": "search_pruning", "machine": machine_info(), "args": vars(args), "systems": systems, **summary},
        args.out,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
