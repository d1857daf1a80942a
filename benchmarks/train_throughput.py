"""Training throughput: the studio engine against the reference HF Trainer script, padded and per-batch padded.

Three systems train the built-in model (all-MiniLM-L6-v2) on the same CSVs with the same learning rate, epochs,
batch size, seed and maximum length, each in a fresh Python process, all in one invocation:

  engine      studio.core.training.run_training (length-grouped batches, per-batch padding, its default
              precision: bf16 autocast on CPUs with native bf16, fused AdamW, its evaluation and checkpoint at
              the end of the epoch)
  engine_fp32 the same engine with precision fp32, the references' precision: against the references it
              measures what batching (length grouping, per-batch padding) and the engine's other settings
              gain, without the precision; engine against engine_fp32 is the precision's own gain
  ref_padded  the reference text-classification example's way: every example padded to --max-length at
              tokenization, default_data_collator, TrainingArguments defaults (fp32, random order)
  ref_batch   the same script with per-batch padding (DataCollatorWithPadding, no max_length padding)

Times:
  train    engine: its own metrics["train_seconds"] (trainer.train(), which for the engine includes its
           end-of-epoch evaluation and checkpoint, not model loading or tokenization); reference: trainer.train()
  steps    first to last training step only (train begin -> last step end), the same clock for all three
  process  the whole child process, interpreter start to exit (imports, loading, tokenizing, final evaluation;
           the engine also exports its model)
samples/s = training rows x epochs / train time. Ratios are speed-ups: the other system's time / this system's.
F1 is macro F1 on the validation rows (the engine's final evaluation; the reference's one trainer.predict).

  python benchmarks/train_throughput.py                      # both datasets, all rows, 1 epoch
  python benchmarks/train_throughput.py --dataset sms_spam --rows 2000
  python benchmarks/train_throughput.py --quick               # ~200 sms_spam rows, for a smoke check
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import (
    SHARED_DATA,
    Stopwatch,
    child_result,
    emit_result,
    fmt,
    machine_info,
    prepare_dataset,
    print_table,
    ratio,
    run_child,
    setup_environment,
)

SYSTEMS = ("engine", "engine_fp32", "ref_batch", "ref_padded")
LABELS = {
    "engine": "studio engine",
    "engine_fp32": "studio engine, fp32",
    "ref_batch": "reference, per-batch padding",
    "ref_padded": "reference, padded to max length",
}


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="tiny run (sms_spam, ~200 rows, max length 64)")
    p.add_argument("--out", help="also write the figures to this JSON file")
    p.add_argument("--dataset", choices=("sms_spam", "ag_news", "both"), default="both")
    p.add_argument("--rows", type=int, default=None, help="training rows (stratified, seeded subsample); default all")
    p.add_argument(
        "--validation-rows",
        type=int,
        default=None,
        help="validation rows; default all of sms_spam's 558 and 2,000 of ag_news's test file",
    )
    p.add_argument("--epochs", type=float, default=1.0)
    p.add_argument("--learning-rate", type=float, default=5e-5)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--max-length", type=int, default=128)
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--systems", default=",".join(SYSTEMS), help=f"comma-separated subset of {','.join(SYSTEMS)}")
    p.add_argument("--repeats", type=int, default=1, help="runs of each system (interleaved); the median is kept")
    p.add_argument("--data-dir", type=Path, default=SHARED_DATA)
    p.add_argument("--keep", action="store_true", help="keep the temporary folder (CSVs, child logs, runs)")
    # Internal: one system in this process.
    p.add_argument("--child", choices=SYSTEMS, help=argparse.SUPPRESS)
    p.add_argument("--train", type=Path, help=argparse.SUPPRESS)
    p.add_argument("--validation", type=Path, help=argparse.SUPPRESS)
    p.add_argument("--workdir", type=Path, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.quick:
        args.dataset = "sms_spam" if args.dataset == "both" else args.dataset
        args.rows = min(args.rows or 192, 192)
        args.validation_rows = min(args.validation_rows or 96, 96)
        args.max_length = min(args.max_length, 64)
    return args


# Children ------------------------------------------------------------------------------------------------


def child_engine(args, precision: str = "auto") -> dict:
    started = time.perf_counter()
    import torch

    from studio.core.quiet import quiet_libraries

    quiet_libraries()
    from studio.core.config import BUILTIN_MODEL, TrainConfig
    from studio.core.events import Finished, Progress, RunStarted
    from studio.core.training import run_training

    imported = time.perf_counter() - started
    marks: dict = {}

    def reporter(event):
        now = time.perf_counter()
        if isinstance(event, RunStarted):
            marks["run_started"] = now
            marks["total_steps"] = event.total_steps
        elif isinstance(event, Progress):
            marks["steps_seconds"] = event.elapsed_s  # the last one: train begin -> last step end
            marks["steps"] = event.step
        elif isinstance(event, Finished):
            marks["finished"] = now

    config = TrainConfig(
        train_csv=str(args.train),
        validation_csv=str(args.validation),
        model=BUILTIN_MODEL,
        learning_rate=args.learning_rate,
        epochs=args.epochs,
        batch_size=args.batch_size,
        max_length=args.max_length,
        seed=args.seed,
        precision=precision,
    )
    called = time.perf_counter()
    result = run_training(config, reporter)
    done = time.perf_counter()
    m = result.metrics
    return {
        "system": "engine" if precision == "auto" else f"engine_{precision}",
        "f1": m["f1"],
        "accuracy": m["accuracy"],
        "train_seconds": m["train_seconds"],
        "steps_seconds": marks.get("steps_seconds"),
        "engine_samples_per_second": m["train_samples_per_second"],
        "steps": marks.get("steps"),
        "precision": m["precision_mode"],
        "device": m["device"],
        "import_seconds": imported,
        "prepare_seconds": marks.get("run_started", called) - called,  # read data, load model, tokenize
        "after_train_seconds": done - marks.get("run_started", called) - m["train_seconds"],  # final eval, export
        "torch_threads": torch.get_num_threads(),
    }


def child_reference(args, padding: str) -> dict:
    started = time.perf_counter()
    import torch

    from studio.core.quiet import quiet_libraries

    quiet_libraries()
    from benchmarks.common import build_reference_trainer, macro_f1, step_clock_callback

    imported = time.perf_counter() - started
    timings: dict = {}
    clock = step_clock_callback()
    trainer, val_ds, _labels = build_reference_trainer(
        args.train,
        args.validation,
        args.workdir / "out",
        padding=padding,
        learning_rate=args.learning_rate,
        epochs=args.epochs,
        batch_size=args.batch_size,
        max_length=args.max_length,
        seed=args.seed,
        callbacks=[clock],
        timings=timings,
    )
    with Stopwatch() as train:
        output = trainer.train()
    with Stopwatch() as evaluation:
        f1 = macro_f1(trainer, val_ds)
    return {
        "system": "ref_padded" if padding == "max_length" else "ref_batch",
        "f1": f1,
        "train_seconds": train.seconds,
        "steps_seconds": clock.seconds,
        "trainer_samples_per_second": output.metrics.get("train_samples_per_second"),
        "steps": clock.steps,
        "precision": "bf16" if trainer.args.bf16 else "fp16" if trainer.args.fp16 else "fp32",
        "device": str(trainer.args.device),
        "import_seconds": imported,
        "prepare_seconds": timings.get("load_seconds", 0) + timings.get("tokenize_seconds", 0),
        "after_train_seconds": evaluation.seconds,
        "torch_threads": torch.get_num_threads(),
    }


def run_as_child(args) -> None:
    setup_environment()
    if args.child == "engine":
        payload = child_engine(args)
    elif args.child == "engine_fp32":
        payload = child_engine(args, "fp32")
    else:
        payload = child_reference(args, "max_length" if args.child == "ref_padded" else "batch")
    child_result(payload)


# Parent -----------------------------------------------------------------------------------------------------


def bench_dataset(args, name: str, tmp: Path, systems: list[str]) -> dict:
    validation_rows = args.validation_rows
    if validation_rows is None and name == "ag_news":
        validation_rows = 2000
    train, validation, info = prepare_dataset(name, tmp / "data", args.rows, validation_rows, args.seed, args.data_dir)
    runs: dict[str, list[dict]] = {s: [] for s in systems}
    for repeat in range(args.repeats):
        for system in systems:
            workdir = tmp / f"{name}-{system}-{repeat}"
            workdir.mkdir(parents=True, exist_ok=True)
            argv = [
                str(Path(__file__).resolve()),
                "--child",
                system,
                "--train",
                str(train),
                "--validation",
                str(validation),
                "--workdir",
                str(workdir),
                "--epochs",
                str(args.epochs),
                "--learning-rate",
                str(args.learning_rate),
                "--batch-size",
                str(args.batch_size),
                "--max-length",
                str(args.max_length),
                "--seed",
                str(args.seed),
            ]
            # A fresh studio home per run: its own runs and a cold tokenization cache, nothing in the user's folders.
            env = {
                "STUDIO_HOME": str(workdir / "studio-home"),
                "HF_DATASETS_CACHE": str(workdir / "hf-datasets"),
                "HF_HUB_OFFLINE": "1",
                "TRANSFORMERS_OFFLINE": "1",
                "TOKENIZERS_PARALLELISM": "false",
            }
            print(f"[{name}] {system} (run {repeat + 1}/{args.repeats}) ...", file=sys.stderr, flush=True)
            payload = run_child(argv, env=env, log_path=workdir / "child.log")
            runs[system].append(payload)
    samples = info["train_rows"] * args.epochs
    results = {}
    for system, payloads in runs.items():
        chosen = sorted(payloads, key=lambda p: p["train_seconds"])[len(payloads) // 2]  # the median run
        chosen = dict(chosen)
        chosen["samples_per_second"] = samples / chosen["train_seconds"]
        chosen["steps_samples_per_second"] = samples / chosen["steps_seconds"] if chosen.get("steps_seconds") else None
        chosen["all_train_seconds"] = [p["train_seconds"] for p in payloads]
        results[system] = chosen
    for r in results.values():
        for ref in ("ref_padded", "ref_batch"):
            if ref in results:
                base = results[ref]
                r[f"speedup_vs_{ref}"] = ratio(base["train_seconds"], r["train_seconds"])
                r[f"steps_speedup_vs_{ref}"] = ratio(base.get("steps_seconds"), r.get("steps_seconds"))
                r[f"process_speedup_vs_{ref}"] = ratio(base["process_wall_seconds"], r["process_wall_seconds"])
                r[f"f1_points_vs_{ref}"] = (r["f1"] - base["f1"]) * 100
    if "engine" in results and "engine_fp32" in results:
        # The precision's own share of the engine's speed: the same engine, the same batches, fp32 instead.
        results["engine"]["speedup_vs_engine_fp32"] = ratio(
            results["engine_fp32"]["train_seconds"], results["engine"]["train_seconds"]
        )
    return {"data": info, "systems": results, "targets": targets(results)}


def targets(results: dict) -> dict:
    engine = results.get("engine")
    if engine is None:
        return {}
    out = {}
    if "ref_padded" in results:
        out["speedup_vs_ref_padded_at_least_2.5"] = engine["speedup_vs_ref_padded"] >= 2.5
        out["f1_within_0.5_points_of_ref_padded"] = abs(engine["f1_points_vs_ref_padded"]) <= 0.5
    if "ref_batch" in results:
        out["speedup_vs_ref_batch_at_least_1.0"] = engine["speedup_vs_ref_batch"] >= 1.0
    fp32 = results.get("engine_fp32")
    if fp32 is not None and "ref_batch" in results:
        # Precision-matched: the engine's batching must not lose to the per-batch script at the same precision.
        out["fp32_speedup_vs_ref_batch_at_least_1.0"] = fp32["speedup_vs_ref_batch"] >= 1.0
    return out


def print_dataset(name: str, block: dict, args) -> None:
    info, results = block["data"], block["systems"]
    headers = [
        "system",
        "precision",
        "train s",
        "steps s",
        "process s",
        "samples/s",
        "x padded",
        "x per-batch",
        "steps x padded",
        "process x padded",
        "F1",
        "F1 pts vs padded",
    ]
    rows = []
    for system in SYSTEMS:
        r = results.get(system)
        if r is None:
            continue
        rows.append(
            [
                LABELS[system],
                r["precision"],
                r["train_seconds"],
                r.get("steps_seconds"),
                r["process_wall_seconds"],
                r["samples_per_second"],
                r.get("speedup_vs_ref_padded"),
                r.get("speedup_vs_ref_batch"),
                r.get("steps_speedup_vs_ref_padded"),
                r.get("process_speedup_vs_ref_padded"),
                r["f1"],
                r.get("f1_points_vs_ref_padded"),
            ]
        )
    print_table(
        f"{name}: {info['train_rows']:,} training rows, {info['validation_rows']:,} validation rows, "
        f"{args.epochs:g} epoch(s), lr {args.learning_rate:g}, batch {args.batch_size}, "
        f"max length {args.max_length}",
        headers,
        rows,
        digits=3,
    )
    engine, fp32 = results.get("engine"), results.get("engine_fp32")
    if engine is not None and fp32 is not None:
        parts = [
            f"precision ({engine['precision']} vs fp32, same engine): x{fmt(engine.get('speedup_vs_engine_fp32'))}"
        ]
        for ref, what in (("ref_padded", "padded"), ("ref_batch", "per-batch")):
            if ref in results:
                parts.append(f"batching alone (fp32 vs fp32 {what}): x{fmt(fp32.get(f'speedup_vs_{ref}'))}")
        print("separate gains: " + "; ".join(parts))
    if block["targets"]:
        print("targets: " + ", ".join(f"{k} {'PASS' if v else 'FAIL'}" for k, v in block["targets"].items()))


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.child:
        run_as_child(args)
        return 0
    setup_environment()
    systems = [s.strip() for s in args.systems.split(",") if s.strip()]
    unknown = set(systems) - set(SYSTEMS)
    if unknown:
        raise SystemExit(f"unknown systems: {', '.join(sorted(unknown))}")
    names = ["sms_spam", "ag_news"] if args.dataset == "both" else [args.dataset]
    tmp_holder = tempfile.TemporaryDirectory(prefix="studio-bench-throughput-")
    tmp = Path(tmp_holder.name)
    started = time.perf_counter()
    try:
        blocks = {name: bench_dataset(args, name, tmp, systems) for name in names}
    finally:
        if args.keep:
            print(f"kept {tmp}", file=sys.stderr)
            tmp_holder._finalizer.detach()
        else:
            tmp_holder.cleanup()
    for name, block in blocks.items():
        print_dataset(name, block, args)
    result = {
        "benchmark": "train_throughput",
        "quick": args.quick,
        "command": "python benchmarks/train_throughput.py " + " ".join(sys.argv[1:] if argv is None else argv),
        "settings": {
            k: getattr(args, k)
            for k in (
                "epochs",
                "learning_rate",
                "batch_size",
                "max_length",
                "seed",
                "rows",
                "validation_rows",
                "repeats",
            )
        },
        "machine": machine_info(),
        "datasets": blocks,
        "wall_seconds": time.perf_counter() - started,
    }
    emit_result(result, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
