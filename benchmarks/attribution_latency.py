"""Attribution latency: integrated gradients (captum, on the embeddings) of a 64-token text with the built-in model
on the CPU, the median of several runs; and the attention read for the same text."""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.common import setup_environment

REVIEW = (
    "the new phone arrived two days late and the box was dented but the screen is bright the battery lasts all "
    "day and the camera takes sharp pictures even at night so overall i am happy with it and would buy it again "
    "from this shop"
)
TEXT_WORDS = REVIEW.split(" ")


def text_of(tokenizer, tokens: int) -> str:
    """The longest prefix of the review whose encoding (with [CLS] and [SEP]) is at most `tokens` long."""
    words = []
    for word in TEXT_WORDS * 4:
        if len(tokenizer(" ".join([*words, word]))["input_ids"]) > tokens:
            break
        words.append(word)
    return " ".join(words)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--tokens", type=int, default=64)
    parser.add_argument("--steps", type=int, default=None, help="integrated-gradients steps (default: the app's)")
    parser.add_argument("--quick", action="store_true", help="2 runs: a smoke check of the script")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    setup_environment()
    import os

    os.environ.setdefault("STUDIO_HOME", tempfile.mkdtemp(prefix="attr-bench-"))
    import torch

    from studio.core import attributions
    from studio.core.inference import Predictor
    from studio.core.modeling import builtin_model_path

    steps = args.steps or attributions.DEFAULT_STEPS
    started = time.perf_counter()
    predictor = Predictor(builtin_model_path(), device="cpu")
    load_seconds = time.perf_counter() - started
    text = text_of(predictor.tokenizer, args.tokens)
    n_tokens = len(predictor.tokenizer(text)["input_ids"])
    attributions.explain(predictor, text, steps=steps)  # warm-up: captum's import, the first graph
    runs = 2 if args.quick else args.runs
    times, attention_times = [], []
    for _ in range(runs):
        t = time.perf_counter()
        found = attributions.explain(predictor, text, steps=steps)
        times.append(time.perf_counter() - t)
        t = time.perf_counter()
        attributions.attention(predictor, text)
        attention_times.append(time.perf_counter() - t)
    result = {
        "benchmark": "attribution_latency",
        "model": "built-in all-MiniLM-L6-v2 (6 layers, 22.7M parameters) with a 2-class head",
        "device": "cpu",
        "torch_threads": torch.get_num_threads(),
        "tokens": n_tokens,
        "ig_steps": steps,
        "runs": runs,
        "median_seconds": round(statistics.median(times), 3),
        "all_seconds": [round(x, 3) for x in times],
        "attention_median_seconds": round(statistics.median(attention_times), 3),
        "model_load_seconds": round(load_seconds, 2),
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "convergence_delta": round(float(found[0].delta), 6),
        "attribution_total": round(float(found[0].total), 6),
    }
    print(f"Integrated gradients of a {n_tokens}-token text, {steps} steps, built-in model on the CPU:")
    print(f"  median {result['median_seconds']:.2f} s over {runs} runs ({', '.join(f'{x:.2f}' for x in times)})")
    print(f"  attention of every layer and head: median {result['attention_median_seconds'] * 1000:.0f} ms")
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=1), encoding="utf-8")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
