"""The body of an adaptation: corpus, model, packed blocks, the Trainer, perplexity before and after, the export."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

from studio.core import runs
from studio.core.adapt import (
    AdaptConfig,
    AdaptResult,
    finished_event,
    planned_epochs,
    started_event,
    write_metrics,
)
from studio.core.adapt_corpus import Corpus
from studio.core.errors import ConfigError, DataError
from studio.core.events import Message


def adapt(config: AdaptConfig, run_dir: Path, emit, stop, resume: bool, corpus: Corpus | None) -> AdaptResult:
    """Read, pack, measure, train, measure again and export; a stopped run exports too and stays resumable."""
    from transformers import set_seed
    from transformers.trainer_callback import PrinterCallback

    from studio.core.adapt_corpus import BlockDataset, PackedCollator, masked_once, pack, read_corpus, split_passages
    from studio.core.adapt_model import carried_pooler, load_masked_lm
    from studio.core.adapt_trainer import (
        AdaptCallback,
        MaskedLMTrainer,
        adapt_arguments,
        find_head,
        perplexity,
    )
    from studio.core.devices import choose_device, choose_precision
    from studio.core.modeling import max_length_of
    from studio.core.trainer import TrainBegins

    if corpus is None:
        emit(Message(f"Reading {Path(config.corpus).name} (resuming)"))
        corpus = read_corpus(config.corpus, config.text_column)
    train_passages, heldout_passages = split_passages(corpus.passages, config.validation_share, config.seed)
    column = f", column {corpus.text_column!r}" if corpus.text_column else ""
    emit(
        Message(
            f"{corpus.path.name}{column}: {len(corpus.passages):,} passages ({corpus.words:,} words); "
            f"{len(heldout_passages):,} held out to measure the perplexity, {len(train_passages):,} to train on"
        )
    )
    device = choose_device(config.device)
    precision = choose_precision(device, config.precision)
    # Seed before a fresh head is initialised, so that a run and its resumption start from the same weights.
    set_seed(config.seed)
    emit(Message(f"Loading the model {config.model}"))
    model, tokenizer, source, fresh = load_masked_lm(config.model, config.allow_pickle, config.trust_remote_code)
    if fresh:
        emit(
            Message(
                f"{source.display_name} has no masked-language-model head; a fresh one is made from its config, "
                "its output tied to the input embeddings"
            )
        )
    limit = max_length_of(model.config, tokenizer)
    if config.max_length > limit:
        raise ConfigError(
            f"This model reads at most {limit} tokens; set the maximum length to {limit} or less "
            f"(it is {config.max_length})."
        )
    train = pack(train_passages, tokenizer, config.max_length, offsets=config.whole_word)
    heldout = pack(heldout_passages, tokenizer, config.max_length, offsets=config.whole_word)
    if len(train) < 2:
        raise DataError(
            f"{corpus.path.name} gives only {train.tokens} tokens to train on, less than two blocks of "
            f"{config.max_length}; add more text or lower --max-length."
        )
    emit(
        Message(
            f"Packed {train.tokens:,} training tokens into {len(train):,} blocks of {train.input_ids.shape[1]} "
            f"(no padding); {heldout.tokens:,} held-out tokens in {len(heldout):,} blocks; masking "
            f"{config.mlm_probability:.0%} of {'whole words' if config.whole_word else 'tokens'}"
        )
    )
    epochs, why = planned_epochs(config, len(train))
    if why:
        emit(Message(why))
    config = config.with_changes(epochs=epochs)
    if fresh and not resume:
        from studio.core.adapt_model import start_fresh_head

        # A resumed run's head comes from its checkpoint.
        start_fresh_head(model, train.input_ids)
        emit(Message("The fresh head starts from the corpus's word frequencies and learns at 10x the encoder's rate"))
    # The held-out blocks are masked once, with the run's seed: every evaluation scores the same masked tokens.
    heldout_ds = masked_once(heldout, tokenizer, config.mlm_probability, config.whole_word, config.seed)
    callback = AdaptCallback(emit, stop, config.checkpoint_minutes * 60)

    def started(state) -> None:
        emit(started_event(run_dir, state, len(train), len(heldout), device, precision, model))

    begins = TrainBegins(started)
    collator = PackedCollator(tokenizer, config.mlm_probability, config.whole_word)
    trainer = MaskedLMTrainer(
        model=model,
        args=adapt_arguments(config, run_dir / runs.CHECKPOINTS, len(train), device, precision),
        train_dataset=BlockDataset(train),
        eval_dataset=heldout_ds,
        data_collator=collator,
        processing_class=tokenizer,
        callbacks=[begins, callback],
    )
    trainer.remove_callback(PrinterCallback)
    trainer.head_rate_scale = 10.0 if fresh else 1.0
    trainer.head = find_head(model)
    if trainer.head is None:
        emit(Message("This architecture's head is scored on every position (slower than on the masked ones only)"))
    checkpoint = runs.last_checkpoint(run_dir) if resume else None
    before = _before(run_dir) if resume else None
    if before is None:
        callback.phase = "before"
        before = float(trainer.evaluate()["eval_loss"])
        emit(Message(f"Held-out perplexity before adapting: {perplexity(before):,.2f} (loss {before:.4f})"))
    if checkpoint is not None:
        emit(Message(f"Resuming from {checkpoint.name}"))
    elif resume:
        emit(Message("No checkpoint was saved before the run stopped; starting it again from the beginning."))
    callback.phase = "during"
    start, evaluating = time.monotonic(), trainer.eval_seconds
    trainer.train(resume_from_checkpoint=str(checkpoint) if checkpoint else None)
    # Training time alone: the held-out evaluations during the run are not part of the throughput.
    seconds = time.monotonic() - start - (trainer.eval_seconds - evaluating)
    stopped = callback.stopped or stop.is_set()
    callback.phase = "after"
    if callback.last is not None and callback.last[0] == trainer.state.global_step:
        after = callback.last[1]
    else:
        after = float(trainer.evaluate()["eval_loss"])
    tokens = trainer.tokens_trained
    metrics = {
        "perplexity_before": round(perplexity(before), 4),
        "perplexity_after": round(perplexity(after), 4),
        "loss_before": round(before, 6),
        "loss_after": round(after, 6),
        "heldout_passages": len(heldout_passages),
        "heldout_tokens": heldout.tokens,
        "train_passages": len(train_passages),
        "train_tokens": train.tokens,
        "tokens": tokens,
        "seconds": round(seconds, 2),
        "tokens_per_second": round(tokens / max(seconds, 1e-9), 1),
        "epochs": round(float(trainer.state.epoch or 0), 4),
        "steps": trainer.state.global_step,
        "stopped": stopped,
        "mlm_probability": config.mlm_probability,
        "whole_word": config.whole_word,
        "max_length": config.max_length,
        "learning_rate": config.learning_rate,
        "batch_size": config.batch_size,
        "seed": config.seed,
        "base_model": source.display_name if source.kind != "folder" else Path(source.location).name,
        "fresh_head": fresh,
        "corpus": corpus.path.name,
        "text_column": corpus.text_column,
        "device": device,
        "precision": precision,
        "mask_token": tokenizer.mask_token,
    }
    emit(
        Message(
            f"Held-out perplexity {metrics['perplexity_before']:,.2f} -> {metrics['perplexity_after']:,.2f} "
            f"({metrics['tokens_per_second']:,.0f} tokens/s)"
        )
    )
    model_dir = run_dir / runs.MODEL
    _export(model_dir, trainer.model, tokenizer, carried_pooler(source.location, trainer.model), metrics)
    output_dir = None
    if config.output_dir:
        from studio.core.export import export_folder

        output_dir = export_folder(model_dir, config.output_dir)
    if not stopped:
        # A finished run needs no checkpoints; they are most of its size.
        shutil.rmtree(run_dir / runs.CHECKPOINTS, ignore_errors=True)
    runs.write_status(run_dir, "stopped" if stopped else "finished")
    emit(finished_event(run_dir, model_dir, metrics, stopped))
    return AdaptResult(run_dir=run_dir, model_dir=model_dir, metrics=metrics, stopped=stopped, output_dir=output_dir)


def _before(run_dir: Path) -> float | None:
    """The held-out loss measured before the run first trained (kept in its events log)."""
    for event in runs.read_events(run_dir):
        if event.get("kind") == "PerplexityEvaluated" and event.get("phase") == "before":
            return float(event["loss"])
    return None


def _export(model_dir: Path, model, tokenizer, pooler: dict, metrics: dict) -> None:
    from studio.core.adapt_model import adapt_card, save_masked_lm
    from studio.core.export import atomic_folder

    with atomic_folder(model_dir) as tmp:
        save_masked_lm(tmp, model, tokenizer, pooler)
        write_metrics(tmp, metrics)
        (tmp / "README.md").write_text(adapt_card(metrics), encoding="utf-8")
