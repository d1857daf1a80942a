"""The task registry: every task is found, each shared dataset is proposed its task, and pairs train end to end."""

from __future__ import annotations

import json

import pytest

from studio.core.csvio import read_table
from studio.core.errors import DataError
from studio.core.tasks import TASK_NAMES, available_tasks, detect_task, get_task
from studio.core.tasks.base import Columns
from tests.conftest import SHARED_DATA, write_csv


def test_every_task_is_registered_once_in_menu_order():
    assert [t.name for t in available_tasks()] == list(TASK_NAMES)
    for task in available_tasks():
        assert task.title and task.main_metric and task.main_metric_title and task.default_learning_rate > 0


def test_an_unknown_task_names_the_ones_there_are():
    with pytest.raises(DataError, match="There is no task 'ner'; choose one of single, multi, regression, pair, token"):
        get_task("ner")


@pytest.mark.parametrize(
    "folder, file, task, columns",
    [
        ("sms_spam", "train.csv", "single", Columns("text", "label")),
        ("ag_news", "train.csv", "single", Columns("text", "label")),
        ("trec", "train.csv", "single", Columns("text", "label")),
        ("goemotions", "train.csv", "multi", Columns("text", "label")),
        ("stsb", "train.csv", "regression", Columns("text", "label", "text_pair")),
        ("snli_pairs", "train.csv", "pair", Columns("text", "label", "text_pair")),
        ("ner_wikigold", "train.csv", "token", Columns("tokens", "tags")),
        ("ner_wikigold", "validation.conll", "token", Columns("tokens", "tags")),
    ],
)
def test_each_shared_dataset_is_proposed_its_task_from_the_file_alone(folder, file, task, columns):
    path = SHARED_DATA / folder / file
    if not path.is_file():
        pytest.skip(f"{path} is not in this checkout (../shared/data)")
    detection = detect_task(read_table(path))
    assert (detection.task, detection.columns) == (task, columns)
    assert detection.reason.endswith(".") and len(detection.reason) > 20


def test_the_users_columns_win_over_the_detected_ones(tmp_path):
    rows = [(f"first text {i}", f"second text {i}", "yes" if i % 2 else "no", "x") for i in range(20)]
    path = write_csv(tmp_path / "p.csv", rows, header=("question", "answer_text", "match", "other"))
    assert detect_task(read_table(path)).task == "single"  # no pair column by name: one text, one class
    detection = detect_task(read_table(path), text="question", label="match", pair="answer_text")
    assert (detection.task, detection.columns) == ("pair", Columns("question", "match", "answer_text"))
    with pytest.raises(DataError, match="has no column named 'nope'"):
        detect_task(read_table(path), pair="nope")


def test_pair_rows_missing_the_second_text_are_dropped_and_counted(tmp_path):
    from studio.core.data import load_examples

    rows = [(f"premise {i}", "" if i % 10 == 0 else f"hypothesis {i}", ("yes", "no")[i % 2]) for i in range(40)]
    path = write_csv(tmp_path / "pairs.csv", rows, header=("text", "text_pair", "label"))
    examples = load_examples(path)
    assert examples.task == "pair" and examples.columns.pair == "text_pair"
    assert len(examples.train_texts) + len(examples.validation_texts) == 36
    assert len(examples.train_pairs or []) == len(examples.train_texts)
    assert any("4 of 40 rows of pairs.csv have no second text in 'text_pair'" in w for w in examples.warnings)


def test_a_pair_model_trains_exports_and_predicts_pairs(tmp_path, tiny_model_dir, capsys):
    from transformers import pipeline

    from studio.cli import main

    path = SHARED_DATA / "snli_pairs" / "train.csv"
    if not path.is_file():
        pytest.skip(f"{path} is not in this checkout (../shared/data)")
    lines = path.read_text(encoding="utf-8").splitlines()[:241]
    train = tmp_path / "snli.csv"
    train.write_text("\n".join(lines) + "\n", encoding="utf-8")
    out = tmp_path / "model"
    assert (
        main(["train", "--train", str(train), "--model", str(tiny_model_dir), "--epochs", "1", "--output", str(out)])
        == 0
    )
    printed = capsys.readouterr().out
    assert "done: f1 " in printed
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["task"] == "pair" and set(metrics["labels"]) == {"contradiction", "entailment", "neutral"}
    config = json.loads((out / "config.json").read_text())
    assert (config["studio_task"], config["studio_pair_column"]) == ("pair", "text_pair")

    # The CLI takes the second text with --text-pair; without it, a sentence.
    assert main(["predict", "--model", str(out), "--text", "A man sings.", "--text-pair", "Someone sings."]) == 0
    prediction = json.loads(capsys.readouterr().out.strip())
    assert prediction["label"] in metrics["labels"] and len(prediction["probabilities"]) == 3
    assert main(["predict", "--model", str(out), "--text", "A man sings."]) == 2
    assert "trained on pairs of texts" in capsys.readouterr().err

    # The pipeline reads the pair the same way: the same label as the studio's own predictor.
    classifier = pipeline("text-classification", model=str(out))
    assert classifier({"text": "A man sings.", "text_pair": "Someone sings."})["label"] == prediction["label"]

    # A CSV with both columns gets one prediction per row.
    predictions = tmp_path / "predictions.csv"
    assert main(["predict", "--model", str(out), "--input", str(train), "--output", str(predictions)]) == 0
    table = read_table(predictions)
    assert len(table.rows) == 240 and table.columns[-4:] == ("score", "p(contradiction)", "p(entailment)", "p(neutral)")
    card = (out / "README.md").read_text()
    assert "second text: `text_pair`" in card and '"text_pair": "The second text"' in card


def test_an_empty_pair_column_trains_on_the_text_alone(tmp_path):
    from studio.core.data import load_examples

    rows = [(f"first {i}", f"second {i}", f"{i % 7}.{i % 3}") for i in range(60)]
    path = write_csv(tmp_path / "scores.csv", rows, header=("text", "text_pair", "score"))
    assert load_examples(path).columns.pair == "text_pair"  # found by name
    alone = load_examples(path, pair_column="")
    assert (alone.task, alone.columns.pair, alone.train_pairs) == ("regression", None, None)
    with pytest.raises(DataError, match="needs a second text column"):
        load_examples(path, task="pair", pair_column="")
