"""Domain adaptation throughput: `studio adapt` (packed blocks) against a plain HF Trainer MLM run without packing.

Both continue the pre-training of the built-in model (all-MiniLM-L6-v2, which gets a fresh masked-LM head) on the
same corpus (../shared/data/wiki_text/corpus.txt, one paragraph a line), with the same learning rate, batch size
(16), maximum length (128), masking (15 %), seed and number of optimizer steps, in fp32, one after the other in
this one process:

  studio      studio.core.adapt.run_adapt: every passage's tokens ([CLS] text [SEP]) concatenated and cut into
              blocks of 128 (no padding, nothing cut off), the vocabulary projection computed for the masked
              positions only, fused AdamW
  studio_full the same, but the head scored on every position as the model's own forward does: what packing
              alone gains (only with --full-head, as it costs another run)
  plain       the reference run_mlm.py example's line_by_line way: each line its own example, truncated at 128
              tokens, DataCollatorForLanguageModeling padding each batch to its longest line, the model's own
              loss, TrainingArguments defaults (fused AdamW as the studio, random order)

tokens/s = real tokens (not padding) in the training batches / step time; step time is train begin -> last step
end on the same clock (benchmarks.common.step_clock_callback), so neither the studio's evaluations before and
after nor model loading count. The plain run also drops the tokens past 128 of every longer line (reported).

  python benchmarks/adapt_throughput.py --steps 20 --out benchmarks/results/DATE-adapt_throughput.json
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
    emit_result,
    machine_info,
    print_table,
    setup_environment,
    step_clock_callback,
)

CORPUS = SHARED_DATA / "wiki_text" / "corpus.txt"


def run_studio(args, folder: Path, full_head: bool) -> dict:
    """run_adapt with the step clock added to its Trainer; tokens from the Trainer's own count."""
    import studio.core.adapt_trainer as adapt_trainer
    from studio.core.adapt import AdaptConfig, run_adapt

    clock = step_clock_callback()
    original, find_head = adapt_trainer.MaskedLMTrainer, adapt_trainer.find_head
    trainers: list = []

    class Clocked(original):  # type: ignore[misc, valid-type]
        def __init__(self, *a, **k):
            k["callbacks"] = [*k.get("callbacks", []), clock]
            super().__init__(*a, **k)
            trainers.append(self)

    adapt_trainer.MaskedLMTrainer = Clocked  # type: ignore[misc]
    if full_head:
        adapt_trainer.find_head = lambda model: None  # type: ignore[assignment]
    try:
        config = AdaptConfig(
            corpus=str(CORPUS),
            steps=args.steps,
            max_length=args.max_length,
            batch_size=args.batch_size,
            learning_rate=args.lr,
            seed=args.seed,
            precision="fp32",
            device="cpu",
            # Two percent held out keeps the (untimed) evaluations before and after short; one at the end.
            validation_share=0.02,
            evaluations=1,
            output_dir=str(folder / ("studio_full" if full_head else "studio")),
        )
        started = time.monotonic()
        result = run_adapt(config)
        wall = time.monotonic() - started
    finally:
        adapt_trainer.MaskedLMTrainer, adapt_trainer.find_head = original, find_head  # type: ignore[misc]
    tokens = trainers[0].tokens_trained
    return {
        "steps": clock.steps,
        "step_seconds": clock.seconds,
        "tokens": tokens,
        "padding_tokens": 0,
        "tokens_per_second": tokens / clock.seconds,
        "corpus_tokens_seen_once": result.metrics["train_tokens"],
        "tokens_cut_off": 0,
        "perplexity_before": result.metrics["perplexity_before"],
        "perplexity_after": result.metrics["perplexity_after"],
        "process_part_seconds": wall,
    }


def run_plain(args) -> dict:
    """The run_mlm.py line_by_line recipe on the HF Trainer, counting real and padded tokens of each batch."""
    from datasets import Dataset
    from transformers import (
        AutoModelForMaskedLM,
        AutoTokenizer,
        DataCollatorForLanguageModeling,
        Trainer,
        TrainingArguments,
        set_seed,
    )
    from transformers.trainer_callback import PrinterCallback

    from studio.core.modeling import builtin_model_path

    started = time.monotonic()
    path = builtin_model_path()
    tokenizer = AutoTokenizer.from_pretrained(path)
    lines = [line.strip() for line in CORPUS.read_text(encoding="utf-8").splitlines() if line.strip()]
    full = sum(len(ids) for ids in tokenizer(lines, verbose=False)["input_ids"])
    data = Dataset.from_dict({"text": lines}).map(
        lambda b: tokenizer(b["text"], truncation=True, max_length=args.max_length, return_special_tokens_mask=True),
        batched=True,
        remove_columns=["text"],
    )
    kept = sum(len(ids) for ids in data["input_ids"])
    set_seed(args.seed)
    model = AutoModelForMaskedLM.from_pretrained(path)
    counts = {"real": 0, "padded": 0}

    class Counting(Trainer):
        def compute_loss(self, model, inputs, *a, **k):
            if model.training:
                counts["real"] += int(inputs["attention_mask"].sum())
                counts["padded"] += int(inputs["attention_mask"].numel())
            return super().compute_loss(model, inputs, *a, **k)

    clock = step_clock_callback()
    trainer = Counting(
        model=model,
        args=TrainingArguments(
            output_dir=tempfile.mkdtemp(prefix="plain-mlm-"),
            per_device_train_batch_size=args.batch_size,
            learning_rate=args.lr,
            max_steps=args.steps,
            seed=args.seed,
            save_strategy="no",
            report_to="none",
            disable_tqdm=True,
            use_cpu=True,
            logging_steps=max(1, args.steps // 4),
        ),
        train_dataset=data,
        data_collator=DataCollatorForLanguageModeling(tokenizer, mlm_probability=0.15),
        callbacks=[clock],
    )
    trainer.remove_callback(PrinterCallback)
    trainer.train()
    return {
        "steps": clock.steps,
        "step_seconds": clock.seconds,
        "tokens": counts["real"],
        "padding_tokens": counts["padded"] - counts["real"],
        "tokens_per_second": counts["real"] / clock.seconds,
        "corpus_tokens_seen_once": kept,
        "tokens_cut_off": full - kept,
        "process_part_seconds": time.monotonic() - started,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--max-length", type=int, default=128)
    parser.add_argument("--lr", type=float, default=1e-4)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--full-head", action="store_true", help="also run the studio with the head on every token")
    parser.add_argument("--out", help="write the figures here as JSON")
    args = parser.parse_args()
    setup_environment()
    from studio.core.quiet import quiet_libraries

    quiet_libraries()
    import torch

    runs: dict = {}
    started = time.monotonic()
    with tempfile.TemporaryDirectory() as tmp:
        runs["plain"] = run_plain(args)
        runs["studio"] = run_studio(args, Path(tmp), full_head=False)
        if args.full_head:
            runs["studio_full"] = run_studio(args, Path(tmp), full_head=True)
    base = runs["plain"]["tokens_per_second"]
    for figures in runs.values():
        figures["speedup_vs_plain"] = figures["tokens_per_second"] / base
    rows = [
        [
            name,
            f["steps"],
            f["tokens"],
            f["padding_tokens"],
            f["step_seconds"],
            f["tokens_per_second"],
            f["speedup_vs_plain"],
        ]
        for name, f in runs.items()
    ]
    print_table(
        "Masked-LM adaptation throughput (wiki_text, all-MiniLM-L6-v2, fp32, CPU)",
        ["system", "steps", "real tokens", "padding", "step s", "tokens/s", "x plain"],
        rows,
    )
    emit_result(
        {
            "benchmark": "adapt_throughput",
            "corpus": str(CORPUS.relative_to(SHARED_DATA)),
            "model": "all-MiniLM-L6-v2 (built-in, fresh masked-LM head)",
            "steps": args.steps,
            "batch_size": args.batch_size,
            "max_length": args.max_length,
            "learning_rate": args.lr,
            "precision": "fp32",
            "torch_threads": torch.get_num_threads(),
            "plain_padding": "per batch to its longest line (DataCollatorForLanguageModeling), lines cut at max_length",
            "runs": runs,
            "speedup": runs["studio"]["speedup_vs_plain"],
            "wall_seconds": time.monotonic() - started,
            "machine": machine_info(),
        },
        args.out,
    )


if __name__ == "__main__":
    main()
