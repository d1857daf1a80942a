"""Early stopping: a 10-epoch run that plateaus, with and without `--early-stopping`; wall time saved, F1 kept.

Both runs train the built-in model through the real engine (studio.core.training.run_training, the same code as
`studio train`) on the same seeded sms_spam rows, one evaluation an epoch, and are scored twice: the validation
macro F1 of the model each run exports (its best checkpoint), and macro F1 of that export through
`transformers.pipeline` on held-out rows neither run saw.

  python benchmarks/early_stopping.py                       # 600 train / 200 validation / 500 held-out rows
  python benchmarks/early_stopping.py --quick               # 120 rows, 4 epochs: a smoke check, not a measurement
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (
    SHARED_DATA,
    emit_result,
    machine_info,
    print_table,
    ratio,
    read_rows,
    setup_environment,
    stratified_subsample,
    write_rows,
)


def _held_out_f1(model_dir: Path, texts: list[str], labels: list[str]) -> float:
    from sklearn.metrics import f1_score
    from transformers import pipeline

    classify = pipeline("text-classification", model=str(model_dir))
    predicted = [p["label"] for p in classify(texts, batch_size=64, truncation=True)]
    return float(f1_score(labels, predicted, average="macro"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train-rows", type=int, default=600)
    parser.add_argument("--validation-rows", type=int, default=200)
    parser.add_argument("--test-rows", type=int, default=500)
    parser.add_argument("--epochs", type=float, default=10)
    parser.add_argument("--patience", type=int, default=2)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--out", help="write the result JSON here")
    args = parser.parse_args(argv)
    if args.quick:
        args.train_rows, args.validation_rows, args.test_rows, args.epochs = 120, 60, 60, 4
    setup_environment()
    import os

    home = tempfile.mkdtemp(prefix="bench-early-")
    os.environ["STUDIO_HOME"] = home
    from studio.core.config import TrainConfig
    from studio.core.training import run_training

    texts, labels = read_rows(SHARED_DATA / "sms_spam" / "train.csv")
    train_t, train_l = stratified_subsample(texts, labels, args.train_rows, seed=1)
    rest_t, rest_l = read_rows(SHARED_DATA / "sms_spam" / "validation.csv")
    val_t, val_l = stratified_subsample(rest_t, rest_l, args.validation_rows, seed=2)
    used = set(val_t)
    others = [(t, y) for t, y in zip(rest_t, rest_l, strict=True) if t not in used]
    test_t, test_l = stratified_subsample([t for t, _ in others], [y for _, y in others], args.test_rows, seed=3)
    folder = Path(home)
    train_csv = write_rows(folder / "train.csv", train_t, train_l)
    val_csv = write_rows(folder / "validation.csv", val_t, val_l)

    rows, systems = [], {}
    full_name, early_name = f"{args.epochs:g} epochs", f"early stopping (patience {args.patience})"
    for name, patience in ((full_name, None), (early_name, args.patience)):
        config = TrainConfig(
            train_csv=str(train_csv),
            validation_csv=str(val_csv),
            epochs=args.epochs,
            batch_size=32,
            max_length=64,
            early_stopping=patience,
        )
        started = time.perf_counter()
        result = run_training(config)
        wall = time.perf_counter() - started
        m = result.metrics
        held_out = _held_out_f1(result.model_dir, test_t, test_l)
        systems[name] = {
            "wall_seconds": round(wall, 1),
            "epochs_completed": m["epochs_completed"],
            "best_step": m["best_step"],
            "stopped_early": m["stopped_early"],
            "validation_f1": m["f1"],
            "held_out_f1": held_out,
        }
        rows.append([name, wall, m["epochs_completed"], m["best_step"], m["f1"], held_out])
    full, early = systems[full_name], systems[early_name]
    summary = {
        "wall_time_ratio": ratio(early["wall_seconds"], full["wall_seconds"]),
        "wall_seconds_saved": round(full["wall_seconds"] - early["wall_seconds"], 1),
        "held_out_f1_change": round(early["held_out_f1"] - full["held_out_f1"], 4),
    }
    print_table(
        "Early stopping on sms_spam (built-in model)",
        ["system", "wall s", "epochs", "best step", "val F1", "held-out F1"],
        rows,
        digits=3,
    )
    print(summary)
    emit_result(
        {"benchmark": "early_stopping", "machine": machine_info(), "args": vars(args), "systems": systems, **summary},
        args.out,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
