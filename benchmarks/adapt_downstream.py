"""Domain adaptation's pay-off: adapt the built-in model on unlabelled ag_news text, then fine-tune on a few labelled
rows from the adapted and from the original model, and score both on held-out rows.

The corpus, the labelled rows and the test rows are disjoint slices of ag_news (train.csv for the first two, test.csv
for the last). Both fine-tunings use the same settings through the real engine (`studio adapt` and `studio train`'s
functions); the figures are held-out perplexity before and after adapting, and macro F1 on the test rows.

  python benchmarks/adapt_downstream.py                 # 2,000 corpus texts, default adaptation, 400 labelled rows
  python benchmarks/adapt_downstream.py --corpus wiki   # the corpus from ../shared/data/wiki_text instead
  python benchmarks/adapt_downstream.py --quick         # a smoke check, not a measurement
"""

from __future__ import annotations

import argparse
import json
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


def _f1(model_dir: Path, texts: list[str], labels: list[str]) -> float:
    from sklearn.metrics import f1_score
    from transformers import pipeline

    classify = pipeline("text-classification", model=str(model_dir))
    predicted = [p["label"] for p in classify(texts, batch_size=64, truncation=True)]
    return float(f1_score(labels, predicted, average="macro"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus-rows", type=int, default=2000)
    parser.add_argument("--adapt-epochs", type=float, help="default: the adaptation's own (as `studio adapt`)")
    parser.add_argument("--corpus", choices=("ag_news", "wiki"), default="ag_news")
    parser.add_argument("--train-rows", type=int, default=400)
    parser.add_argument("--test-rows", type=int, default=1000)
    parser.add_argument("--epochs", type=float, default=2.0)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--out", help="write the result JSON here")
    args = parser.parse_args(argv)
    if args.quick:
        args.corpus_rows, args.train_rows, args.test_rows, args.adapt_epochs, args.epochs = 200, 80, 100, 1, 1
    setup_environment()
    home = Path(tempfile.mkdtemp(prefix="bench-adapt-"))
    os.environ["STUDIO_HOME"] = str(home)
    from studio.core.adapt import AdaptConfig, run_adapt
    from studio.core.config import TrainConfig
    from studio.core.training import run_training

    texts, labels = read_rows(SHARED_DATA / "ag_news" / "train.csv")
    if args.corpus == "wiki":
        lines = (SHARED_DATA / "wiki_text" / "corpus.txt").read_text(encoding="utf-8").splitlines()
        corpus = [line for line in lines if line.strip()][: args.corpus_rows]
    else:
        corpus = texts[6000 : 6000 + args.corpus_rows]
    (home / "corpus.txt").write_text("\n".join(t.replace("\n", " ") for t in corpus), encoding="utf-8")
    train_t, train_l = stratified_subsample(texts[:6000], labels[:6000], args.train_rows, seed=1)
    test_texts, test_labels = read_rows(SHARED_DATA / "ag_news" / "test.csv")
    test_t, test_l = stratified_subsample(test_texts, test_labels, args.test_rows, seed=2)
    train_csv = write_rows(home / "train.csv", train_t, train_l)

    started = time.perf_counter()
    corpus_file, adapted_dir = home / "corpus.txt", home / "adapted"
    load_before = os.getloadavg()[0]
    adapted = run_adapt(AdaptConfig(corpus=str(corpus_file), epochs=args.adapt_epochs, output_dir=str(adapted_dir)))
    adapt_seconds = time.perf_counter() - started
    metrics = json.loads((home / "adapted" / "adapt_metrics.json").read_text())
    results = {}
    for name, model in (("original", "builtin:all-MiniLM-L6-v2"), ("adapted", str(home / "adapted"))):
        config = TrainConfig(train_csv=str(train_csv), model=model, epochs=args.epochs, max_length=64, batch_size=16)
        run = run_training(config)
        results[name] = {"validation_f1": run.metrics["f1"], "test_f1": _f1(run.model_dir, test_t, test_l)}
    summary = {
        "perplexity_before": metrics["perplexity_before"],
        "perplexity_after": metrics["perplexity_after"],
        "perplexity_change": metrics["perplexity_after"] / metrics["perplexity_before"] - 1,
        "adapt_seconds": round(adapt_seconds, 1),
        "adapt_steps": metrics["steps"],
        "adapt_epochs": metrics["epochs"],
        "corpus_passages": len(corpus),
        "load_average": [round(load_before, 2), round(os.getloadavg()[0], 2)],
        "test_f1_original": results["original"]["test_f1"],
        "test_f1_adapted": results["adapted"]["test_f1"],
        "test_f1_change": results["adapted"]["test_f1"] - results["original"]["test_f1"],
    }
    print(json.dumps(summary, indent=1))
    emit_result(
        {"benchmark": "adapt_downstream", "machine": machine_info(), "args": vars(args), "runs": results, **summary},
        args.out,
    )
    del adapted
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
