"""The methods in the engine: layer plan, per-block rates, gradual unfreezing, early stopping, rare classes."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from studio.core import events as ev
from studio.core.config import TrainConfig
from studio.core.errors import ConfigError
from studio.core.layer_plan import FROZEN, LORA, TRAINS, UNFREEZES, plan_layers, training_now
from studio.core.runs import LAYERS_FILE, list_runs
from studio.core.training import run_training

COUNTS = {"embeddings": 1000, "blocks": [100, 100, 100, 100], "total": 1000 + 400 + 50}


def _config(csv, model, **kw):
    base = dict(train_csv=str(csv), model=str(model), epochs=2, batch_size=8, learning_rate=1e-3, max_length=32)
    return TrainConfig(**{**base, **kw})


def _states(plan):
    return [(b.name, b.state, b.unfreezes_at) for b in plan]


def test_the_plan_of_frozen_layers_and_layer_wise_decay():
    plan = plan_layers(TrainConfig(train_csv="x", learning_rate=1e-3, freeze_layers=2, layer_lr_decay=0.5), COUNTS)
    assert _states(plan) == [
        ("Embeddings", FROZEN, None),
        ("Layer 1", FROZEN, None),
        ("Layer 2", FROZEN, None),
        ("Layer 3", TRAINS, None),
        ("Layer 4", TRAINS, None),
        ("Head", TRAINS, None),
    ]
    # The head at the base rate, each block below it half the one above.
    assert [b.learning_rate for b in plan] == pytest.approx([1e-3 / 32, 1e-3 / 16, 1e-3 / 8, 1e-3 / 4, 1e-3 / 2, 1e-3])
    assert plan[-1].parameters == 50 and sum(b.trainable_parameters for b in plan) == 250


def test_gradual_unfreezing_goes_from_the_top_down_to_the_frozen_floor():
    config = TrainConfig(train_csv="x", unfreeze_every=10, unfreeze_unit="steps", unfreeze_start=1, freeze_layers=1)
    plan = plan_layers(config, COUNTS)
    assert _states(plan) == [
        ("Embeddings", FROZEN, None),
        ("Layer 1", FROZEN, None),
        ("Layer 2", UNFREEZES, 20),
        ("Layer 3", UNFREEZES, 10),
        ("Layer 4", TRAINS, None),
        ("Head", TRAINS, None),
    ]
    assert training_now(plan, 9, 0.0) == [False, False, False, False, True, True]
    assert training_now(plan, 10, 0.0) == [False, False, False, True, True, True]
    assert training_now(plan, 25, 0.0) == [False, False, True, True, True, True]
    # In epochs, with nothing frozen: the embeddings come last.
    epochs = plan_layers(TrainConfig(train_csv="x", unfreeze_every=1), COUNTS)
    assert [b.unfreezes_at for b in epochs] == [5, 4, 3, 2, 1, None]
    assert training_now(epochs, 999, 1.999) == [False, False, False, False, True, True]
    assert training_now(epochs, 999, 2.0) == [False, False, False, True, True, True]


def test_lora_plan_freezes_the_model_and_ignores_frozen_layers():
    plan = plan_layers(TrainConfig(train_csv="x", lora=True, freeze_layers=3), COUNTS, [8, 8, 8, 8])
    assert [b.state for b in plan] == [FROZEN, LORA, LORA, LORA, LORA, TRAINS]
    assert sum(b.trainable_parameters for b in plan) == 4 * 8 + 50
    assert TrainConfig(train_csv="x", lora=True).effective_learning_rate == 5e-4
    assert TrainConfig(train_csv="x", lora=True, learning_rate=1e-4).effective_learning_rate == 1e-4


@pytest.mark.parametrize(
    ("changes", "field", "words"),
    [
        ({"lora_rank": 0}, "lora_rank", "LoRA rank"),
        ({"layer_lr_decay": 0.0}, "layer_lr_decay", "above 0 and at most 1"),
        ({"layer_lr_decay": 1.2}, "layer_lr_decay", "above 0 and at most 1"),
        ({"unfreeze_every": 0}, "unfreeze_every", "at least 1"),
        ({"early_stopping": 3, "epochs": 2}, "early_stopping", "could never stop early"),
        ({"early_stopping": 0}, "early_stopping", "at least 1"),
        ({"lora": True, "unfreeze_every": 1}, "unfreeze_every", "cannot be combined"),
        ({"class_weights": "spam=-1"}, "class_weights", "above 0"),
        ({"label_smoothing": 1.0}, "label_smoothing", "below 1"),
        ({"dropout": -0.1}, "dropout", "from 0"),
        ({"task": "regression", "oversample": True}, "oversample", "no classes"),
        ({"task": "token", "oversample": True}, "oversample", "class weights instead"),
    ],
)
def test_impossible_method_settings_get_a_sentence(changes, field, words):
    problems = TrainConfig(train_csv="x", **changes).problems()
    assert words in problems[field]


def test_unfreezing_per_block_rates_and_their_record(small_csv, tmp_path):
    from tests.conftest import make_tiny_model

    model = make_tiny_model(tmp_path / "tiny4", layers=4)
    seen: list = []
    # 60 rows: 54 train at batch 8 = 7 steps an epoch; one block more every 3 steps.
    config = _config(
        small_csv, model, unfreeze_every=3, unfreeze_unit="steps", layer_lr_decay=0.8, warmup_steps=1, epochs=1
    )
    result = run_training(config, seen.append)

    unfrozen = [(e.step, e.blocks) for e in seen if isinstance(e, ev.BlocksUnfrozen)]
    assert unfrozen == [(3, ("Layer 4",)), (6, ("Layer 3",))]
    planned = next(e for e in seen if isinstance(e, ev.LayersPlanned))
    assert [(b["name"], b["unfreezes_at"]) for b in planned.blocks] == [
        ("Embeddings", 15),
        ("Layer 1", 12),
        ("Layer 2", 9),
        ("Layer 3", 6),
        ("Layer 4", 3),
        ("Head", None),
    ]
    # The optimizer's groups, as kept in the run folder, carry each block's rate: 1e-3 x 0.8^depth from the head.
    record = json.loads((result.run_dir / LAYERS_FILE).read_text())
    rates = {g["block"]: g["learning_rate"] for g in record["groups"]}
    expected = {"Head": 1e-3, "Layer 4": 8e-4, "Layer 3": 6.4e-4, "Layer 2": 5.12e-4, "Layer 1": 4.096e-4}
    assert rates == pytest.approx({**expected, "Embeddings": 3.2768e-4})
    assert {g["weight_decay"] for g in record["groups"]} == {0.0, 0.01}  # biases and norms have none
    # The logged (and plotted) rate is the head's: it peaks at the base rate, above every block's.
    assert max(e.learning_rate for e in seen if isinstance(e, ev.LossLogged)) == pytest.approx(1e-3)

    # Blocks never reached stayed as they were; the unfrozen ones and the head moved.
    from safetensors.torch import load_file

    before, after = load_file(model / "model.safetensors"), load_file(result.model_dir / "model.safetensors")
    same = {k for k in before if k in after and before[k].shape == after[k].shape and before[k].equal(after[k])}
    assert any("embeddings" in k for k in same) and any("layer.0." in k for k in same)
    assert not any("layer.3." in k for k in same) and not any("layer.2." in k for k in same)
    m = result.metrics
    assert m["trainable_parameters"] == m["total_parameters"] > 0


def test_early_stopping_ends_a_plateaued_run_and_keeps_the_best(small_csv, tiny_model_dir):
    seen: list = []
    # A rate too small to change anything: every evaluation after the first is no better.
    config = _config(small_csv, tiny_model_dir, learning_rate=1e-12, epochs=10, early_stopping=2)
    result = run_training(config, seen.append)

    evaluations = [e.step for e in seen if isinstance(e, ev.Evaluated)]
    assert evaluations == [7, 14, 21]  # one an epoch; stopped after two without improvement
    m = result.metrics
    assert m["stopped_early"] is True and m["stop_reason"] == "early stopping"
    assert m["best_step"] == 7 and m["epochs_completed"] == pytest.approx(3.0)
    assert not result.stopped  # not a user's stop: the run finished, and is not left to resume
    said = [e.text for e in seen if isinstance(e, ev.Message) and "Stopped early" in e.text]
    assert said and "step 21" in said[0] and "best" in said[0]
    assert json.loads((result.model_dir / "metrics.json").read_text())["best_step"] == 7
    card = (result.model_dir / "README.md").read_text()
    assert "early stopping" in card and "patience 2" in card


def test_class_weights_and_oversampling():
    from studio.core.rare_classes import class_weight_vector, imbalance_ratio, oversampled_indices

    labels = [0] * 90 + [1] * 10
    weights = class_weight_vector("balanced", labels, ("ham", "spam"))
    assert weights == pytest.approx((100 / (2 * 90), 100 / (2 * 10)))
    assert class_weight_vector("spam=3", labels, ("ham", "spam")) == (1.0, 3.0)
    assert class_weight_vector("none", labels, ("ham", "spam")) is None
    with pytest.raises(ConfigError, match=r"'eggs'.*classes are: ham, spam"):
        class_weight_vector("eggs=2", labels, ("ham", "spam"))
    assert imbalance_ratio(Counter(labels)) == 9.0

    chosen = oversampled_indices(labels, seed=1)
    counts = Counter(labels[i] for i in chosen)
    assert counts[0] == counts[1] == 90
    assert set(chosen) == set(range(100))  # no row left out
    assert oversampled_indices(labels, seed=1) == chosen


def test_the_weighted_smoothed_loss_matches_torch():
    import torch
    import torch.nn.functional as F

    from studio.core.rare_classes import LossOptions, WeightedCrossEntropy

    torch.manual_seed(0)
    logits = torch.randn(2, 5, 3)
    labels = torch.tensor([[0, 1, 2, -100, 1], [2, -100, -100, 0, 0]])
    loss = WeightedCrossEntropy(LossOptions(class_weights=(1.0, 2.0, 0.5), label_smoothing=0.1))
    got = loss({"logits": logits}, labels)
    per = F.cross_entropy(
        logits.reshape(-1, 3),
        labels.reshape(-1),
        weight=torch.tensor([1.0, 2.0, 0.5]),
        label_smoothing=0.1,
        reduction="none",
        ignore_index=-100,
    )
    assert got.item() == pytest.approx((per.sum() / 7).item())
    assert loss({"logits": logits}, labels, num_items_in_batch=14).item() == pytest.approx((per.sum() / 14).item())


def test_regularisation_and_rare_class_settings_reach_the_run(tmp_path, tiny_model_dir):
    from tests.conftest import write_csv

    rows = [(f"fine good lovely {i}", "ham") for i in range(50)] + [(f"win cash prize {i}", "spam") for i in range(8)]
    csv = write_csv(tmp_path / "skewed.csv", rows)
    seen: list = []
    config = _config(
        csv,
        tiny_model_dir,
        epochs=1,
        dropout=0.3,
        label_smoothing=0.1,
        class_weights="balanced",
        oversample=True,
        scheduler="cosine",
    )
    result = run_training(config, seen.append)
    said = " | ".join(e.text for e in seen if isinstance(e, ev.Message))
    assert "Class weights in the loss: ham 0.5" in said and "Oversampling rare classes" in said
    exported = json.loads((result.model_dir / "config.json").read_text())
    assert exported["hidden_dropout_prob"] == exported["attention_probs_dropout_prob"] == 0.3
    saved = json.loads((result.run_dir / "config.json").read_text())
    assert saved["class_weights"] == "balanced" and saved["oversample"] is True and saved["scheduler"] == "cosine"
    # Oversampled: more rows a pass than the file's 52 training rows.
    started = next(e for e in seen if isinstance(e, ev.RunStarted))
    assert started.train_rows > 52


def test_a_setting_the_detected_task_cannot_use_leaves_no_run(tmp_path, tiny_model_dir):
    from tests.conftest import write_csv

    csv = write_csv(tmp_path / "scores.csv", [(f"text number {i}", f"{i * 0.37:.2f}") for i in range(40)])
    with pytest.raises(ConfigError, match="regression run predicts a number"):
        run_training(_config(csv, tiny_model_dir, label_smoothing=0.1))
    assert list_runs() == []


def test_the_scheduler_and_warm_up_reach_the_trainer(tmp_path):
    from studio.core.trainer import training_arguments

    args = training_arguments(
        TrainConfig(train_csv="x", scheduler="constant", warmup_steps=5), tmp_path, 100, "cpu", "fp32"
    )
    assert args.lr_scheduler_type == "constant_with_warmup" and args.warmup_steps == 5
    args = training_arguments(
        TrainConfig(train_csv="x", scheduler="cosine", warmup_ratio=0.1), tmp_path, 100, "cpu", "fp32"
    )
    assert args.lr_scheduler_type == "cosine" and args.warmup_steps == pytest.approx(0.1)


def test_a_stopped_run_with_the_methods_resumes_to_the_same_end(small_csv, tiny_model_dir):
    import threading

    from studio.core.training import resume_training

    # 7 steps an epoch, 2 evaluations an epoch; the head alone first, then layer 2 at step 4, layer 1 at 8.
    config = _config(
        small_csv,
        tiny_model_dir,
        unfreeze_every=4,
        unfreeze_unit="steps",
        layer_lr_decay=0.7,
        early_stopping=3,
        evaluations_per_epoch=2,
        class_weights="balanced",
    )
    uninterrupted = run_training(config).metrics

    stop = threading.Event()

    def reporter(event):
        if isinstance(event, ev.LossLogged) and event.step >= 6:
            stop.set()

    first = run_training(config, reporter, stop)
    assert first.stopped and first.metrics["stop_reason"] == "user"
    resumed: list = []
    second = resume_training(first.run_dir, resumed.append)
    # The blocks the first part unfroze train again at once; the later ones unfreeze on schedule.
    assert [(e.step, e.blocks) for e in resumed if isinstance(e, ev.BlocksUnfrozen)] == [(8, ("Layer 1",))]
    for key in ("loss", "f1"):
        assert abs(second.metrics[key] - uninterrupted[key]) < 1e-6, (key, second.metrics, uninterrupted)
