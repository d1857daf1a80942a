"""Domain adaptation on tiny models: packing, whole-word masking, perplexity, the adapted folder, stop and resume."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from studio.core.events import Progress
from tests.conftest import make_tiny_model


def make_tiny_mlm(folder: Path) -> Path:
    """A 2-layer BERT with hidden size 32 and a masked-LM head, with the built-in model's tokenizer."""
    import torch
    from transformers import AutoTokenizer, BertConfig, BertForMaskedLM

    from studio.core.modeling import builtin_model_path

    tokenizer = AutoTokenizer.from_pretrained(builtin_model_path())
    config = BertConfig(
        vocab_size=tokenizer.vocab_size,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=37,
        max_position_embeddings=128,
    )
    torch.manual_seed(0)
    BertForMaskedLM(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def tiny_mlm_dir(tmp_path_factory) -> Path:
    return make_tiny_mlm(tmp_path_factory.mktemp("tiny-mlm"))


@pytest.fixture(scope="module")
def tokenizer():
    from transformers import AutoTokenizer

    from studio.core.modeling import builtin_model_path

    return AutoTokenizer.from_pretrained(builtin_model_path())


ANIMALS = ["cat", "dog", "bird", "horse", "mouse"]
PLACES = ["mat", "rug", "sofa", "floor", "bed"]


def repetitive_corpus(path: Path, lines: int = 300) -> Path:
    """Sentences from one small pattern: a tiny model learns to fill in its words within a few dozen steps."""
    text = [
        f"the {ANIMALS[i % 5]} sat on the {PLACES[i % 5]} and the {ANIMALS[i % 5]} slept on the {PLACES[i % 5]} ."
        for i in range(lines)
    ]
    path.write_text("\n".join(text) + "\n", encoding="utf-8")
    return path


def test_packing_leaves_no_padding_and_keeps_every_token(tokenizer):
    from studio.core.adapt_corpus import pack

    passages = ["a short one", "a rather longer passage of text that spans more than one block of tokens", "x"] * 7
    packed = pack(passages, tokenizer, block=16, chunk=5)
    stream = [t for p in tokenizer(passages)["input_ids"] for t in p]
    assert packed.tokens == len(stream)
    assert packed.input_ids.shape == (-(-len(stream) // 16), 16)
    assert tokenizer.pad_token_id not in packed.input_ids
    flat = packed.input_ids.reshape(-1).tolist()
    # Every token in order; the last block is topped up from the beginning, not padded.
    assert flat[: len(stream)] == stream
    assert flat[len(stream) :] == stream[: len(flat) - len(stream)]
    special = packed.special_tokens_mask.reshape(-1).tolist()[: len(stream)]
    assert [s for s, t in zip(special, stream, strict=True) if t in tokenizer.all_special_ids] == [1] * (
        2 * len(passages)
    )
    # Less than one block of text gives one shorter block, still without padding.
    assert pack(["tiny"], tokenizer, block=16).input_ids.shape == (1, 3)


def test_whole_word_masking_masks_every_piece_of_a_word_together(tokenizer):
    import numpy as np

    from studio.core.adapt_corpus import BlockDataset, PackedCollator, pack

    passages = ["unbelievably antidisestablishmentarianism tokenization", "photosynthesis internationalization"] * 20
    packed = pack(passages, tokenizer, block=24, offsets=True)
    # Word number of each stream position, from the tokenizer's own word ids (None for [CLS] and [SEP]).
    words, n = [], 0
    for i in range(len(passages)):
        ids = tokenizer(passages[i]).word_ids()
        words += [None if w is None else n + w for w in ids]
        n += max(w for w in ids if w is not None) + 1
    assert len(words) == packed.tokens
    collator = PackedCollator(tokenizer, mlm_probability=0.4, whole_word=True, seed=3)
    data = BlockDataset(packed)
    batch = collator([data[i] for i in range(len(data))])
    masked = (batch["labels"] != -100).numpy().reshape(-1)[: packed.tokens]
    by_word: dict = {}
    for position, word in enumerate(words):
        if word is not None:
            by_word.setdefault(word, []).append(position)
    # A word cut by a block boundary is two words to the masker: check the words inside one block.
    whole = [p for p in by_word.values() if p[0] // 24 == p[-1] // 24]
    states = [set(masked[p].tolist()) for p in whole]
    assert all(len(s) == 1 for s in states), "a word was masked only in part"
    assert any(s == {True} for s, p in zip(states, whole, strict=True) if len(p) > 2), "no long word was masked"
    assert np.all(batch["input_ids"].numpy().reshape(-1)[: packed.tokens][masked] == tokenizer.mask_token_id)


def test_adapting_lowers_the_perplexity_and_writes_a_model_training_takes(tmp_path, small_csv):
    import torch
    from safetensors import safe_open
    from transformers import AutoModelForMaskedLM

    from studio.core.adapt import AdaptConfig, run_adapt
    from studio.core.config import TrainConfig
    from studio.core.training import run_training

    # A classifier folder has no masked-LM head: the run makes a fresh one and keeps the pooler for training.
    source = make_tiny_model(tmp_path / "tiny-classifier")
    events: list = []
    out = tmp_path / "adapted"
    config = AdaptConfig(
        corpus=str(repetitive_corpus(tmp_path / "corpus.txt")),
        model=str(source),
        steps=60,
        max_length=32,
        batch_size=8,
        learning_rate=3e-3,
        warmup_ratio=0.0,
        output_dir=str(out),
    )
    result = run_adapt(config, events.append)
    metrics = json.loads((out / "adapt_metrics.json").read_text())
    assert metrics["perplexity_after"] < 0.5 * metrics["perplexity_before"], metrics
    assert metrics["fresh_head"] and metrics["steps"] == 60
    # 60 steps of 8 blocks of 32 tokens, less the smaller last batch of each epoch.
    assert 50 * 8 * 32 < metrics["tokens"] <= 60 * 8 * 32
    assert metrics["tokens_per_second"] > 0 and metrics["heldout_tokens"] > 0
    kinds = [type(e).__name__ for e in events]
    assert "PerplexityEvaluated" in kinds and kinds[-1] == "Finished"
    phases = [e.phase for e in events if type(e).__name__ == "PerplexityEvaluated"]
    assert phases[0] == "before" and phases[-1] == "after"
    assert any("no masked-language-model head" in getattr(e, "text", "") for e in events)
    assert (result.run_dir / "status.json").is_file() and not (result.run_dir / "checkpoints").exists()

    model = AutoModelForMaskedLM.from_pretrained(out)
    assert model.get_output_embeddings().weight is model.get_input_embeddings().weight
    with safe_open(str(out / "model.safetensors"), "pt") as a, safe_open(str(source / "model.safetensors"), "pt") as b:
        assert torch.equal(a.get_tensor("bert.pooler.dense.weight"), b.get_tensor("bert.pooler.dense.weight"))

    trained = run_training(
        TrainConfig(train_csv=str(small_csv), model=str(out), epochs=1, batch_size=8, max_length=32, learning_rate=1e-3)
    )
    assert trained.metrics["f1"] >= 0 and (trained.model_dir / "model.safetensors").is_file()


def test_a_stopped_adaptation_resumes_from_its_checkpoint(tmp_path, tiny_mlm_dir):
    from studio.core.adapt import AdaptConfig, resume_adapt, run_adapt
    from studio.core.runs import last_checkpoint, read_status

    stop = threading.Event()

    def reporter(event) -> None:
        if isinstance(event, Progress) and event.step >= 8:
            stop.set()

    config = AdaptConfig(
        corpus=str(repetitive_corpus(tmp_path / "corpus.txt")),
        model=str(tiny_mlm_dir),
        steps=20,
        max_length=32,
        batch_size=8,
        learning_rate=1e-3,
        output_dir=str(tmp_path / "out"),
    )
    first = run_adapt(config, reporter, stop)
    assert first.stopped and read_status(first.run_dir)["status"] == "stopped"
    assert not first.metrics["fresh_head"], "a masked-LM model keeps its own head"
    assert last_checkpoint(first.run_dir) is not None and first.metrics["steps"] < 20
    assert (tmp_path / "out" / "adapt_metrics.json").is_file(), "a stopped run still writes its model"

    events: list = []
    second = resume_adapt(first.run_dir, events.append)
    assert not second.stopped and second.metrics["steps"] == 20
    assert read_status(first.run_dir)["status"] == "finished"
    assert any("Resuming from checkpoint-" in getattr(e, "text", "") for e in events)
    # The perplexity before is the one measured before the first session trained, not re-measured.
    assert second.metrics["perplexity_before"] == first.metrics["perplexity_before"]
    assert not [e for e in events if getattr(e, "phase", None) == "before"]
    with pytest.raises(Exception, match="already finished"):
        resume_adapt(first.run_dir)


def test_running_out_of_memory_is_one_sentence_with_a_batch_that_fits(tmp_path, tiny_mlm_dir, monkeypatch):
    from studio.core import adapt_trainer
    from studio.core.adapt import AdaptConfig, run_adapt
    from studio.core.errors import OutOfMemoryError
    from studio.core.runs import read_status

    def out_of_memory(self, *args, **kwargs):
        raise RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB")

    monkeypatch.setattr(adapt_trainer.MaskedLMTrainer, "train", out_of_memory)
    events: list = []
    config = AdaptConfig(
        corpus=str(repetitive_corpus(tmp_path / "corpus.txt")),
        model=str(tiny_mlm_dir),
        max_length=32,
        batch_size=8,
        output_dir=str(tmp_path / "out"),
    )
    with pytest.raises(OutOfMemoryError) as caught:
        run_adapt(config, events.append)
    assert str(caught.value) == (
        "The GPU ran out of memory with a batch size of 8; try --batch-size 4 with --gradient-accumulation 2 "
        "(the same effective batch), or a shorter --max-length."
    )
    assert caught.value.retry_config.batch_size == 4
    failed = events[-1]
    assert type(failed).__name__ == "Failed" and failed.message == str(caught.value)
    assert read_status(Path(failed.run_dir))["status"] == "failed"
    assert not (tmp_path / "out").exists()


def test_a_small_corpus_is_read_more_times_so_that_enough_steps_run():
    from studio.core.adapt import DEFAULT_EPOCHS, MAX_AUTO_EPOCHS, MIN_STEPS, AdaptConfig, planned_epochs

    config = AdaptConfig(corpus="c.txt", batch_size=16)
    # A corpus that gives enough steps in the default epochs keeps them, without a word.
    assert planned_epochs(config, blocks=16 * 100) == (DEFAULT_EPOCHS, None)
    # 20 steps an epoch: 8 epochs make 160 steps, the fewest whole epochs at or above the minimum; said in the log.
    epochs, why = planned_epochs(config, blocks=16 * 20)
    assert MIN_STEPS == 150 and epochs == 8.0
    assert why is not None and "8 times instead of 3" in why and "160 steps" in why and "--epochs" in why
    # A tiny corpus is not read more than MAX_AUTO_EPOCHS times, and the accumulated batch counts as one step.
    assert planned_epochs(config, blocks=3)[0] == MAX_AUTO_EPOCHS
    assert planned_epochs(config.with_changes(gradient_accumulation=2), blocks=16 * 40)[0] == 8.0
    # Epochs or steps the user gives are kept as they are.
    assert planned_epochs(config.with_changes(epochs=1.0), blocks=16 * 20) == (1.0, None)
    assert planned_epochs(config.with_changes(steps=10), blocks=16 * 20)[1] is None
