"""ONNX parity per task: train the built-in model briefly on each task's real data, export fp32 and int8 ONNX, and
tabulate each export's parity.json (agreement with PyTorch, largest difference, the task's figure, size).

  single      sms_spam (text, label)
  multi       goemotions (text, labels)
  regression  stsb pairs (text, text_pair, score 0..5)
  pair        snli_pairs (text, text_pair, entailment / neutral / contradiction)
  token       ner_wikigold (tokens, BIO tags)

The first --rows training rows and --validation-rows validation rows of each; parity is measured by the export on
those validation rows (studio export's own check, not a re-implementation).

  python benchmarks/onnx_parity.py                      # 1,000 training rows each, 2 epochs, max length 64
  python benchmarks/onnx_parity.py --tasks token,multi --quick
"""

from __future__ import annotations

import argparse
import csv
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import SHARED_DATA, emit_result, machine_info, print_table, scratch_home, setup_environment

# task -> (folder under the shared data, TrainConfig settings)
TASKS = {
    "single": ("sms_spam", {}),
    "multi": ("goemotions", {"task": "multi"}),
    "regression": ("stsb", {"task": "regression", "pair_column": "text_pair"}),
    "pair": ("snli_pairs", {"task": "pair", "pair_column": "text_pair"}),
    "token": ("ner_wikigold", {"task": "token"}),
}


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="200 training rows, 100 validation rows, 1 epoch")
    p.add_argument("--out", help="also write the figures to this JSON file")
    p.add_argument("--tasks", default=",".join(TASKS), help="comma-separated: " + ", ".join(TASKS))
    p.add_argument("--rows", type=int, default=1000, help="first training rows of each dataset")
    p.add_argument("--validation-rows", type=int, default=500, help="first validation rows of each dataset")
    p.add_argument("--epochs", type=float, default=2.0)
    p.add_argument("--max-length", type=int, default=64)
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--data-dir", type=Path, default=SHARED_DATA)
    args = p.parse_args(argv)
    if args.quick:
        args.rows, args.validation_rows, args.epochs = min(args.rows, 200), min(args.validation_rows, 100), 1.0
    return args


def head(source: Path, dest: Path, rows: int) -> Path:
    """The first `rows` data rows of a CSV, header kept."""
    with open(source, newline="", encoding="utf-8") as handle:
        reader = csv.reader(handle)
        kept = [next(reader)]
        for row in reader:
            if len(kept) > rows:
                break
            kept.append(row)
    dest.parent.mkdir(parents=True, exist_ok=True)
    with open(dest, "w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows(kept)
    return dest


def main(argv=None) -> int:
    args = parse_args(argv)
    setup_environment()
    tmp_holder, tmp = scratch_home("onnx-parity")
    started = time.perf_counter()

    from studio.core.config import BUILTIN_MODEL, TrainConfig
    from studio.core.onnx_export import export_onnx
    from studio.core.quiet import quiet_libraries
    from studio.core.training import run_training

    quiet_libraries()
    figures: dict = {}
    rows = []
    for task in args.tasks.split(","):
        folder, settings = TASKS[task]
        train = head(args.data_dir / folder / "train.csv", tmp / task / "train.csv", args.rows)
        validation = head(
            args.data_dir / folder / "validation.csv", tmp / task / "validation.csv", args.validation_rows
        )
        print(f"training {task} on {folder} ...", file=sys.stderr, flush=True)
        config = TrainConfig(
            train_csv=str(train),
            validation_csv=str(validation),
            model=BUILTIN_MODEL,
            epochs=args.epochs,
            max_length=args.max_length,
            seed=args.seed,
            device="cpu",
            **settings,
        )
        run = run_training(config).model_dir.parent
        figures[task] = {"dataset": folder}
        for kind, quantize in (("onnx", False), ("onnx-int8", True)):
            report = export_onnx(run, tmp / task / kind, quantize=quantize)
            figures[task][kind] = report.to_dict()
            rows.append(
                [
                    task,
                    kind,
                    report.rows,
                    report.label_agreement,
                    report.max_abs_diff,
                    report.metric,
                    report.score,
                    report.score_pytorch,
                    -report.score_lost,
                    report.model_bytes / 2**20,
                ]
            )
    print_table(
        f"ONNX against PyTorch per task (built-in model, first {args.rows:,} training rows, {args.epochs:g} epochs; "
        "agreement: same label, same tag per word (token), or a value within tolerance (regression; see parity.py))",
        ["task", "format", "rows", "agreement", "max diff", "figure", "ONNX", "PyTorch", "points", "MB"],
        rows,
        digits=4,
    )
    targets = {
        "fp32_agreement_at_least_99_5": all(f["onnx"]["label_agreement"] >= 0.995 for f in figures.values()),
        "int8_within_1_point": all(f["onnx-int8"]["score_lost_points"] <= 1.0 for f in figures.values()),
    }
    print("targets: " + ", ".join(f"{k} {'PASS' if v else 'FAIL'}" for k, v in targets.items()))
    result = {
        "benchmark": "onnx_parity",
        "quick": args.quick,
        "command": "python benchmarks/onnx_parity.py " + " ".join(sys.argv[1:] if argv is None else argv),
        "machine": machine_info(),
        "rows": args.rows,
        "validation_rows": args.validation_rows,
        "epochs": args.epochs,
        "tasks": figures,
        "targets": targets,
        "wall_seconds": time.perf_counter() - started,
    }
    tmp_holder.cleanup()
    emit_result(result, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
