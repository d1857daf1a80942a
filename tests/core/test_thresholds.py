"""The binary decision threshold: tuned on validation for macro F1, stored in the export, applied everywhere."""

from __future__ import annotations

import json

import numpy as np
import pytest

from studio.core.thresholds import (
    DEFAULT_THRESHOLD,
    binary_report,
    decide,
    fold_threshold,
    macro_f1_at,
    positive_class,
    rule_of,
    tune_threshold,
)


def test_the_tuned_threshold_beats_one_half_and_keeps_the_decisions_of_the_chosen_score():
    rng = np.random.default_rng(0)
    truth = rng.random(400) < 0.15
    # A model whose positive scores sit mostly below 0.5: 0.5 finds few of them, a lower threshold many.
    scores = np.clip(np.where(truth, rng.normal(0.4, 0.1, 400), rng.normal(0.15, 0.1, 400)), 0.001, 0.999)
    choice = tune_threshold(scores, truth)
    assert choice.tuned
    assert choice.threshold < DEFAULT_THRESHOLD
    assert choice.f1_at_threshold > choice.f1_at_half + 0.1
    assert choice.f1_at_half == pytest.approx(macro_f1_at(scores, truth, 0.5)[0])
    assert choice.f1_at_threshold == pytest.approx(macro_f1_at(scores, truth, choice.threshold)[0])
    # No candidate threshold does better on these rows.
    assert choice.f1_at_threshold >= macro_f1_at(scores, truth, np.unique(scores)).max() - 1e-12
    # It lies strictly between two scores, so a tiny change of a score does not flip a row.
    assert choice.threshold not in set(scores.tolist())


def test_f1_by_hand_and_ties_keep_one_half():
    scores = np.array([0.9, 0.8, 0.3, 0.2])
    truth = np.array([True, True, False, False])
    # Perfect at 0.5 already: kept.
    choice = tune_threshold(scores, truth, min_support=1)
    assert choice.threshold == DEFAULT_THRESHOLD
    assert choice.f1_at_threshold == choice.f1_at_half == 1.0
    # Predict positive where score >= 0.25: tp 2, fp 1, fn 0, tn 1 -> F1+ 0.8, F1- 2/3.
    assert macro_f1_at(scores, truth, 0.25)[0] == pytest.approx((0.8 + 2 / 3) / 2)


def test_too_few_rows_of_a_class_keep_one_half_and_say_why():
    scores = np.array([0.1, 0.2, 0.45, 0.3, 0.05, 0.4])
    truth = np.array([False, False, True, False, False, True])
    choice = tune_threshold(scores, truth)
    assert not choice.tuned
    assert choice.threshold == 0.5
    assert "fewer than 5" in choice.note


def test_the_positive_class_is_the_rarer_one():
    assert positive_class([0, 0, 0, 1]) == 1
    assert positive_class([1, 1, 0, 1]) == 0
    assert positive_class([0, 1]) == 1


def test_the_report_is_at_the_threshold_and_carries_the_curve():
    rng = np.random.default_rng(1)
    y = (rng.random(300) < 0.2).astype(int)
    logits = np.stack([np.zeros(300), np.where(y == 1, rng.normal(-0.5, 1, 300), rng.normal(-2.5, 1, 300))], axis=1)
    report = binary_report(("ham", "spam"), logits, y, positive=1)
    assert report["threshold_label"] == "spam"
    assert report["f1"] == pytest.approx(report["f1_at_threshold"])
    assert report["f1_at_threshold"] >= report["f1_at_0.5"]
    predicted = (1 / (1 + np.exp(-logits[:, 1])) >= report["threshold"]).astype(int)
    tn, fp, fn, tp = (int(((y == a) & (predicted == b)).sum()) for a in (0, 1) for b in (0, 1))
    assert report["confusion"] == [[tn, fp], [fn, tp]]
    curve = report["threshold_curve"]
    assert len(curve["threshold"]) == len(curve["precision"]) == len(curve["recall"]) == len(curve["f1"]) == 49
    assert curve["recall"] == sorted(curve["recall"], reverse=True)


def test_folding_the_threshold_into_the_head_makes_argmax_decide_by_it(tiny_model_dir):
    import torch
    from transformers import AutoModelForSequenceClassification

    model = AutoModelForSequenceClassification.from_pretrained(tiny_model_dir).eval()
    torch.manual_seed(0)
    ids = torch.randint(1000, 2000, (64, 8))
    with torch.no_grad():
        before = model(input_ids=ids).logits.numpy()
    p = np.exp(before) / np.exp(before).sum(axis=1, keepdims=True)
    threshold = float(np.median(p[:, 0]))
    assert fold_threshold(model, 0, threshold)
    with torch.no_grad():
        after = model(input_ids=ids).logits.numpy()
    assert (after.argmax(axis=1) == np.where(p[:, 0] >= threshold, 0, 1)).mean() >= 63 / 64  # a tie at most

    class Config:
        studio_threshold = threshold
        studio_threshold_label = "a"
        studio_threshold_folded = threshold

    rule = rule_of(Config, ["a", "b"])
    probabilities, chosen = decide(after, rule)
    assert probabilities == pytest.approx(p, abs=1e-5)  # the model's own probabilities, the fold undone
    assert chosen.tolist() == np.where(p[:, 0] >= threshold, 0, 1).tolist()


# ---- a trained run ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def binary_run(tmp_path_factory, tiny_model_dir):
    """A tiny model trained one epoch on imbalanced real sms_spam rows (about 13 % spam), exported."""
    from studio.core.config import TrainConfig
    from studio.core.training import run_training
    from tests.conftest import SAMPLE_CSV, SHARED_DATA, _csv_rows, write_csv

    tmp = tmp_path_factory.mktemp("threshold-run")
    shared = SHARED_DATA / "sms_spam"
    rows = _csv_rows(shared / "train.csv")[1:] if (shared / "train.csv").is_file() else _csv_rows(SAMPLE_CSV)[1:]
    train = write_csv(tmp / "train.csv", [tuple(r) for r in rows[:300]], header=("text", "label"))
    validation = write_csv(tmp / "validation.csv", [tuple(r) for r in rows[300:500]], header=("text", "label"))
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("STUDIO_HOME", str(tmp / "home"))
        result = run_training(
            TrainConfig(
                train_csv=str(train),
                validation_csv=str(validation),
                model=str(tiny_model_dir),
                epochs=2,
                batch_size=16,
                max_length=48,
                learning_rate=1e-3,
                output_dir=str(tmp / "export"),
            )
        )
    texts = [r[0] for r in rows[300:500]]
    return result, tmp / "export", texts


def test_metrics_json_holds_the_threshold_and_f1_at_it_and_at_one_half(binary_run):
    result, export, _ = binary_run
    metrics = json.loads((export / "metrics.json").read_text(encoding="utf-8"))
    assert {"threshold", "f1_at_threshold", "f1_at_0.5"} <= set(metrics)
    assert result.metrics["threshold"] == metrics["threshold"]
    assert 0 < metrics["threshold"] < 1
    assert metrics["threshold_label"] == "spam"
    assert metrics["f1_at_threshold"] >= metrics["f1_at_0.5"]
    assert metrics["f1"] == pytest.approx(metrics["f1_at_threshold"])
    config = json.loads((export / "config.json").read_text(encoding="utf-8"))
    assert config["studio_threshold"] == pytest.approx(metrics["threshold"])
    assert config["studio_threshold_label"] == "spam"
    card = (export / "README.md").read_text(encoding="utf-8")
    assert f"**{metrics['threshold']:.4f}**" in card
    assert "folded into the classifier's bias" in card


def test_predict_and_the_pipeline_apply_the_stored_threshold(binary_run):
    from transformers import pipeline

    from studio.core.inference import Predictor

    _, export, texts = binary_run
    predictor = Predictor(export, device="cpu")
    assert predictor.threshold_label == "spam"
    t = predictor.threshold
    predictions = predictor.predict(texts)
    assert [p.label for p in predictions] == ["spam" if p.probabilities["spam"] >= t else "ham" for p in predictions]
    classify = pipeline("text-classification", model=str(export), device="cpu")
    piped = [out["label"] for out in classify(texts, truncation=True, max_length=predictor.max_length)]
    assert piped == [p.label for p in predictions]


def test_a_new_threshold_moves_a_text_between_one_half_and_it_to_the_other_class(binary_run, tmp_path, capsys):
    import shutil

    from transformers import pipeline

    from studio.cli import main
    from studio.core.inference import Predictor
    from studio.core.thresholds import set_threshold

    _, export, texts = binary_run
    folder = tmp_path / "model"
    shutil.copytree(export, folder)
    predictor = Predictor(folder, device="cpu")
    spam = [p.probabilities["spam"] for p in predictor.predict(texts)]
    i = int(np.argmin(np.abs(np.array(spam) - 0.5)))
    p = spam[i]
    # A threshold on the far side of the text's probability from 0.5: argmax and the threshold disagree.
    threshold = (p + 1) / 2 if p >= 0.5 else p / 2
    expected = "ham" if p >= 0.5 else "spam"
    set_threshold(folder, threshold)
    again = Predictor(folder, device="cpu")
    assert again.threshold == pytest.approx(threshold)
    prediction = again.predict([texts[i]])[0]
    assert prediction.label == expected
    assert prediction.probabilities["spam"] == pytest.approx(p, abs=1e-5)
    classify = pipeline("text-classification", model=str(folder), device="cpu")
    assert classify(texts[i], truncation=True, max_length=again.max_length)[0]["label"] == expected
    assert f"**{threshold:.4f}** (set by hand" in (folder / "README.md").read_text(encoding="utf-8")
    # studio predict on the command line decides the same way.
    assert main(["predict", "--model", str(folder), "--text", texts[i], "--device", "cpu"]) == 0
    line = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert line["label"] == expected
    # The Predictor's own override (the app's slider) leaves the folder alone.
    again.use_threshold(0.5)
    assert again.predict([texts[i]])[0].label == ("spam" if p >= 0.5 else "ham")
    assert json.loads((folder / "config.json").read_text())["studio_threshold"] == pytest.approx(threshold)
