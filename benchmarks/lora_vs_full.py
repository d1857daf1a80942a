"""LoRA against full fine-tuning on the built-in model: trainable parameters, samples/s, peak memory, macro F1.

Both systems train the built-in all-MiniLM-L6-v2 through the studio engine (studio.core.training.run_training)
on the same rows of sms_spam, with the same batch size, epochs, maximum length and seed, each in a fresh Python
process, one after the other, in one invocation:

  full   every weight trains, learning rate 5e-5 (the single-label task's default)
  lora   LoRA with the studio's defaults (TrainConfig's lora_alpha and lora_dropout; the JSON records them), rank
         8, on the attention's query, key and value, the head (pooler and classifier) trained fully, learning
         rate 5e-4 (the task's LoRA default); everything else frozen. The targets are checked on this one.
  lora_no_dropout  the same with LoRA dropout 0 (peft's own default): peft's dropout makes a copy of each adapted
         layer's input for the adapter, which the backward pass keeps (three per block here); measured for
         memory only, unless --speed-no-dropout

Figures:
  trainable   parameters that train (the run's metrics.json), and their share of all
  samples/s   training rows x epochs / seconds from the first to the last training step (the engine's Progress
              clock: no loading, tokenizing, evaluation or checkpoint); `train samples/s` is the engine's own
              figure over trainer.train() (which includes the end-of-epoch evaluation and checkpoint). The machine
              may be shared: the CPU time of the same steps (all threads, getrusage) is reported beside it, with
              the load average, as a figure other jobs sway less
  peak memory what training adds on top of the loaded model and data: on CUDA torch.cuda.max_memory_allocated
              from the first step to the last (peak minus the allocation at the start); on the CPU the resident set
              size (RSS, psutil) sampled every 10 ms from the first step to the last, peak minus its value when
              training began (tracemalloc does not see torch's allocations). On the CPU this comes from short
              runs of their own (the first 5 steps: the engine's first batch is its longest, and the
              optimizer's state exists from the first step) with MALLOC_MMAP_THRESHOLD_=65536: glibc then maps
              every tensor above 64 KiB on its own and gives it back when freed, so RSS follows the live tensors;
              with glibc's default (a threshold that grows as memory is freed) freed activations stay in the heap
              and the RSS of every system shows about the same high-water mark of fragmentation. The samples/s and
              F1 come from the full runs, with the default allocator (the mapping costs page faults).
  F1          macro F1 of the run's final evaluation on the held-out validation rows (sms_spam/validation.csv,
              not used for training; one evaluation per epoch, so no checkpoint is picked on them)

Targets (issue 13): LoRA >= 1.3x the samples/s of full fine-tuning, <= 0.7x its peak training memory, macro F1
within 0.02.

  python benchmarks/lora_vs_full.py                     # 1,500 training rows, 1 epoch, max length 64
  python benchmarks/lora_vs_full.py --quick             # 192 rows: a smoke check of the script
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import (
    SHARED_DATA,
    child_result,
    emit_result,
    fmt,
    machine_info,
    prepare_dataset,
    print_table,
    ratio,
    read_rows,
    rss_mb,
    run_child,
    setup_environment,
    write_rows,
)

SYSTEMS = ("full", "lora", "lora_no_dropout")
LEARNING_RATES = {"full": 5e-5, "lora": 5e-4, "lora_no_dropout": 5e-4}
MEMORY_STEPS = 5
MEMORY_VALIDATION_ROWS = 64
TARGETS = {"speedup": 1.3, "memory_ratio": 0.7, "f1_gap": 0.02}


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="tiny run (192 rows, 96 validation rows)")
    p.add_argument("--out", help="also write the figures to this JSON file")
    p.add_argument("--rows", type=int, default=1500, help="training rows (stratified, seeded subsample)")
    p.add_argument("--validation-rows", type=int, default=None, help="validation rows (default: all 558)")
    p.add_argument("--epochs", type=float, default=1.0)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--max-length", type=int, default=64)
    p.add_argument("--lora-rank", type=int, default=8)
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--systems", default=",".join(SYSTEMS), help="comma-separated subset (full and lora are needed)")
    p.add_argument(
        "--speed-no-dropout",
        action="store_true",
        help="also time lora_no_dropout over the whole epoch (by default it is measured for memory only)",
    )
    p.add_argument("--data-dir", type=Path, default=SHARED_DATA)
    # Internal: one system in this process.
    p.add_argument("--child", choices=SYSTEMS, help=argparse.SUPPRESS)
    p.add_argument("--measure", choices=("speed", "memory"), default="speed", help=argparse.SUPPRESS)
    p.add_argument("--train", type=Path, help=argparse.SUPPRESS)
    p.add_argument("--validation", type=Path, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.quick:
        args.rows = min(args.rows, 192)
        args.validation_rows = min(args.validation_rows or 96, 96)
    return args


class PeakMemory:
    """Peak memory that training adds: CUDA's allocator statistics, else the RSS sampled on a thread."""

    def __init__(self, interval: float = 0.01):
        import torch

        self.cuda = torch.cuda.is_available()
        self.interval = interval
        self.start_mb = self.peak_mb = 0.0
        self._done = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def method(self) -> str:
        if self.cuda:
            return "torch.cuda.max_memory_allocated minus the allocation when training began"
        return "process RSS (psutil), sampled every 10 ms, peak minus the RSS when training began"

    def begin(self) -> None:
        if self.cuda:
            import torch

            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
            self.start_mb = torch.cuda.memory_allocated() / 2**20
            return
        self.start_mb = self.peak_mb = rss_mb()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        while not self._done.is_set():
            self.peak_mb = max(self.peak_mb, rss_mb())
            time.sleep(self.interval)

    def end(self) -> None:
        if self.cuda:
            import torch

            torch.cuda.synchronize()
            self.peak_mb = torch.cuda.max_memory_allocated() / 2**20
            return
        self._done.set()
        if self._thread is not None:
            self._thread.join()
        self.peak_mb = max(self.peak_mb, rss_mb())

    @property
    def added_mb(self) -> float:
        return self.peak_mb - self.start_mb


def _cpu_seconds() -> float:
    """CPU time of this process, all threads (user + system): less swayed than wall time by other jobs."""
    import resource

    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def child(args) -> dict:
    from studio.core.quiet import quiet_libraries

    quiet_libraries()
    from studio.core.config import BUILTIN_MODEL, TrainConfig
    from studio.core.events import Progress, RunStarted
    from studio.core.training import run_training

    memory = PeakMemory()
    marks: dict = {}

    def reporter(event):
        if isinstance(event, RunStarted):
            marks["total_steps"] = event.total_steps
            marks["cpu_start"] = _cpu_seconds()
            memory.begin()
        elif isinstance(event, Progress):
            marks["steps_seconds"] = event.elapsed_s  # train begin -> this step's end
            marks["steps"] = event.step
            marks["cpu_seconds"] = _cpu_seconds() - marks.get("cpu_start", 0.0)
            if event.step >= event.total_steps and "memory_end" not in marks:
                memory.end()
                marks["memory_end"] = True

    lora = args.child != "full"
    config = TrainConfig(
        train_csv=str(args.train),
        validation_csv=str(args.validation),
        model=BUILTIN_MODEL,
        learning_rate=LEARNING_RATES[args.child],
        epochs=args.epochs,
        batch_size=args.batch_size,
        max_length=args.max_length,
        seed=args.seed,
        lora=lora,
        lora_rank=args.lora_rank,
        **({"lora_dropout": 0.0} if args.child == "lora_no_dropout" else {}),
    )
    result = run_training(config, reporter)
    if "memory_end" not in marks:
        memory.end()
    m = result.metrics
    samples = args.rows_trained * args.epochs
    return {
        "system": args.child,
        "measured_for": args.measure,
        "learning_rate": config.effective_learning_rate,
        "lora_alpha": config.lora_alpha if lora else None,
        "lora_dropout": config.lora_dropout if lora else None,
        "trainable_parameters": m.get("trainable_parameters"),
        "total_parameters": m.get("total_parameters"),
        "f1": m["f1"],
        "accuracy": m["accuracy"],
        "steps": marks.get("steps"),
        "steps_seconds": marks.get("steps_seconds"),
        "samples_per_second": samples / marks["steps_seconds"] if marks.get("steps_seconds") else None,
        "cpu_seconds": marks.get("cpu_seconds"),
        "samples_per_cpu_second": samples / marks["cpu_seconds"] if marks.get("cpu_seconds") else None,
        "train_seconds": m["train_seconds"],
        "train_samples_per_second": m["train_samples_per_second"],
        "memory_start_mb": memory.start_mb,
        "memory_peak_mb": memory.peak_mb,
        "peak_training_memory_mb": memory.added_mb,
        "memory_method": memory.method,
        "device": m["device"],
        "precision": m["precision_mode"],
    }


def _cuda() -> bool:
    import torch

    return bool(torch.cuda.is_available())


def _load_average() -> list[float] | None:
    # The machine is shared: the load beside the runs says how much to trust the times.
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


def main(argv=None) -> int:
    args = parse_args(argv)
    setup_environment()
    if args.child:
        args.rows_trained = len(read_rows(args.train)[0])
        child_result(child(args))
        return 0

    load_before = _load_average()
    with tempfile.TemporaryDirectory(prefix="bench-lora-") as tmp:
        folder = Path(tmp)
        train, validation, data = prepare_dataset(
            "sms_spam", folder, args.rows, args.validation_rows, seed=args.seed, data_dir=args.data_dir
        )
        texts, labels = read_rows(validation)
        n = MEMORY_VALIDATION_ROWS
        few = write_rows(folder / "memory-validation.csv", texts[:n], labels[:n])
        results: dict = {}
        memory_runs: dict = {}
        # The memory runs are only needed where RSS stands for memory (the CPU); on CUDA the full runs measure it.
        phases = ["speed"] if _cuda() else ["memory", "speed"]
        chosen = [sy for sy in SYSTEMS if sy in args.systems.split(",")]
        runs = [(ph, sy) for ph in phases for sy in chosen]
        if not args.speed_no_dropout:
            runs = [(ph, sy) for ph, sy in runs if not (ph == "speed" and sy == "lora_no_dropout")]
        for phase, system in runs:
            epochs = args.epochs if phase == "speed" else MEMORY_STEPS * args.batch_size / data["train_rows"]
            argv_child = [
                str(Path(__file__).resolve()),
                "--child",
                system,
                "--train",
                str(train),
                "--validation",
                str(validation if phase == "speed" else few),
                "--epochs",
                str(epochs),
                "--batch-size",
                str(args.batch_size),
                "--max-length",
                str(args.max_length),
                "--lora-rank",
                str(args.lora_rank),
                "--seed",
                str(args.seed),
                "--measure",
                phase,
            ]
            env = {"STUDIO_HOME": str(folder / f"home-{system}-{phase}")}
            if phase == "memory":
                env["MALLOC_MMAP_THRESHOLD_"] = "65536"
            started = time.perf_counter()
            payload = run_child(argv_child, env=env, log_path=folder / f"{system}-{phase}.log")
            (results if phase == "speed" else memory_runs)[system] = payload
            print(f"{system} ({phase}): {time.perf_counter() - started:.0f} s", file=sys.stderr, flush=True)
        load_after = _load_average()

    for system, run in memory_runs.items():
        if system not in results:
            # Measured for memory only: its short run says nothing of speed or F1.
            results[system] = {
                **run,
                **dict.fromkeys(("f1", "accuracy", "samples_per_second", "train_samples_per_second")),
                **dict.fromkeys(("samples_per_cpu_second", "steps_seconds", "cpu_seconds", "train_seconds")),
            }
        speed = results[system]
        speed["speed_run_peak_training_memory_mb"] = speed["peak_training_memory_mb"]
        speed["peak_training_memory_mb"] = run["peak_training_memory_mb"]
        speed["memory_method"] = (
            f"{run['memory_method']}, in a run of its own: the first {MEMORY_STEPS} steps, MALLOC_MMAP_THRESHOLD_=65536"
        )
        speed["memory_run"] = run
    full, lora = results["full"], results["lora"]
    comparison = {
        "trainable_share_full": ratio(full["trainable_parameters"], full["total_parameters"]),
        "trainable_share_lora": ratio(lora["trainable_parameters"], lora["total_parameters"]),
        "speedup": ratio(lora["samples_per_second"], full["samples_per_second"]),
        "cpu_time_speedup": ratio(lora["samples_per_cpu_second"], full["samples_per_cpu_second"]),
        "train_speedup": ratio(lora["train_samples_per_second"], full["train_samples_per_second"]),
        "memory_ratio": ratio(lora["peak_training_memory_mb"], full["peak_training_memory_mb"]),
        "f1_gap": lora["f1"] - full["f1"],
    }
    if "lora_no_dropout" in results:
        other = results["lora_no_dropout"]
        other_f1 = other["f1"] if other["f1"] is not None else math.nan
        comparison["no_dropout_speedup"] = ratio(other["samples_per_second"], full["samples_per_second"])
        comparison["no_dropout_memory_ratio"] = ratio(other["peak_training_memory_mb"], full["peak_training_memory_mb"])
        comparison["no_dropout_f1_gap"] = other_f1 - full["f1"]
    checks = {
        "speedup": comparison["speedup"] is not None and comparison["speedup"] >= TARGETS["speedup"],
        "memory_ratio": comparison["memory_ratio"] is not None
        and comparison["memory_ratio"] <= TARGETS["memory_ratio"],
        "f1_gap": abs(comparison["f1_gap"]) <= TARGETS["f1_gap"],
        "trainable_under_5_percent": (comparison["trainable_share_lora"] or 1) < 0.05,
    }
    print_table(
        f"LoRA vs full fine-tuning: built-in model, sms_spam {data['train_rows']} training / "
        f"{data['validation_rows']} validation rows, {args.epochs:g} epoch, batch {args.batch_size}, "
        f"max length {args.max_length}",
        ["system", "lr", "trainable", "share %", "samples/s", "train samples/s", "peak MB", "F1"],
        [
            [
                r["system"],
                f"{r['learning_rate']:g}",
                r["trainable_parameters"],
                100 * (ratio(r["trainable_parameters"], r["total_parameters"]) or 0),
                r["samples_per_second"],
                r["train_samples_per_second"],
                r["peak_training_memory_mb"],
                r["f1"],
            ]
            for r in results.values()
        ],
        digits=3,
    )
    print(f"\nmemory: {full['memory_method']}")
    print(
        f"CPU time of the training steps: LoRA {comparison['cpu_time_speedup']:.2f}x the samples per CPU-second "
        f"of full fine-tuning (load average before/after: {load_before} / {load_after})"
    )
    print(
        f"LoRA/full: {comparison['speedup']:.2f}x samples/s (target >= {TARGETS['speedup']}) "
        f"{'PASS' if checks['speedup'] else 'FAIL'}; "
        f"{comparison['memory_ratio']:.2f}x peak memory (target <= {TARGETS['memory_ratio']}) "
        f"{'PASS' if checks['memory_ratio'] else 'FAIL'}; "
        f"F1 {comparison['f1_gap']:+.4f} (target within {TARGETS['f1_gap']}) {'PASS' if checks['f1_gap'] else 'FAIL'}; "
        f"{100 * (comparison['trainable_share_lora'] or 0):.2f} % of parameters train "
        f"{'PASS' if checks['trainable_under_5_percent'] else 'FAIL'}"
    )
    if "lora_no_dropout" in results:
        print(
            f"LoRA without dropout/full: {fmt(comparison['no_dropout_speedup'])}x samples/s, "
            f"{fmt(comparison['no_dropout_memory_ratio'])}x peak memory, F1 {comparison['no_dropout_f1_gap']:+.4f}"
        )
    emit_result(
        {
            "benchmark": "lora_vs_full",
            "quick": args.quick,
            "command": "python " + " ".join(sys.argv),
            "settings": {
                "model": "builtin:all-MiniLM-L6-v2",
                "rows": args.rows,
                "validation_rows": data["validation_rows"],
                "epochs": args.epochs,
                "batch_size": args.batch_size,
                "max_length": args.max_length,
                "seed": args.seed,
                "learning_rates": LEARNING_RATES,
                "lora_rank": args.lora_rank,
            },
            "machine": {**machine_info(), "load_average_before": load_before, "load_average_after": load_after},
            "data": data,
            "systems": results,
            "comparison": comparison,
            "targets": TARGETS,
            "passed": checks,
        },
        args.out,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
