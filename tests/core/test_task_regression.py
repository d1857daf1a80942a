"""Regression: detection, numeric targets and their sentences, scaling, metrics in user units, head folding."""

from __future__ import annotations

import json
import math
import random

import numpy as np
import pytest

from studio.core.csvio import read_table
from studio.core.data import load_examples
from studio.core.errors import DataError
from studio.core.tasks import detect_task, get_task
from studio.core.tasks.base import Columns, Examples
from studio.core.tasks.regression import RegressionTask, fold_target_scale, histogram, output_layer
from tests.conftest import SHARED_DATA, make_tiny_model, write_csv

needs_data = pytest.mark.skipif(not (SHARED_DATA / "stsb").is_dir(), reason="../shared/data is not in this checkout")

TASK = RegressionTask()


def _scored_rows(n: int, seed: int = 0) -> list[tuple[str, str]]:
    rng = random.Random(seed)
    return [(f"review number {i} says {'good ' * (i % 5)}things", f"{rng.uniform(0, 10):.2f}") for i in range(n)]


# ---- detection ----------------------------------------------------------------------------------------------


@needs_data
def test_stsb_is_detected_as_pair_regression():
    detection = detect_task(read_table(SHARED_DATA / "stsb" / "train.csv"))
    assert detection.task == "regression"
    assert detection.columns == Columns("text", "label", "text_pair")
    assert detection.reason.startswith("The column 'label' holds numbers (")
    assert "from 0 to 5): a value to predict." in detection.reason
    assert "'text_pair' holds a second text beside 'text'" in detection.reason


@needs_data
@pytest.mark.parametrize(
    "path",
    [
        "sms_spam/train.csv",
        "ag_news/train.csv",
        "trec/train.csv",
        "trec/train_fine.csv",
        "goemotions/train.csv",
        "snli_pairs/train.csv",
        "ner_wikigold/train.csv",
    ],
)
def test_classification_sets_are_not_regression(path):
    assert TASK.detect(read_table(SHARED_DATA / path)) is None


def test_a_star_rating_column_is_classes_not_regression(tmp_path):
    rows = [(f"my review {i} of the place", str(1 + i % 5)) for i in range(300)]
    table = read_table(write_csv(tmp_path / "stars.csv", rows, header=("review", "stars")))
    assert TASK.detect(table) is None
    assert detect_task(table).task == "single"


def test_a_float_score_column_is_regression_and_the_reason_says_why(tmp_path):
    table = read_table(write_csv(tmp_path / "s.csv", _scored_rows(200), header=("text", "score")))
    detection = detect_task(table)
    assert detection.task == "regression"
    assert detection.columns == Columns("text", "score", None)
    numbers = sorted({float(v) for _, v in _scored_rows(200)})
    assert detection.reason == (
        f"The column 'score' holds numbers ({len(numbers)} distinct, from {numbers[0]:g} to {numbers[-1]:g}): "
        "a value to predict."
    )


def test_many_integer_values_are_regression_but_few_are_not(tmp_path):
    ages = [(f"profile text {i}", str(18 + i % 60)) for i in range(400)]
    assert TASK.detect(read_table(write_csv(tmp_path / "a.csv", ages))) is not None
    ten_classes = [(f"profile text {i}", str(i % 10)) for i in range(400)]
    assert TASK.detect(read_table(write_csv(tmp_path / "b.csv", ten_classes))) is None


def test_a_score_column_beside_a_class_label_is_found_when_regression_is_chosen(tmp_path):
    rows = [(f"text {i}", "pos" if i % 2 else "neg", f"{i * 0.37:.2f}") for i in range(100)]
    table = read_table(write_csv(tmp_path / "c.csv", rows, header=("text", "label", "score")))
    assert TASK.columns(table, None, None, None) == Columns("text", "score", None)
    # Chosen by the user, a column of classes is not regression.
    assert TASK.detect(table, label="label") is None


# ---- loading ------------------------------------------------------------------------------------------------


def test_non_numbers_are_named_with_their_lines(tmp_path):
    rows = _scored_rows(40)
    rows[2] = (rows[2][0], "n/a")  # line 4: the header is line 1
    rows[15] = (rows[15][0], "high")  # line 17
    path = write_csv(tmp_path / "x.csv", rows, header=("text", "score"))
    with pytest.raises(DataError) as caught:
        load_examples(path, task="regression")
    assert str(caught.value) == (
        "The column 'score' of x.csv has values that are not numbers on lines 4, 17 ('n/a', 'high'); "
        "fix or remove those rows."
    )


def test_non_numbers_in_the_validation_file_name_that_file(tmp_path):
    train = write_csv(tmp_path / "t.csv", _scored_rows(40), header=("text", "score"))
    validation = write_csv(tmp_path / "v.csv", [("fine", "3.5"), ("meh", "-")], header=("text", "score"))
    with pytest.raises(DataError, match=r"^The column 'score' of v\.csv has values that are not numbers on line 3 "):
        load_examples(train, validation, task="regression")


def test_a_column_of_words_is_not_regression_data(tmp_path):
    rows = [(f"text {i}", ["ham", "spam"][i % 2]) for i in range(20)]
    with pytest.raises(DataError, match=r"The column 'label' of w\.csv does not hold numbers \(it has 'ham', 'spam'\)"):
        load_examples(write_csv(tmp_path / "w.csv", rows), task="regression")


def test_a_constant_target_has_nothing_to_learn(tmp_path):
    rows = [(f"text {i}", "3.0") for i in range(30)]
    with pytest.raises(DataError) as caught:
        load_examples(write_csv(tmp_path / "k.csv", rows, header=("text", "score")), task="regression")
    assert str(caught.value) == (
        "Every training row of k.csv has the same value in 'score' (3), so there is nothing to learn; "
        "regression needs values that vary."
    )


def test_load_gives_floats_a_scale_and_a_split_that_spans_the_range(tmp_path):
    path = write_csv(tmp_path / "s.csv", _scored_rows(300), header=("text", "score"))
    examples = load_examples(path, task="regression", validation_share=0.2)
    assert examples.task == "regression" and examples.labels == ("score",)
    assert all(isinstance(v, float) for v in examples.train_labels + examples.validation_labels)
    assert len(examples.validation_labels) == 60 and len(examples.train_labels) == 240
    train = np.array(examples.train_labels)
    assert examples.target_scale == pytest.approx((train.mean(), train.std()))
    # Stratified by value: every tenth of the range by rank has its share of the held-out rows.
    edges = np.quantile(train, np.linspace(0, 1, 11))
    counts = np.histogram(examples.validation_labels, bins=edges)[0]
    assert counts.min() >= 3
    again = load_examples(path, task="regression", validation_share=0.2)
    assert again.validation_texts == examples.validation_texts


def test_decimal_commas_in_a_semicolon_file_are_numbers(tmp_path):
    path = tmp_path / "eu.csv"
    lines = ["text;score"] + [f"sentence {i};{i % 7},{i % 10}" for i in range(40)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    table = read_table(path)
    assert TASK.detect(table) is not None
    examples = TASK.load(table, None, TASK.columns(table, None, None, None), get_split())
    expected = sorted(float(f"{i % 7}.{i % 10}") for i in range(40))
    assert sorted(examples.train_labels + examples.validation_labels) == expected


def get_split():
    from studio.core.tasks.base import SplitSettings

    return SplitSettings(share=0.2)


# ---- scaling and metrics ------------------------------------------------------------------------------------


def _examples(train, validation, scale=None) -> Examples:
    values = np.asarray(train, dtype=float)
    return Examples(
        task="regression",
        train_texts=[f"t{i}" for i in range(len(train))],
        train_labels=list(train),
        validation_texts=[f"v{i}" for i in range(len(validation))],
        validation_labels=list(validation),
        labels=("score",),
        columns=Columns("text", "score"),
        split_from_train=False,
        target_scale=scale or (float(values.mean()), float(values.std())),
    )


def test_targets_are_scaled_for_training_and_metrics_are_in_user_units():
    from transformers import EvalPrediction

    examples = _examples([10.0, 20.0, 30.0, 40.0], [12.0, 25.0, 38.0], scale=(25.0, 10.0))
    encoded = TASK.encode_labels(examples.validation_labels, examples)
    assert encoded == pytest.approx([-1.3, 0.0, 1.3])
    predicted_user = np.array([14.0, 24.0, 35.0])
    outputs = ((predicted_user - 25.0) / 10.0).reshape(-1, 1).astype(np.float32)
    metrics = TASK.metrics(examples)
    scalars = metrics(EvalPrediction(predictions=outputs, label_ids=np.array(encoded, dtype=np.float32)))
    errors = predicted_user - np.array([12.0, 25.0, 38.0])
    assert scalars["mae"] == pytest.approx(np.abs(errors).mean(), rel=1e-5)
    assert scalars["mse"] == pytest.approx((errors**2).mean(), rel=1e-5)
    assert scalars["loss"] == pytest.approx((errors**2).mean() / 100.0, rel=1e-5)  # in standard deviations
    assert scalars["pearson"] == pytest.approx(np.corrcoef(predicted_user, [12, 25, 38])[0, 1], rel=1e-5)
    assert scalars["spearman"] == pytest.approx(1.0)
    assert scalars["selection_score"] == pytest.approx(scalars["pearson"], abs=1e-6)
    report = metrics.last_report
    assert report["scatter"]["true"] == pytest.approx([12.0, 25.0, 38.0])
    assert report["scatter"]["predicted"] == pytest.approx(predicted_user.tolist(), rel=1e-5)
    summary = TASK.summary(report)
    assert {"pearson", "spearman", "mse", "mae", "loss", "scatter"} <= summary.keys()
    json.dumps(summary)  # plain numbers only


def test_a_constant_prediction_scores_zero_not_nan():
    from transformers import EvalPrediction

    examples = _examples([0.0, 1.0, 2.0], [0.0, 1.0, 2.0])
    scalars = TASK.metrics(examples)(EvalPrediction(np.zeros((3, 1), np.float32), np.array([-1.0, 0.0, 1.0])))
    assert scalars["pearson"] == 0.0 and scalars["spearman"] == 0.0
    assert math.isfinite(scalars["selection_score"])


def test_the_scatter_keeps_at_most_2000_points_spread_over_the_rows():
    from transformers import EvalPrediction

    n = 5000
    true = np.linspace(-1, 1, n, dtype=np.float32)
    metrics = TASK.metrics(_examples([0.0, 1.0], [0.0] * n, scale=(0.0, 1.0)))
    metrics(EvalPrediction(true.reshape(-1, 1), true))
    scatter = metrics.last_report["scatter"]
    assert len(scatter["true"]) == len(scatter["predicted"]) == 2000
    assert scatter["true"][0] == -1.0 and scatter["true"][-1] == 1.0


# ---- the model, export and prediction -----------------------------------------------------------------------


def _tiny_regressor(folder):
    from transformers import AutoModelForSequenceClassification

    make_tiny_model(folder)
    return AutoModelForSequenceClassification.from_pretrained(
        folder, **TASK.model_config(_examples([1.0, 2.0], [1.0])), ignore_mismatched_sizes=True
    )


def test_folding_the_scale_makes_the_exported_raw_output_the_value(tmp_path):
    import torch
    from transformers import AutoTokenizer, pipeline

    model = _tiny_regressor(tmp_path / "base").eval()
    tokenizer = AutoTokenizer.from_pretrained(tmp_path / "base")
    texts = ["a short one", "another text that is a little longer than the first"]
    with torch.no_grad():
        scaled = model(**tokenizer(texts, padding=True, return_tensors="pt")).logits[:, 0].numpy()
    mean, std = 2.5, 1.3
    examples = _examples([1.0, 4.0], [2.0], scale=(mean, std))
    TASK.prepare_export(model, examples, {})
    assert model.config.problem_type == "regression" and model.config.num_labels == 1
    assert model.config.id2label == {0: "score"} and model.config.studio_task == "regression"
    model.save_pretrained(tmp_path / "export")
    tokenizer.save_pretrained(tmp_path / "export")

    runner = pipeline("text-classification", model=str(tmp_path / "export"), function_to_apply="none")
    exported = [runner(t)[0]["score"] for t in texts]
    assert exported == pytest.approx((scaled * std + mean).tolist(), abs=1e-4)
    # The studio's own predictor reads the same folder as a regression model and writes the values to a CSV.
    from studio.core.inference import Predictor

    predictor = Predictor(tmp_path / "export", device="cpu")
    assert [p.value for p in predictor.predict(texts)] == pytest.approx(exported, abs=1e-4)
    source = write_csv(tmp_path / "in.csv", [(i, t) for i, t in enumerate(texts)], header=("id", "text"))
    predictor.predict_csv(source, tmp_path / "out.csv")
    written = read_table(tmp_path / "out.csv")
    assert written.columns == ("id", "text", "predicted_value")
    assert [float(v) for v in written.column("predicted_value")] == pytest.approx(exported, abs=1e-4)
    # Folding twice would scale twice: a second call leaves the head alone.
    before = output_layer(model).bias.item()
    TASK.prepare_export(model, examples, {})
    assert output_layer(model).bias.item() == before


def test_folding_finds_roberta_style_heads():
    import torch
    from transformers import RobertaConfig, RobertaForSequenceClassification

    config = RobertaConfig(
        vocab_size=100,
        hidden_size=16,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=20,
        num_labels=1,
        max_position_embeddings=40,
    )
    torch.manual_seed(0)
    model = RobertaForSequenceClassification(config).eval()
    assert output_layer(model) is model.classifier.out_proj
    ids = torch.tensor([[0, 5, 6, 7, 2]])
    with torch.no_grad():
        before = model(input_ids=ids).logits.item()
        fold_target_scale(model, -3.0, 0.25)
        after = model(input_ids=ids).logits.item()
    assert after == pytest.approx(before * 0.25 - 3.0, abs=1e-5)


def test_decode_csv_cells_and_card():
    from types import SimpleNamespace

    config = SimpleNamespace(num_labels=1, id2label={0: "score"})
    predictions = TASK.decode(np.array([[3.14159], [-0.5], [12345.6], [2.0], [1.5e-5]]), config)
    assert [p.label for p in predictions] == ["3.142", "-0.5", "12346", "2", "1.5e-05"]
    assert predictions[0].value == pytest.approx(3.14159) and predictions[0].score == predictions[0].value
    assert TASK.csv_header(config) == ["predicted_value"]
    assert TASK.csv_cells(predictions[0], config) == ["3.14159"]
    lines = TASK.card_lines({"labels": ["score"], "target": {"mean": 2.5, "std": 1.25, "min": 0.0, "max": 5.0}})
    assert any("from 0 to 5 (mean 2.5, standard deviation 1.25)" in line for line in lines)


def test_the_distribution_is_a_histogram_of_round_bins(tmp_path):
    rows = [(f"t{i}", f"{v:.1f}") for i, v in enumerate([0.0, 0.2, 0.7, 1.4, 2.5, 2.6, 4.9, 5.0])]
    rows.append(("t-bad", "n/a"))
    table = read_table(write_csv(tmp_path / "h.csv", rows, header=("text", "score")))
    distribution = TASK.distribution(table, Columns("text", "score"))
    assert distribution.kind == "histogram"
    assert distribution.bars[0] == ("0.0–0.5", 2) and distribution.bars[-1] == ("4.5–5.0", 2)
    assert len(distribution.bars) == 10 and sum(c for _, c in distribution.bars) == 8
    assert distribution.note == "Mean 2.16, from 0 to 5, over 8 rows; 1 cells are not numbers."
    assert histogram([10.0, 35.0, 99.0])[0] == ("10–20", 1)


def test_the_task_is_registered_with_its_settings():
    task = get_task("regression")
    assert isinstance(task, RegressionTask)
    assert task.main_metric == "pearson" and task.pipeline_kwargs == {"function_to_apply": "none"}
    assert 20 < task.detect_priority < 40 and task.takes_pairs


# ---- end to end ---------------------------------------------------------------------------------------------


@needs_data
@pytest.mark.slow
def test_a_real_run_exports_a_folder_whose_pipeline_scores_are_the_reported_values(tmp_path):
    import csv

    from transformers import pipeline

    from studio.core.config import TrainConfig
    from studio.core.training import run_training

    with open(SHARED_DATA / "stsb" / "train.csv", newline="", encoding="utf-8") as handle:
        rows = [(r["text"], r["text_pair"], r["label"]) for r in csv.DictReader(handle)]
    header = ("text", "text_pair", "label")
    train = write_csv(tmp_path / "train.csv", rows[:192], header=header)
    validation = write_csv(tmp_path / "validation.csv", rows[192:256], header=header)
    config = TrainConfig(
        train_csv=str(train),
        validation_csv=str(validation),
        task="regression",
        pair_column="text_pair",
        epochs=1,
        max_length=64,
    )
    result = run_training(config)
    metrics = result.metrics
    assert metrics["task"] == "regression"
    assert {"pearson", "spearman", "mse", "mae", "loss"} <= metrics.keys()
    written = json.loads((result.model_dir / "metrics.json").read_text())
    assert written["pearson"] == pytest.approx(metrics["pearson"])

    runner = pipeline("text-classification", model=str(result.model_dir), function_to_apply="none")
    outputs = runner([{"text": a, "text_pair": b} for a, b, _ in rows[192:256]])
    scores = np.array([o["score"] for o in outputs])
    # The folded head gives the values the final evaluation reported (in evaluation order: compare sorted).
    assert np.sort(scores) == pytest.approx(sorted(metrics["scatter"]["predicted"]), abs=1e-3)
    true = np.array([float(v) for _, _, v in rows[192:256]])
    assert np.corrcoef(true, scores)[0, 1] == pytest.approx(metrics["pearson"], abs=1e-3)
