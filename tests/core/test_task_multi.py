"""The multi-label task: detection, loading, metrics at tuned thresholds, the weighted loss, threshold folding."""

import csv
import json
import math
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from studio.core.csvio import read_table
from studio.core.errors import DataError
from studio.core.tasks import detect_task, get_task
from studio.core.tasks.base import Columns, SplitSettings
from studio.core.tasks.multi import (
    MultiLabelMetrics,
    MultiLabelModel,
    MultiLabelTask,
    WeightedBCELoss,
    classifier_head,
    detect_separator,
    initial_bias,
    multilabel_report,
    positive_weights,
    tune_thresholds,
)
from tests.conftest import SHARED_DATA, make_tiny_model, write_csv

TASK = MultiLabelTask()
needs_shared = pytest.mark.skipif(not (SHARED_DATA / "goemotions").is_dir(), reason="../shared/data is absent")


def _emotion_rows(n: int = 60, separator: str = ";") -> list[tuple[str, str]]:
    cycle = ["joy", f"joy{separator}love", "anger", f"anger{separator}fear", "love", "fear", f"joy{separator}fear"]
    return [(f"text number {i} about {cycle[i % len(cycle)]}", cycle[i % len(cycle)]) for i in range(n)]


def _table(tmp_path: Path, rows, header=("text", "label"), name="train.csv"):
    return read_table(write_csv(tmp_path / name, rows, header=header))


# ---- detection ----------------------------------------------------------------------------------------------


@needs_shared
def test_goemotions_is_detected_as_multi_label_with_its_reason():
    detection = detect_task(read_table(SHARED_DATA / "goemotions" / "train.csv"))
    assert detection.task == "multi"
    assert detection.columns == Columns("text", "label", None)
    assert "joined by ';'" in detection.reason and "(28 labels, 1.2 per row on average)" in detection.reason


@needs_shared
@pytest.mark.parametrize("path", ["sms_spam/train.csv", "ag_news/train.csv", "trec/train.csv", "trec/train_fine.csv"])
def test_single_label_sets_are_not_multi_label(path):
    table = read_table(SHARED_DATA / path)
    assert TASK.detect(table) is None
    assert detect_task(table).task != "multi"
    # Not even when their text (free text full of commas) is named as the label column.
    assert TASK.detect(table, text="label", label="text") is None


def test_a_text_column_with_commas_is_not_a_list_of_labels(tmp_path):
    rows = [
        (f"row {i}", f"I went to the shop, then home, and after that {w}, which was fine")
        for i, w in enumerate(["slept", "read", "ate", "ran", "sang", "swam"] * 10)
    ]
    rows += [(f"short {i}", "yes, no") for i in range(3)]
    table = _table(tmp_path, rows, header=("id", "comment"))
    assert TASK.detect(table, text="id", label="comment") is None
    assert detect_separator(table.column("comment")) is None


def test_a_class_name_holding_a_comma_is_not_several_labels(tmp_path):
    rows = [(f"text {i}", ["Arts, Culture", "Sports", "Science"][i % 3]) for i in range(60)]
    assert TASK.detect(_table(tmp_path, rows)) is None


def test_decimal_commas_are_not_labels(tmp_path):
    rows = [(f"text {i}", f"{i % 5},{i % 10}") for i in range(60)]
    assert TASK.detect(_table(tmp_path, rows)) is None


@pytest.mark.parametrize("separator", ["|", ",", ";"])
def test_joined_labels_are_detected_with_their_separator(tmp_path, separator):
    detection = detect_task(_table(tmp_path, _emotion_rows(separator=separator)))
    assert detection.task == "multi"
    assert f"joined by {separator!r}" in detection.reason and "(4 labels," in detection.reason


def test_a_few_typos_do_not_make_single_label_data_multi_label(tmp_path):
    rows = [(f"text {i}", ["ham", "spam"][i % 2]) for i in range(400)] + [("odd", "ham,spam"), ("odd 2", "spam,ham")]
    assert TASK.detect(_table(tmp_path, rows)) is None


def test_multi_label_with_a_second_text_is_multi_label_read_as_pairs(tmp_path):
    rows = [(text, f"second {i}", label) for i, (text, label) in enumerate(_emotion_rows())]
    table = _table(tmp_path, rows, header=("text", "text_pair", "label"))
    detection = detect_task(table)
    assert detection.task == "multi" and detection.columns == Columns("text", "label", "text_pair")
    examples = TASK.load(table, None, TASK.columns(table, None, None, None), SplitSettings())
    assert examples.train_pairs is not None and len(examples.train_pairs) == len(examples.train_texts)


# ---- loading ------------------------------------------------------------------------------------------------


def test_load_makes_multi_hot_float_rows_in_label_order(tmp_path):
    train = _table(tmp_path, _emotion_rows())
    validation = _table(tmp_path, [("v1", "fear;joy"), ("v2", "love")], name="validation.csv")
    examples = TASK.load(train, validation, Columns("text", "label"), SplitSettings())
    assert examples.task == "multi" and examples.labels == ("anger", "fear", "joy", "love")
    assert examples.train_labels[1] == [0.0, 0.0, 1.0, 1.0]  # "joy;love"
    assert examples.validation_labels == [[0.0, 1.0, 1.0, 0.0], [0.0, 0.0, 0.0, 1.0]]
    assert all(isinstance(v, float) for row in examples.train_labels for v in row)
    assert not examples.split_from_train and len(examples.train_texts) == 60


def test_a_validation_row_with_only_unknown_labels_is_named_by_line(tmp_path):
    train = _table(tmp_path, _emotion_rows())
    rows = [("v1", "joy"), ("v2", "surprise"), ("v3", "anger"), ("v4", "grief;surprise")]
    validation = _table(tmp_path, rows, name="validation.csv")
    with pytest.raises(DataError) as error:
        TASK.load(train, validation, Columns("text", "label"), SplitSettings())
    message = str(error.value)
    assert "validation.csv" in message and "lines 3, 5" in message and "'grief', 'surprise'" in message
    assert "'label'" in message and "\n" not in message


def test_unknown_labels_beside_known_ones_are_dropped_with_a_warning(tmp_path):
    train = _table(tmp_path, _emotion_rows())
    validation = _table(tmp_path, [("v1", "joy;surprise"), ("v2", "anger")], name="validation.csv")
    examples = TASK.load(train, validation, Columns("text", "label"), SplitSettings())
    assert examples.validation_labels[0] == [0.0, 0.0, 1.0, 0.0]
    assert any("'surprise'" in w and "left out" in w for w in examples.warnings)


def test_rows_with_an_empty_label_cell_are_left_out_and_counted(tmp_path):
    rows = [*_emotion_rows(), ("no label", ""), ("only separators", " ; ")]
    examples = TASK.load(_table(tmp_path, rows), None, Columns("text", "label"), SplitSettings())
    assert len(examples.train_texts) + len(examples.validation_texts) == 60
    assert any("1 of 62 rows" in w for w in examples.warnings)
    assert any("only separators" in w for w in examples.warnings)


def test_the_held_out_split_keeps_every_label_in_training(tmp_path):
    examples = TASK.load(_table(tmp_path, _emotion_rows(70)), None, Columns("text", "label"), SplitSettings(0.2))
    assert examples.split_from_train and len(examples.validation_texts) == 14
    assert all(sum(column) > 0 for column in zip(*examples.train_labels, strict=True))


def test_one_label_for_every_row_is_refused(tmp_path):
    with pytest.raises(DataError, match="at least two labels"):
        TASK.load(
            _table(tmp_path, [(f"t{i}", "joy") for i in range(10)]), None, Columns("text", "label"), SplitSettings()
        )


def test_distribution_counts_rows_per_label_and_labels_per_row(tmp_path):
    table = _table(tmp_path, [("a", "x;y"), ("b", "x"), ("c", "y;z"), ("d", "x"), ("e", "")])
    shown = TASK.distribution(table, Columns("text", "label"))
    assert shown.kind == "counts" and shown.bars == [("x", 3), ("y", 2), ("z", 1)]
    assert shown.note == "1.5 labels per row on average"


# ---- metrics and loss ---------------------------------------------------------------------------------------


def _logit(p):
    return math.log(p / (1 - p))


def test_report_at_given_thresholds_has_the_hand_computed_f1():
    labels = ("x", "y")
    probabilities = np.array([[0.9, 0.2], [0.6, 0.7], [0.3, 0.8], [0.55, 0.1]])
    truth = np.array([[1, 0], [1, 1], [0, 1], [0, 0]], dtype=float)
    logits = np.vectorize(_logit)(probabilities)
    report = multilabel_report(labels, logits, truth, [0.5, 0.5])
    # x: predicted rows 0, 1, 3 -> tp 2, fp 1, fn 0 -> F1 0.8; y: predicted rows 1, 2 -> F1 1.
    assert report["per_label"]["x"] == pytest.approx(
        {"precision": 2 / 3, "recall": 1.0, "f1": 0.8, "support": 2, "threshold": 0.5}
    )
    assert report["per_label"]["y"]["f1"] == pytest.approx(1.0)
    assert report["f1"] == pytest.approx(0.9)
    assert report["f1_micro"] == pytest.approx(2 * 4 / (2 * 4 + 1))  # tp 4, fp 1, fn 0
    assert report["precision"] == pytest.approx(0.8) and report["recall"] == pytest.approx(1.0)
    # At 0.58 for x, row 3 (0.55) is no longer predicted: x is perfect too.
    assert multilabel_report(labels, logits, truth, [0.58, 0.5])["f1"] == pytest.approx(1.0)
    expected_loss = -np.mean(truth * np.log(probabilities) + (1 - truth) * np.log(1 - probabilities))
    assert report["loss"] == pytest.approx(expected_loss)


def test_thresholds_are_tuned_per_label_and_shared_for_rare_labels():
    rng = np.random.default_rng(0)
    n = 200
    truth = np.zeros((n, 2))
    truth[:40, 0] = 1
    truth[:3, 1] = 1
    probabilities = rng.uniform(0.0, 0.1, size=(n, 2))
    probabilities[:40, 0] = rng.uniform(0.25, 0.35, size=40)  # separable at any threshold in (0.1, 0.25]
    probabilities[:3, 1] = 0.9
    thresholds = tune_thresholds(probabilities, truth, min_support=10)
    assert 0.1 < thresholds[0] <= 0.25
    # Three positives are too few to tune on: the label takes the threshold best for all labels together.
    shared = tune_thresholds(probabilities, truth, min_support=10**6)
    assert thresholds[1] == shared[0] == shared[1]


def test_metrics_tune_on_validation_and_select_on_macro_f1():
    probabilities = np.array([[0.3, 0.05], [0.2, 0.04], [0.05, 0.9], [0.06, 0.8]] * 10)
    truth = np.array([[1, 0], [1, 0], [0, 1], [0, 1]] * 10, dtype=float)
    metrics = MultiLabelMetrics(("x", "y"))
    prediction = SimpleNamespace(predictions=np.vectorize(_logit)(probabilities), label_ids=truth)
    scalars = metrics(prediction)
    assert scalars["f1"] == pytest.approx(1.0)  # x is found below 0.5 once its threshold is tuned
    assert set(scalars) == {"f1", "f1_micro", "precision", "recall", "loss", "selection_score"}
    assert 0 < scalars["f1"] - scalars["selection_score"] < 1e-6
    report = metrics.last_report
    assert report["thresholds"]["x"] < 0.2 and report["thresholds_tuned_on"] == "validation"
    assert json.loads(json.dumps(TASK.summary(report)))["f1"] == pytest.approx(1.0)
    untuned = MultiLabelMetrics(("x", "y"), tune=False)(prediction)
    assert untuned["f1"] == pytest.approx(0.5)


def test_the_loss_weighs_rare_positives_and_averages_over_cells():
    import torch

    labels = [[1.0, 0.0]] + [[0.0, 1.0]] * 3 + [[0.0, 0.0]] * 96
    weights = positive_weights(labels)
    assert weights == pytest.approx([math.sqrt(99), math.sqrt(97 / 3)])
    assert positive_weights([[1.0, 0.0]] + [[0.0, 0.0]] * 999) == pytest.approx([10.0, 1.0])  # capped; unseen: 1

    logits = torch.tensor([[0.3, -1.0], [2.0, 0.5]])
    target = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    plain = WeightedBCELoss(None)({"logits": logits}, target)
    assert plain.item() == pytest.approx(torch.nn.functional.binary_cross_entropy_with_logits(logits, target).item())
    # Normalised by the accumulated batch's cells: half the sum over a batch of 8 cells when 4 are here.
    assert WeightedBCELoss(None)({"logits": logits}, target, num_items_in_batch=8).item() == pytest.approx(
        plain.item() / 2
    )
    weighted = WeightedBCELoss([4.0, 1.0])({"logits": logits}, target)
    expected = torch.nn.functional.binary_cross_entropy_with_logits(logits, target, pos_weight=torch.tensor([4.0, 1.0]))
    assert weighted.item() == pytest.approx(expected.item()) and weighted.item() > plain.item()


def test_a_fresh_head_starts_at_the_best_constant_of_the_weighted_loss():
    import torch

    labels = [[1.0, 0.0, 1.0]] * 3 + [[0.0, 1.0, 1.0]] * 30 + [[0.0, 0.0, 1.0]] * 67
    weights = positive_weights(labels)
    target, pos_weight = torch.tensor(labels), torch.tensor(weights)

    def gradient(start):
        bias = torch.tensor(start, requires_grad=True)
        logits = bias.expand(len(labels), 3)
        torch.nn.functional.binary_cross_entropy_with_logits(logits, target, pos_weight=pos_weight).backward()
        return bias.grad.abs().max().item()

    bias = torch.tensor(initial_bias(labels, weights))
    # The gradient nearly vanishes there (the shares are smoothed a little): nothing left to learn from base rates.
    assert gradient(bias.tolist()) < 0.01 < 0.1 < gradient([0.0, 0.0, 0.0])
    assert bias[0].item() < bias[1].item() < bias[2].item()


def test_the_model_class_initialises_only_a_fresh_head(tmp_path):
    folder = make_tiny_model(tmp_path / "tiny")  # a head of 2 labels
    bias = [-1.0, -2.0, -3.0]
    model = MultiLabelModel.from_pretrained(
        folder, num_labels=3, studio_initial_bias=bias, ignore_mismatched_sizes=True
    )
    assert model.classifier.bias.tolist() == bias
    assert not hasattr(model.config, "studio_initial_bias")
    model.save_pretrained(tmp_path / "trained")
    again = MultiLabelModel.from_pretrained(
        tmp_path / "trained", num_labels=3, studio_initial_bias=[5.0, 5.0, 5.0], ignore_mismatched_sizes=True
    )
    assert again.classifier.bias.tolist() == bias  # a trained head of the right shape keeps its bias
    assert MultiLabelModel.from_pretrained(tmp_path / "trained").classifier.bias.tolist() == bias
    labels = [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 1.0, 1.0]]
    from studio.core.tasks.base import Examples

    examples = Examples("multi", ["a", "b", "c"], labels, [], [], ("x", "y", "z"), Columns("text", "label"), False)
    config = TASK.model_config(examples)
    assert config["problem_type"] == "multi_label_classification" and config["num_labels"] == 3
    assert config["studio_initial_bias"] == pytest.approx(initial_bias(labels, positive_weights(labels)))


# ---- export and prediction ----------------------------------------------------------------------------------


def _examples(labels):
    from studio.core.tasks.base import Examples

    return Examples("multi", [], [], [], [], tuple(labels), Columns("text", "label"), False)


def test_thresholds_folded_into_the_head_make_the_same_decisions_at_one_half(tmp_path):
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer, pipeline

    labels = ["a", "b", "c"]
    folder = make_tiny_model(tmp_path / "tiny", labels=labels)
    model = AutoModelForSequenceClassification.from_pretrained(folder, problem_type="multi_label_classification")
    tokenizer = AutoTokenizer.from_pretrained(folder)
    texts = [f"some words number {i} and more {'x ' * (i % 5)}" for i in range(40)]
    model.eval()
    with torch.no_grad():
        before = torch.sigmoid(model(**tokenizer(texts, padding=True, return_tensors="pt")).logits).numpy()
    # Thresholds that cut through the tiny model's scores, so that each label has both decisions.
    thresholds = np.median(before, axis=0)
    report = {"thresholds": dict(zip(labels, thresholds.tolist(), strict=True))}
    TASK.prepare_export(model, _examples(labels), report)
    TASK.prepare_export(model, _examples(labels), report)  # a second call must not fold twice
    assert model.config.studio_task == "multi"
    assert model.config.studio_thresholds == {"a": 0.5, "b": 0.5, "c": 0.5}
    assert model.config.studio_tuned_thresholds == pytest.approx(report["thresholds"])
    assert model.config.studio_folded_thresholds == pytest.approx(report["thresholds"])  # what a re-fold undoes
    model.save_pretrained(tmp_path / "export")
    tokenizer.save_pretrained(tmp_path / "export")

    classify = pipeline(
        "text-classification", model=str(tmp_path / "export"), top_k=None, function_to_apply="sigmoid", device="cpu"
    )
    after = np.array([[{d["label"]: d["score"] for d in row}[n] for n in labels] for row in classify(texts)])
    expected = before >= thresholds[None, :]
    assert 0 < expected.sum() < expected.size
    assert ((after >= 0.5) == expected).all()
    saved = json.loads((tmp_path / "export" / "config.json").read_text())
    assert saved["problem_type"] == "multi_label_classification" and saved["studio_thresholds"]["a"] == 0.5


def test_the_head_is_found_in_roberta_style_models():
    from transformers import RobertaConfig, RobertaForSequenceClassification

    config = RobertaConfig(
        vocab_size=50, hidden_size=16, num_hidden_layers=1, num_attention_heads=2, intermediate_size=16, num_labels=3
    )
    model = RobertaForSequenceClassification(config)
    assert classifier_head(model, 3) is model.classifier.out_proj


def test_decode_applies_the_config_thresholds():
    config = SimpleNamespace(
        id2label={0: "a", 1: "b", 2: "c"}, num_labels=3, studio_thresholds={"a": 0.5, "b": 0.5, "c": 0.9}
    )
    logits = np.array([[_logit(0.7), _logit(0.2), _logit(0.8)], [_logit(0.1), _logit(0.3), _logit(0.2)]])
    first, second = TASK.decode(logits, config)
    assert first.label == "a" and first.chosen == ("a",) and first.score == pytest.approx(0.7)
    assert first.probabilities == pytest.approx({"a": 0.7, "b": 0.2, "c": 0.8})
    assert second.label == "" and second.chosen == () and second.score == pytest.approx(0.3)
    both = TASK.decode(logits[:1], SimpleNamespace(id2label=config.id2label, num_labels=3))[0]
    assert both.label == "a;c" and both.score == pytest.approx(0.8)  # 0.5 for every label without the setting
    assert TASK.csv_header(config) == ["predicted_labels", "p(a)", "p(b)", "p(c)"]
    assert TASK.csv_cells(both, config) == ["a;c", "0.700000", "0.200000", "0.800000"]


def test_card_lines_show_the_per_label_table():
    metrics = {"per_label": {"a": {"precision": 0.5, "recall": 1.0, "f1": 2 / 3, "support": 4, "threshold": 0.3}}}
    lines = TASK.card_lines(metrics)
    assert "| a | 0.5000 | 1.0000 | 0.6667 | 4 | 0.30 |" in lines
    assert any("tuned on the validation data" in line for line in lines)


def test_the_task_is_registered_with_its_pipeline_settings():
    task = get_task("multi")
    assert isinstance(task, MultiLabelTask) and task.problem_type == "multi_label_classification"
    assert task.pipeline_kwargs == {"top_k": None, "function_to_apply": "sigmoid"}
    assert task.detect_priority < get_task("pair").detect_priority


# ---- a real run ---------------------------------------------------------------------------------------------


@needs_shared
@pytest.mark.slow
def test_builtin_model_trains_on_goemotions_and_exports_for_the_pipeline(tmp_path):
    from transformers import pipeline

    from studio.core.config import TrainConfig
    from studio.core.inference import Predictor
    from studio.core.training import run_training

    def sample(name, n):
        with open(SHARED_DATA / "goemotions" / name, encoding="utf-8", newline="") as f:
            rows = list(csv.reader(f))[1:]
        return rows[:n]

    train = write_csv(tmp_path / "train.csv", [tuple(r) for r in sample("train.csv", 256)])
    known = {p for _, cell in sample("train.csv", 256) for p in cell.split(";")}
    held = [tuple(r) for r in sample("validation.csv", 200) if set(r[1].split(";")) <= known][:96]
    validation = write_csv(tmp_path / "validation.csv", held)
    out = tmp_path / "export"
    result = run_training(
        TrainConfig(
            train_csv=str(train),
            validation_csv=str(validation),
            task="multi",
            epochs=1,
            max_length=48,
            output_dir=str(out),
        )
    )
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["task"] == "multi" and set(metrics) >= {"f1", "f1_micro", "per_label", "thresholds"}
    assert metrics["f1"] == pytest.approx(result.metrics["f1"]) and 0 < metrics["f1"] <= 1
    config = json.loads((out / "config.json").read_text())
    assert config["problem_type"] == "multi_label_classification"
    assert set(config["studio_thresholds"].values()) == {0.5}

    texts = [row[0] for row in held[:16]]
    classify = pipeline("text-classification", model=str(out), top_k=None, function_to_apply="sigmoid", device="cpu")
    scores = [{d["label"]: d["score"] for d in row} for row in classify(texts)]
    predictions = Predictor(out).predict(texts)
    for row, prediction in zip(scores, predictions, strict=True):
        # The same decisions at 0.5 as the studio's own prediction (away from 0.5 itself, where batching and
        # padding may move a score by a rounding error).
        clear = {name for name, score in row.items() if abs(score - 0.5) > 1e-3}
        assert {n for n in clear if row[n] >= 0.5} == set(prediction.chosen) & clear
