"""GPU check: the engine in bf16 (fp16 where bf16 is missing) and fp32 against the reference script on ag_news.

Each system trains a BERT-base sized model made from its config (random weights: throughput needs no trained ones)
in a fresh child process, and reports samples/s, peak GPU memory and model FLOP utilisation (6 x non-embedding
parameters x real tokens per second, over the GPU's dense peak for that precision: its spec sheet where known, else
a measured matmul peak). Then a real out-of-memory (a huge batch) checks the studio's sentence and its retry
(`studio train --retry-on-oom`). Offline: data and missing wheels come from benchmarks/gpu_extras (ignored; see
gpu_check.sh --prepare), else from ../shared/data.

  bash benchmarks/gpu_check.sh            # on a GPU host, under 8 minutes
  bash benchmarks/gpu_check.sh --cpu      # a few steps of the same path on the CPU (the test suite runs this)
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import (
    REPO,
    SHARED_DATA,
    child_result,
    emit_result,
    machine_info,
    print_table,
    ratio,
    run_child,
    setup_environment,
    stratified_subsample,
    write_rows,
)

EXTRAS = REPO / "benchmarks" / "gpu_extras"
# Dense tensor-core peaks (TFLOP/s) from the vendors' spec sheets: bf16/fp16 and tf32 (fp32 matmuls on tensor cores).
PEAKS = {
    "H200": (989, 494),
    "H100": (989, 494),
    "A100": (312, 156),
    "L40S": (362, 183),
    "L4": (121, 60),
    "A10": (125, 62),
    "RTX 4090": (165, 83),
    "V100": (125, 15.7),
    "T4": (65, 8.1),
}


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--cpu", action="store_true", help="a few steps of the same path on the CPU, with a small model")
    p.add_argument("--rows", type=int, default=None, help="ag_news training rows (default 12,000; 48 with --cpu)")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--max-length", type=int, default=128)
    p.add_argument("--out", help="write the figures here (default benchmarks/results/DATE-gpu_check[-cpu].json)")
    p.add_argument("--child", help=argparse.SUPPRESS)
    p.add_argument("--child-args", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.rows is None:
        args.rows = 48 if args.cpu else 12_000
    if args.cpu:
        args.max_length = min(args.max_length, 32)
        args.batch_size = min(args.batch_size, 8)
    return args


def data_dir() -> Path:
    return EXTRAS / "data" if (EXTRAS / "data" / "ag_news" / "train.csv").is_file() else SHARED_DATA


def tokenizer_source() -> Path:
    """The BERT uncased vocabulary: the extras' copy, else the built-in model's tokenizer (the same vocabulary)."""
    if (EXTRAS / "tokenizer" / "tokenizer.json").is_file():
        return EXTRAS / "tokenizer"
    from studio.core.modeling import builtin_model_path

    return builtin_model_path()


def make_model(folder: Path, small: bool) -> Path:
    """BERT-base (110M parameters) from its config, or a 2-layer one for --cpu, with 4 labels, saved to folder."""
    from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification

    tokenizer = AutoTokenizer.from_pretrained(tokenizer_source())
    size = {"hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 2, "intermediate_size": 128}
    config = BertConfig(vocab_size=tokenizer.vocab_size, num_labels=4, **(size if small else {}))
    BertForSequenceClassification(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def prepare_data(folder: Path, rows: int) -> tuple[Path, Path]:
    from benchmarks.common import read_rows

    source = data_dir() / "ag_news"
    texts, labels = read_rows(source / "train.csv")
    texts, labels = stratified_subsample(texts, labels, rows, 42)
    v_texts, v_labels = read_rows(source / "test.csv")
    v_texts, v_labels = stratified_subsample(v_texts, v_labels, max(16, rows // 20), 42)
    return write_rows(folder / "train.csv", texts, labels), write_rows(folder / "validation.csv", v_texts, v_labels)


# ---- children -------------------------------------------------------------------------------------------------


def _peak_bytes() -> int:
    import torch

    if torch.cuda.is_available():
        return int(torch.cuda.max_memory_allocated())
    from benchmarks.common import rss_mb

    return int(rss_mb() * 2**20)


def child_engine(spec: dict) -> None:
    from studio.core.config import TrainConfig
    from studio.core.training import run_training

    config = TrainConfig(
        train_csv=spec["train"],
        validation_csv=spec["validation"],
        model=spec["model"],
        epochs=1,
        batch_size=spec["batch_size"],
        max_length=spec["max_length"],
        precision=spec["precision"],
        device=spec["device"],
        learning_rate=5e-5,
    )
    result = run_training(config)
    child_result(
        {
            "train_seconds": result.metrics["train_seconds"],
            "f1": result.metrics.get("f1"),
            "precision": result.metrics.get("precision_used", spec["precision"]),
            "peak_bytes": _peak_bytes(),
        }
    )


def child_reference(spec: dict) -> None:
    from benchmarks.common import build_reference_trainer

    trainer, _, _ = build_reference_trainer(
        Path(spec["train"]),
        Path(spec["validation"]),
        Path(spec["tmp"]) / "reference",
        padding="batch",
        batch_size=spec["batch_size"],
        max_length=spec["max_length"],
        model_path=spec["model"],
    )
    if spec["device"] == "cpu":
        trainer.args.use_cpu = True
    started = time.perf_counter()
    trainer.train()
    child_result({"train_seconds": time.perf_counter() - started, "peak_bytes": _peak_bytes()})


# ---- the parent -----------------------------------------------------------------------------------------------


def real_tokens(train_csv: Path, model: Path, max_length: int) -> int:
    """Tokens the model reads in one epoch (no padding): what model FLOPs count."""
    from transformers import AutoTokenizer

    from benchmarks.common import read_rows

    tokenizer = AutoTokenizer.from_pretrained(model)
    texts, _ = read_rows(train_csv)
    return sum(len(ids) for ids in tokenizer(texts, truncation=True, max_length=max_length)["input_ids"])


def non_embedding_parameters(model: Path) -> int:
    import torch
    from transformers import AutoConfig, AutoModelForSequenceClassification

    with torch.device("meta"):
        net = AutoModelForSequenceClassification.from_config(AutoConfig.from_pretrained(model))
    embeddings = sum(p.numel() for m in net.modules() if isinstance(m, torch.nn.Embedding) for p in m.parameters())
    return sum(p.numel() for p in net.parameters()) - embeddings


def gpu_peak(low_precision: bool) -> tuple[float | None, str]:
    """(peak FLOP/s, where it comes from) of the GPU for bf16/fp16 or for fp32 (tf32) matmuls."""
    import torch

    if not torch.cuda.is_available():
        return None, "no GPU"
    name = torch.cuda.get_device_name(0)
    for key, (half, tf32) in PEAKS.items():
        if key in name:
            return (half if low_precision else tf32) * 1e12, f"spec sheet of {key}"
    dtype = torch.bfloat16 if low_precision else torch.float32
    a = torch.randn(8192, 8192, device="cuda", dtype=dtype)
    torch.matmul(a, a)
    torch.cuda.synchronize()
    started = time.perf_counter()
    for _ in range(20):
        torch.matmul(a, a)
    torch.cuda.synchronize()
    return 20 * 2 * 8192**3 / (time.perf_counter() - started), f"measured matmul peak of {name}"


def oom_check(spec: dict, home: Path) -> dict:
    """A real out-of-memory: a huge batch at the longest length; the studio must say it in one sentence and retry."""
    env = {**os.environ, "STUDIO_HOME": str(home)}
    command = [
        sys.executable,
        "-m",
        "studio",
        "train",
        "--train",
        spec["train"],
        "--validation",
        spec["validation"],
        "--model",
        spec["model"],
        "--batch-size",
        "8192",
        "--max-length",
        "512",
        "--epochs",
        "0.05",
        "--output",
        str(Path(spec["tmp"]) / "oom-model"),
        "--retry-on-oom",
    ]
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, env=env, cwd=str(REPO), timeout=600)
    warnings = [line for line in done.stderr.splitlines() if "retrying with batch size" in line]
    return {
        "exit_code": done.returncode,
        "retries": len(warnings),
        "first_sentence": warnings[0] if warnings else None,
        "traceback": "Traceback" in done.stderr,
        "seconds": time.perf_counter() - started,
        "passed": done.returncode == 0 and bool(warnings) and "Traceback" not in done.stderr,
        "stderr_tail": done.stderr[-1500:] if done.returncode else "",
    }


def main(argv=None) -> int:
    args = parse_args(argv)
    setup_environment()
    if args.child:
        spec = json.loads(args.child_args)
        {"engine": child_engine, "reference": child_reference}[args.child](spec)
        return 0
    started = time.perf_counter()
    import torch

    cuda = torch.cuda.is_available() and not args.cpu
    if not cuda and not args.cpu:
        print("error: no GPU is visible to torch here; run with --cpu for the CPU path.", file=sys.stderr)
        return 2
    low = "bf16" if cuda and torch.cuda.is_bf16_supported() else "fp16"
    tmp_holder = tempfile.TemporaryDirectory(prefix="studio-gpu-check-")
    tmp = Path(tmp_holder.name)
    home = tmp / "home"
    model = make_model(tmp / "model", small=args.cpu)
    train, validation = prepare_data(tmp / "data", args.rows)
    spec = {
        "train": str(train),
        "validation": str(validation),
        "model": str(model),
        "batch_size": args.batch_size,
        "max_length": args.max_length,
        "device": "cuda" if cuda else "cpu",
        "tmp": str(tmp),
    }
    tokens = real_tokens(train, model, args.max_length)
    params = non_embedding_parameters(model)
    systems = [("engine", low if cuda else "fp32"), ("engine", "fp32"), ("reference", "fp32")]
    if not cuda:
        systems = systems[1:]
    figures: dict[str, dict] = {}
    env = {"STUDIO_HOME": str(home), "CUDA_VISIBLE_DEVICES": os.environ.get("CUDA_VISIBLE_DEVICES", "0")}
    if not cuda:
        env["CUDA_VISIBLE_DEVICES"] = ""
    for kind, precision in systems:
        name = f"{kind} {precision}"
        print(f"training: {name} ...", file=sys.stderr, flush=True)
        child_spec = {**spec, "precision": precision}
        out = run_child(
            [str(Path(__file__)), "--child", kind, "--child-args", json.dumps(child_spec)], env=env, timeout=900
        )
        peak, source = gpu_peak(precision != "fp32") if cuda else (None, "no GPU")
        rate = 6 * params * tokens / out["train_seconds"]
        figures[name] = {
            **out,
            "samples_per_second": args.rows / out["train_seconds"],
            "model_flops_per_second": rate,
            "mfu": rate / peak if peak else None,
            "peak_source": source,
            "peak_memory_gib": out["peak_bytes"] / 2**30,
        }
    reference = figures["reference fp32"]["samples_per_second"]
    for f in figures.values():
        f["x_reference"] = ratio(f["samples_per_second"], reference)
    oom = oom_check(spec, home) if cuda else {"skipped": "no GPU: an out-of-memory needs one", "passed": None}
    print_table(
        f"{'GPU' if cuda else 'CPU'} check: {'BERT-base' if not args.cpu else 'a 2-layer BERT'} on {args.rows:,} "
        f"ag_news rows, batch {args.batch_size}, length {args.max_length}",
        ["system", "samples/s", "x reference", "peak memory GiB", "MFU", "train s"],
        [
            [n, f["samples_per_second"], f["x_reference"], f["peak_memory_gib"], f["mfu"], f["train_seconds"]]
            for n, f in figures.items()
        ],
    )
    print(f"out of memory: {oom}")
    result = {
        "benchmark": "gpu_check",
        "cpu": args.cpu,
        "device": torch.cuda.get_device_name(0) if cuda else "cpu",
        "machine": {**machine_info(), "torch": torch.__version__},
        "rows": args.rows,
        "batch_size": args.batch_size,
        "max_length": args.max_length,
        "non_embedding_parameters": params,
        "real_tokens": tokens,
        "systems": figures,
        "out_of_memory": oom,
        "wall_seconds": time.perf_counter() - started,
    }
    tmp_holder.cleanup()
    suffix = "-cpu" if args.cpu else ""
    out_path = args.out or str(REPO / "benchmarks" / "results" / f"{date.today():%Y-%m-%d}-gpu_check{suffix}.json")
    emit_result(result, out_path)
    return 0 if oom.get("passed") in (True, None) else 1


if __name__ == "__main__":
    sys.exit(main())
