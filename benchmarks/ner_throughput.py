"""Token-classification (NER) training throughput: the studio engine vs the reference NER script, padded to max length.

The systems train the built-in model (all-MiniLM-L6-v2) on wikigold (tokens,tags CSVs) with the same epochs,
batch size, seed and maximum length, each in a fresh Python process:

- engine: `run_training(TrainConfig(task="token", ...))`: word-aligned labels, length-grouped batches padded
  per batch, an evaluation and a checkpoint per epoch, the best checkpoint kept;
- ref_padded: the HF token-classification example's way (run_ner.py with pad_to_max_length):
  `padding="max_length"` at tokenization, labels on each word's first sub-token, `default_data_collator`,
  `TrainingArguments` defaults except lr/epochs/batch size/seed, no evaluation or checkpoint during training,
  one `trainer.predict` at the end;
- ref_batch: the same script without pad_to_max_length (run_ner.py's default): `DataCollatorForTokenClassification`,
  each batch padded to its longest row.

Entity F1 is seqeval's micro F1 on the validation sentences. The engine's is its own final figure (strict
IOB2 after BIO repair, `metrics.json`); the references' is the example's (seqeval's default mode on the raw
predicted tags, which reads an I- that starts an entity as its start, as the repair does). `samples/s` =
training sentences x epochs / `train s` (the engine's `train_seconds`, its trainer.train() including its
evaluations and checkpoints; the references' trainer.train()). `steps s` is first-to-last training step.

A system may carry its own learning rate, `name@lr` (engine@2e-4, ref_batch@5e-5): one invocation can then
compare the task's default rate with the references' rates. Without it the references use the engine's rate
(the token task's default unless --learning-rate is given).

    python benchmarks/ner_throughput.py                         # all 1,442 training sentences, 1 epoch
    python benchmarks/ner_throughput.py --quick                 # ~200 sentences, for a smoke check
    python benchmarks/ner_throughput.py --epochs 3 --systems engine,engine@1e-4,ref_batch@5e-5,ref_batch@2e-4
"""

from __future__ import annotations

import argparse
import csv
import random
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
    machine_info,
    print_table,
    ratio,
    run_child,
    setup_environment,
)

KINDS = ("engine", "ref_padded", "ref_batch")
LABELS = {
    "engine": "studio engine",
    "ref_padded": "reference, padded to max length",
    "ref_batch": "reference, per-batch padding",
}


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="tiny run (~200 sentences, max length 64)")
    p.add_argument("--out", help="also write the figures to this JSON file")
    p.add_argument("--rows", type=int, default=None, help="training sentences (seeded sample); default all")
    p.add_argument("--validation-rows", type=int, default=None, help="validation sentences; default all 254")
    p.add_argument("--epochs", type=float, default=1.0)
    p.add_argument("--learning-rate", type=float, default=None, help="default: the token task's own")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--max-length", type=int, default=128)
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--systems", default="engine,ref_padded", help=f"comma-separated: {', '.join(KINDS)}, each @lr")
    p.add_argument("--data-dir", type=Path, default=SHARED_DATA)
    p.add_argument("--keep", action="store_true", help="keep the temporary folder (CSVs, child logs, runs)")
    # Internal: one system in this process.
    p.add_argument("--child", choices=KINDS, help=argparse.SUPPRESS)
    p.add_argument("--train", type=Path, help=argparse.SUPPRESS)
    p.add_argument("--validation", type=Path, help=argparse.SUPPRESS)
    p.add_argument("--workdir", type=Path, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.quick:
        args.rows = min(args.rows or 192, 192)
        args.validation_rows = min(args.validation_rows or 64, 64)
        args.max_length = min(args.max_length, 64)
    return args


# Data -------------------------------------------------------------------------------------------------------


def read_sentences(path: Path) -> list[tuple[str, str]]:
    with open(path, newline="", encoding="utf-8") as handle:
        return [(r["tokens"], r["tags"]) for r in csv.DictReader(handle)]


def write_sentences(path: Path, rows: list[tuple[str, str]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["tokens", "tags"])
        writer.writerows(rows)
    return path


def prepare_data(folder: Path, args) -> tuple[Path, Path, dict]:
    source = args.data_dir / "ner_wikigold"
    train, validation = read_sentences(source / "train.csv"), read_sentences(source / "validation.csv")
    rng = random.Random(args.seed)
    if args.rows is not None and args.rows < len(train):
        train = [train[i] for i in sorted(rng.sample(range(len(train)), args.rows))]
    if args.validation_rows is not None and args.validation_rows < len(validation):
        validation = [validation[i] for i in sorted(rng.sample(range(len(validation)), args.validation_rows))]
    info = {
        "dataset": "ner_wikigold",
        "train_sentences": len(train),
        "validation_sentences": len(validation),
        "train_words": sum(len(t.split()) for t, _ in train),
    }
    return write_sentences(folder / "train.csv", train), write_sentences(folder / "validation.csv", validation), info


# Children ---------------------------------------------------------------------------------------------------


def child_engine(args) -> dict:
    import torch

    from studio.core.quiet import quiet_libraries

    quiet_libraries()
    from studio.core.config import BUILTIN_MODEL, TrainConfig
    from studio.core.events import Progress
    from studio.core.training import run_training

    marks: dict = {}

    def reporter(event):
        if isinstance(event, Progress):
            marks["steps_seconds"] = event.elapsed_s  # the last one: train begin -> last step end
            marks["steps"] = event.step

    config = TrainConfig(
        train_csv=str(args.train),
        validation_csv=str(args.validation),
        model=BUILTIN_MODEL,
        task="token",
        learning_rate=args.learning_rate,
        epochs=args.epochs,
        batch_size=args.batch_size,
        max_length=args.max_length,
        seed=args.seed,
    )
    result = run_training(config, reporter)
    m = result.metrics
    return {
        "f1": m["f1"],
        "precision": m["precision"],
        "recall": m["recall"],
        "learning_rate": config.effective_learning_rate,
        "train_seconds": m["train_seconds"],
        "steps_seconds": marks.get("steps_seconds"),
        "steps": marks.get("steps"),
        "precision_mode": m.get("precision_mode"),
        "device": m.get("device"),
        "torch_threads": torch.get_num_threads(),
    }


def build_reference(args, padding: str, clock):
    """The HF token-classification example's Trainer on our CSVs (run_ner.py's tokenize_and_align_labels)."""
    from datasets import Dataset
    from transformers import (
        AutoModelForTokenClassification,
        AutoTokenizer,
        DataCollatorForTokenClassification,
        Trainer,
        TrainingArguments,
        default_data_collator,
        set_seed,
    )

    from studio.core.modeling import builtin_model_path

    train, validation = read_sentences(args.train), read_sentences(args.validation)
    # run_ner.py sorts the label list when the labels are strings.
    label_list = sorted({tag for _, tags in train for tag in tags.split()})
    label_to_id = {label: i for i, label in enumerate(label_list)}
    set_seed(args.seed)
    tokenizer = AutoTokenizer.from_pretrained(builtin_model_path())
    model = AutoModelForTokenClassification.from_pretrained(
        builtin_model_path(),
        num_labels=len(label_list),
        label2id=label_to_id,
        id2label=dict(enumerate(label_list)),
    )
    pad = "max_length" if padding == "max_length" else False

    def tokenize_and_align_labels(batch):
        tokenized = tokenizer(
            batch["tokens"], padding=pad, truncation=True, max_length=args.max_length, is_split_into_words=True
        )
        labels = []
        for i, tags in enumerate(batch["ner_tags"]):
            previous, ids = None, []
            for word in tokenized.word_ids(batch_index=i):
                ids.append(-100 if word is None or word == previous else label_to_id[tags[word]])
                previous = word
            labels.append(ids)
        tokenized["labels"] = labels
        return tokenized

    def dataset(rows):
        raw = Dataset.from_dict({"tokens": [t.split() for t, _ in rows], "ner_tags": [g.split() for _, g in rows]})
        return raw.map(tokenize_and_align_labels, batched=True, remove_columns=["tokens", "ner_tags"])

    train_ds, val_ds = dataset(train), dataset(validation)
    targs = TrainingArguments(
        output_dir=str(args.workdir / "out"),
        learning_rate=args.learning_rate,
        num_train_epochs=args.epochs,
        per_device_train_batch_size=args.batch_size,
        seed=args.seed,
        eval_strategy="no",
        save_strategy="no",
        report_to="none",
    )
    collator = default_data_collator if padding == "max_length" else DataCollatorForTokenClassification(tokenizer)
    trainer = Trainer(
        model=model,
        args=targs,
        train_dataset=train_ds,
        eval_dataset=val_ds,
        processing_class=tokenizer,
        data_collator=collator,
        callbacks=[clock],
    )
    return trainer, val_ds, label_list


def entity_f1(trainer, dataset, label_list) -> dict:
    """The example's compute_metrics: seqeval (default mode) on the tags of the labelled positions."""
    import numpy as np
    from seqeval.metrics import f1_score, precision_score, recall_score

    output = trainer.predict(dataset)
    predictions = np.argmax(output.predictions, axis=-1)
    true, predicted = [], []
    for p_row, l_row in zip(predictions, output.label_ids, strict=True):
        keep = l_row != -100
        true.append([label_list[i] for i in l_row[keep]])
        predicted.append([label_list[i] for i in p_row[keep]])
    return {
        "f1": float(f1_score(true, predicted)),
        "precision": float(precision_score(true, predicted)),
        "recall": float(recall_score(true, predicted)),
    }


def child_reference(args, padding: str) -> dict:
    import torch

    from studio.core.quiet import quiet_libraries

    quiet_libraries()
    from benchmarks.common import step_clock_callback

    clock = step_clock_callback()
    trainer, val_ds, label_list = build_reference(args, padding, clock)
    with Stopwatch() as train:
        trainer.train()
    scores = entity_f1(trainer, val_ds, label_list)
    return {
        **scores,
        "learning_rate": args.learning_rate,
        "train_seconds": train.seconds,
        "steps_seconds": clock.seconds,
        "steps": clock.steps,
        "precision_mode": "bf16" if trainer.args.bf16 else "fp16" if trainer.args.fp16 else "fp32",
        "device": str(trainer.args.device),
        "torch_threads": torch.get_num_threads(),
    }


def run_as_child(args) -> None:
    setup_environment()
    if args.child == "engine":
        payload = child_engine(args)
    else:
        if args.learning_rate is None:
            from studio.core.tasks import get_task

            args.learning_rate = get_task("token").default_learning_rate
        payload = child_reference(args, "max_length" if args.child == "ref_padded" else "batch")
    child_result(payload)


# Parent -----------------------------------------------------------------------------------------------------


def parse_systems(text: str) -> list[tuple[str, float | None]]:
    systems = []
    for item in (s.strip() for s in text.split(",") if s.strip()):
        kind, _, rate = item.partition("@")
        if kind not in KINDS:
            raise SystemExit(f"unknown system {kind!r}; choose from {', '.join(KINDS)}")
        systems.append((kind, float(rate) if rate else None))
    return systems


def run_system(args, kind: str, rate: float | None, train: Path, validation: Path, tmp: Path) -> dict:
    rate = rate if rate is not None else args.learning_rate
    name = kind if rate is None else f"{kind}@{rate:g}"
    workdir = tmp / name.replace("@", "-")
    workdir.mkdir(parents=True, exist_ok=True)
    argv = [str(Path(__file__).resolve()), "--child", kind, "--train", str(train), "--validation", str(validation)]
    argv += ["--workdir", str(workdir), "--epochs", str(args.epochs), "--batch-size", str(args.batch_size)]
    argv += ["--max-length", str(args.max_length), "--seed", str(args.seed)]
    if rate is not None:
        argv += ["--learning-rate", str(rate)]
    # A fresh studio home per run: its own runs and a cold tokenization cache.
    env = {
        "STUDIO_HOME": str(workdir / "studio-home"),
        "HF_DATASETS_CACHE": str(workdir / "hf-datasets"),
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "TOKENIZERS_PARALLELISM": "false",
    }
    print(f"[ner] {name} ...", file=sys.stderr, flush=True)
    payload = run_child(argv, env=env, log_path=workdir / "child.log")
    payload["system"], payload["kind"] = name, kind
    return payload


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.child:
        run_as_child(args)
        return 0
    setup_environment()
    systems = parse_systems(args.systems)
    tmp_holder = tempfile.TemporaryDirectory(prefix="studio-bench-ner-")
    tmp = Path(tmp_holder.name)
    started = time.perf_counter()
    try:
        train, validation, info = prepare_data(tmp / "data", args)
        results = [run_system(args, kind, rate, train, validation, tmp) for kind, rate in systems]
    finally:
        if args.keep:
            print(f"kept {tmp}", file=sys.stderr)
            tmp_holder._finalizer.detach()
        else:
            tmp_holder.cleanup()
    samples = info["train_sentences"] * args.epochs
    for r in results:
        r["samples_per_second"] = samples / r["train_seconds"]
        r["steps_samples_per_second"] = samples / r["steps_seconds"] if r.get("steps_seconds") else None
    # Each engine run against the padded reference at its own learning rate (else the first padded one).
    padded = [r for r in results if r["kind"] == "ref_padded"]
    for r in results:
        if r["kind"] != "engine" or not padded:
            continue
        base = next((p for p in padded if p["learning_rate"] == r["learning_rate"]), padded[0])
        r["reference"] = base["system"]
        r["speedup_vs_ref_padded"] = ratio(base["train_seconds"], r["train_seconds"])
        r["steps_speedup_vs_ref_padded"] = ratio(base.get("steps_seconds"), r.get("steps_seconds"))
        r["f1_vs_ref_padded"] = r["f1"] - base["f1"]
    references = [r for r in results if r["kind"] != "engine"]
    best_reference = max(references, key=lambda r: r["f1"]) if references else None
    targets = {}
    engines = [r for r in results if r["kind"] == "engine"]
    if engines and padded:
        first = engines[0]
        targets["speedup_vs_ref_padded_at_least_3"] = (first["speedup_vs_ref_padded"] or 0) >= 3.0
        # Entity F1 no more than 0.01 below the padded script's (above it is no failure).
        targets["f1_within_0.01_of_ref_padded"] = first["f1_vs_ref_padded"] >= -0.01
    if engines and best_reference is not None:
        targets["f1_at_least_best_reference_minus_0.01"] = engines[0]["f1"] >= best_reference["f1"] - 0.01

    rows = [
        [
            r["system"],
            LABELS[r["kind"]],
            r["learning_rate"],
            r["train_seconds"],
            r.get("steps_seconds"),
            r["process_wall_seconds"],
            r["samples_per_second"],
            r.get("speedup_vs_ref_padded"),
            r["f1"],
            r["precision"],
            r["recall"],
        ]
        for r in results
    ]
    print_table(
        f"wikigold NER: {info['train_sentences']:,} training sentences, {info['validation_sentences']:,} validation "
        f"sentences, {args.epochs:g} epoch(s), batch {args.batch_size}, max length {args.max_length}",
        [
            "system",
            "what",
            "lr",
            "train s",
            "steps s",
            "process s",
            "samples/s",
            "x padded",
            "entity F1",
            "precision",
            "recall",
        ],
        rows,
        digits=4,
    )
    if targets:
        print("targets: " + ", ".join(f"{k} {'PASS' if v else 'FAIL'}" for k, v in targets.items()))
    result = {
        "benchmark": "ner_throughput",
        "quick": args.quick,
        "command": "python benchmarks/ner_throughput.py " + " ".join(sys.argv[1:] if argv is None else argv),
        "settings": {
            k: getattr(args, k)
            for k in ("epochs", "learning_rate", "batch_size", "max_length", "seed", "rows", "validation_rows")
        },
        "data": info,
        "machine": machine_info(),
        "systems": results,
        "best_reference": best_reference["system"] if best_reference else None,
        "targets": targets,
        "wall_seconds": time.perf_counter() - started,
    }
    emit_result(result, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
