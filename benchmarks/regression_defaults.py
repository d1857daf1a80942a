"""Regression's default learning rate: the studio (scaled targets) at several rates vs plain HF Trainer runs.

STS-B (pair regression, similarity 0-5), built-in model. The studio runs train with the regression task's
pieces (targets scaled to mean 0 and standard deviation 1, best checkpoint by Pearson, the scale folded into the
head at export); the references are the HF text-classification example's way for STS-B: num_labels=1, MSE on the
raw 0-5 targets, no scaling, the last model kept, the rest as the studio's defaults (batch 32, max length 128,
weight decay 0.01). Every exported folder is scored the same way, on held-out rows that neither training saw:
Pearson of `pipeline("text-classification", model=folder, function_to_apply="none")`'s scores.

The studio runs go through the real CLI (`studio train --task regression --pair-column text_pair`) once the
engine knows tasks (`--engine cli`), else through the engine's own Trainer (studio.core.trainer.make_trainer) fed
by the task (`--engine trainer`); `auto` picks the CLI when `studio train --help` lists `--task`.

    python benchmarks/regression_defaults.py                       # 2,000 train / 500 validation / 1,000 held out
    python benchmarks/regression_defaults.py --quick               # a smoke check of the script
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import REPO, SHARED_DATA, emit_result, machine_info, print_table, setup_environment

HEADER = ("text", "text_pair", "label")


def read_stsb(path: Path) -> list[tuple[str, str, str]]:
    with open(path, newline="", encoding="utf-8") as handle:
        return [(r["text"], r["text_pair"], r["label"]) for r in csv.DictReader(handle)]


def write(path: Path, rows: list[tuple[str, str, str]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(HEADER)
        writer.writerows(rows)
    return path


def prepare(folder: Path, data_dir: Path, train_rows: int, validation_rows: int, test_rows: int, seed: int):
    """Train rows from STS-B's train file; validation and held-out rows from two disjoint parts of its dev file."""
    train = read_stsb(data_dir / "stsb" / "train.csv")
    dev = read_stsb(data_dir / "stsb" / "validation.csv")
    rng = random.Random(seed)
    rng.shuffle(train)
    rng.shuffle(dev)
    if validation_rows + test_rows > len(dev):
        raise SystemExit(f"STS-B's dev file has {len(dev)} rows; ask for fewer validation and held-out rows.")
    return (
        write(folder / "train.csv", train[:train_rows]),
        write(folder / "validation.csv", dev[:validation_rows]),
        write(folder / "test.csv", dev[validation_rows : validation_rows + test_rows]),
    )


# Scoring ----------------------------------------------------------------------------------------------------


def score_folder(folder: Path, test_csv: Path) -> dict:
    """Pearson and Spearman of the pipeline's raw scores against the held-out values, and their MAE."""
    import numpy as np
    from scipy.stats import pearsonr, spearmanr
    from transformers import pipeline

    rows = read_stsb(test_csv)
    classifier = pipeline("text-classification", model=str(folder), function_to_apply="none", device="cpu")
    inputs = [{"text": a, "text_pair": b} for a, b, _ in rows]
    outputs = classifier(inputs, batch_size=64, truncation=True)
    predicted = np.array([o["score"] if isinstance(o, dict) else o[0]["score"] for o in outputs])
    true = np.array([float(v) for _, _, v in rows])
    return {
        "pearson": float(pearsonr(true, predicted)[0]),
        "spearman": float(spearmanr(true, predicted)[0]),
        "mae": float(np.mean(np.abs(predicted - true))),
        "predicted_range": [float(predicted.min()), float(predicted.max())],
    }


# The studio ------------------------------------------------------------------------------------------------


def cli_knows_tasks() -> bool:
    studio = Path(sys.executable).with_name("studio")
    if not studio.exists():
        return False
    result = subprocess.run([str(studio), "train", "--help"], capture_output=True, text=True, cwd=str(REPO))
    return "--task" in result.stdout


def studio_cli(train: Path, validation: Path, out: Path, lr: float, args, home: Path) -> dict:
    import os

    studio = Path(sys.executable).with_name("studio")
    command = [
        str(studio),
        "train",
        "--train",
        str(train),
        "--validation",
        str(validation),
        "--task",
        "regression",
        "--pair-column",
        "text_pair",
        "--epochs",
        str(args.epochs),
        "--max-length",
        str(args.max_length),
        "--output",
        str(out),
    ]
    if lr:
        command += ["--lr", str(lr)]
    started = time.perf_counter()
    env = {**os.environ, "STUDIO_HOME": str(home)}
    result = subprocess.run(command, capture_output=True, text=True, cwd=str(REPO), env=env)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{(result.stdout + result.stderr)[-3000:]}")
    metrics = json.loads((out / "metrics.json").read_text()) if (out / "metrics.json").exists() else {}
    return {"seconds": time.perf_counter() - started, "validation_pearson": metrics.get("pearson")}


def studio_trainer(train: Path, validation: Path, out: Path, lr: float, args) -> dict:
    """The engine's Trainer (sampler, precision, schedule) with the regression task's data, head, metrics, export."""
    from transformers import set_seed

    from studio.core.config import TrainConfig
    from studio.core.data import load_examples
    from studio.core.devices import choose_device, choose_precision
    from studio.core.modeling import load_for_training
    from studio.core.tasks import get_task
    from studio.core.trainer import make_trainer

    task = get_task("regression")
    examples = load_examples(train, validation, task="regression", pair_column="text_pair")
    config = TrainConfig(
        train_csv=str(train), learning_rate=lr, epochs=args.epochs, max_length=args.max_length, seed=args.seed
    )
    device = choose_device(config.device)
    precision = choose_precision(device, config.precision)
    set_seed(config.seed)
    model, tokenizer, _ = load_for_training(
        None, examples.labels, model_class=task.model_class(), head=task.model_config(examples)
    )
    train_ds, val_ds = task.tokenize(examples, tokenizer, config.max_length)
    computer = task.metrics(examples)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as checkpoints:
        trainer = make_trainer(
            config,
            Path(checkpoints),
            model,
            tokenizer,
            train_ds,
            val_ds,
            device,
            precision,
            computer,
            [],
            task,
            examples,
        )
        trainer.train()
        trainer.evaluate()
    report = computer.last_report or {}
    task.prepare_export(trainer.model, examples, report)
    trainer.model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    return {"seconds": time.perf_counter() - started, "validation_pearson": report.get("pearson")}


# The reference ---------------------------------------------------------------------------------------------


def reference(train: Path, out: Path, lr: float, args) -> dict:
    """The HF example's way on STS-B: one output, MSE on the raw targets, the last model; studio's other defaults."""
    from datasets import Dataset
    from transformers import (
        AutoModelForSequenceClassification,
        AutoTokenizer,
        DataCollatorWithPadding,
        Trainer,
        TrainingArguments,
        set_seed,
    )

    from studio.core.modeling import builtin_model_path

    rows = read_stsb(train)
    set_seed(args.seed)
    tokenizer = AutoTokenizer.from_pretrained(builtin_model_path())
    model = AutoModelForSequenceClassification.from_pretrained(builtin_model_path(), num_labels=1)

    def preprocess(batch):
        result = tokenizer(batch["text"], batch["text_pair"], max_length=args.max_length, truncation=True)
        result["label"] = [float(v) for v in batch["label"]]
        return result

    columns = {"text": [r[0] for r in rows], "text_pair": [r[1] for r in rows], "label": [r[2] for r in rows]}
    train_ds = Dataset.from_dict(columns).map(preprocess, batched=True, remove_columns=list(columns))
    training_args = TrainingArguments(
        output_dir=str(out / "checkpoints"),
        learning_rate=lr,
        num_train_epochs=args.epochs,
        per_device_train_batch_size=32,
        weight_decay=0.01,
        seed=args.seed,
        eval_strategy="no",
        save_strategy="no",
        report_to="none",
        disable_tqdm=True,
    )
    trainer = Trainer(
        model=model,
        args=training_args,
        train_dataset=train_ds,
        processing_class=tokenizer,
        data_collator=DataCollatorWithPadding(tokenizer),
    )
    started = time.perf_counter()
    trainer.train()
    seconds = time.perf_counter() - started
    trainer.model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    return {"seconds": seconds, "validation_pearson": None}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--train-rows", type=int, default=2000)
    p.add_argument("--validation-rows", type=int, default=500)
    p.add_argument("--test-rows", type=int, default=1000)
    p.add_argument("--epochs", type=float, default=1.0)
    p.add_argument("--max-length", type=int, default=128)
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--studio-lrs", default="5e-5,1e-4,2e-4", help="comma-separated; 0 = the task's default")
    p.add_argument("--reference-lrs", default="5e-5,2e-4")
    p.add_argument("--engine", choices=("auto", "cli", "trainer"), default="auto")
    p.add_argument("--data-dir", type=Path, default=SHARED_DATA)
    p.add_argument("--quick", action="store_true", help="200/100/100 rows: a smoke check, not a measurement")
    p.add_argument("--out", default=None, help="write the figures to this JSON file")
    args = p.parse_args()
    if args.quick:
        args.train_rows, args.validation_rows, args.test_rows = 200, 100, 100
    setup_environment()
    import os

    work = Path(tempfile.mkdtemp(prefix="regression-defaults-"))
    os.environ["STUDIO_HOME"] = str(work / "home")
    engine = args.engine if args.engine != "auto" else ("cli" if cli_knows_tasks() else "trainer")
    train, validation, test = prepare(
        work / "data", args.data_dir, args.train_rows, args.validation_rows, args.test_rows, args.seed
    )
    runs = []
    for lr in [float(v) for v in args.studio_lrs.split(",") if v]:
        out = work / f"studio-{lr:g}"
        if engine == "cli":
            figures = studio_cli(train, validation, out, lr, args, work / "home")
        else:
            figures = studio_trainer(train, validation, out, lr, args)
        runs.append({"system": f"studio ({engine})", "lr": lr, **figures, **score_folder(out, test)})
        print(json.dumps(runs[-1]), file=sys.stderr, flush=True)
    for lr in [float(v) for v in args.reference_lrs.split(",") if v]:
        out = work / f"reference-{lr:g}"
        figures = reference(train, out, lr, args)
        runs.append({"system": "reference", "lr": lr, **figures, **score_folder(out, test)})
        print(json.dumps(runs[-1]), file=sys.stderr, flush=True)

    print_table(
        f"STS-B, built-in model, {args.train_rows} train / {args.validation_rows} validation / {args.test_rows} "
        f"held-out rows, {args.epochs:g} epoch(s), max length {args.max_length}: held-out scores via pipeline",
        ["system", "lr", "held-out pearson", "spearman", "MAE", "validation pearson", "train s"],
        [
            [r["system"], f"{r['lr']:g}", r["pearson"], r["spearman"], r["mae"], r["validation_pearson"], r["seconds"]]
            for r in runs
        ],
        digits=4,
    )
    references = [r["pearson"] for r in runs if r["system"] == "reference"]
    bar = max(references) - 0.01 if references else None
    if bar is not None:
        print(f"\nTarget: held-out Pearson >= best reference - 0.01 = {bar:.4f}")
        for r in runs:
            if r["system"] != "reference":
                print(f"  studio lr {r['lr']:g}: {r['pearson']:.4f} {'PASS' if r['pearson'] >= bar else 'FAIL'}")
    emit_result(
        {"engine": engine, "settings": vars(args) | {"data_dir": str(args.data_dir)}, "runs": runs, "target": bar}
        | {"machine": machine_info()},
        args.out,
    )


if __name__ == "__main__":
    main()
