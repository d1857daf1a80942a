"""The validation rows behind a run's figures: each confusion cell lists exactly the rows it counts."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tests.conftest import write_csv


@pytest.fixture(scope="module")
def three_class_run(tmp_path_factory):
    """A tiny-model run on three classes, its validation split held out of the training file."""
    import os

    from tests.conftest import make_tiny_model

    base = tmp_path_factory.mktemp("rows-run")
    os.environ["STUDIO_HOME"] = str(base / "home")
    model = make_tiny_model(base / "tiny")
    from studio.core.config import TrainConfig
    from studio.core.training import run_training

    words = {"red": "apple cherry tomato", "green": "grass leaf lime", "blue": "sky sea ocean"}
    # Of several lengths, so that the length-sorted evaluation batches are not in the rows' order.
    rows = [(f"{w.split()[i % 3]} {i} {w}{' more' * (i % 5)}", label) for label, w in words.items() for i in range(20)]
    train = write_csv(base / "train.csv", rows)
    result = run_training(
        TrainConfig(
            train_csv=str(train),
            model=str(model),
            epochs=2,
            batch_size=8,
            max_length=16,
            validation_share=0.3,
            learning_rate=5e-3,  # enough for the rows' probabilities to differ from one another
            # In bf16 autocast, as auto gives on a CPU with native bf16: the saved rows are still the fp32 export's.
            precision="bf16",
        )
    )
    return result


def test_each_cell_lists_exactly_the_rows_it_counts(three_class_run):
    from studio.core.validation_rows import validation_rows

    rows = validation_rows(three_class_run.run_dir)
    matrix = three_class_run.metrics["confusion"]
    assert rows.labels == tuple(three_class_run.metrics["labels"])
    assert rows.confusion() == matrix
    listed = 0
    for i in range(len(rows.labels)):
        for j in range(len(rows.labels)):
            cell = rows.cell(i, j)
            assert len(cell) == matrix[i][j]
            assert all(r.true == rows.labels[i] and r.predicted == rows.labels[j] for r in cell)
            assert all(0.0 <= r.confidence <= 1.0 for r in cell)
            listed += len(cell)
    assert listed == len(rows.texts) == sum(map(sum, matrix))


def test_the_engine_saves_each_rows_prediction_against_that_row(three_class_run):
    """The final evaluation's predictions are kept in the rows' order, not in the length order batches use."""
    from studio.core.inference import Predictor
    from studio.core.validation_rows import validation_rows

    rows = validation_rows(three_class_run.run_dir)
    assert rows.source == "saved"
    predictor = Predictor(three_class_run.model_dir, device="cpu", max_length=16)
    again = predictor.predict(list(rows.texts))
    assert [p.label for p in again] == [rows.labels[i] for i in rows.predicted]
    # Each row's own probability (the labels alone could agree by chance if the model says one class throughout).
    assert max(rows.confidence) - min(rows.confidence) > 1e-3
    assert [p.score for p in again] == pytest.approx(list(rows.confidence), abs=1e-5)


def test_kept_predictions_are_used_when_the_engine_saved_them(three_class_run):
    from studio.core.data import load_examples
    from studio.core.runs import load_run
    from studio.core.validation_rows import PREDICTIONS_FILE, save_predictions, validation_rows

    config = load_run(three_class_run.run_dir).config
    examples = load_examples(
        config.train_csv, validation_share=config.validation_share, seed=config.seed, task="single"
    )
    n = len(examples.validation_texts)
    logits = np.zeros((n, 3))
    logits[:, 2] = 5.0  # everything predicted as the third class
    save_predictions(three_class_run.run_dir, examples, logits, {})
    try:
        rows = validation_rows(three_class_run.run_dir)
        assert rows.source == "saved"
        assert all(p == 2 for p in rows.predicted)
        assert sum(len(rows.cell(i, 2)) for i in range(3)) == n
    finally:
        (three_class_run.run_dir / PREDICTIONS_FILE).unlink()


def test_binary_predictions_are_kept_at_the_tuned_threshold(tmp_path):
    from studio.core.tasks.base import Columns, Examples
    from studio.core.validation_rows import PREDICTIONS_FILE, save_predictions

    examples = Examples("single", [], [], ["a", "b", "c"], [0, 1, 1], ("no", "yes"), Columns("t", "l"), False)
    logits = np.array([[0.0, -2.0], [0.0, -1.0], [0.0, 1.0]])  # P(yes) = 0.12, 0.27, 0.73
    save_predictions(tmp_path, examples, logits, {"threshold": 0.2, "threshold_label": "yes"})
    saved = json.loads((tmp_path / PREDICTIONS_FILE).read_text())
    assert saved["predicted"] == [0, 1, 1]


def test_a_run_without_its_data_gets_a_sentence(three_class_run, tmp_path):
    import shutil

    from studio.core.errors import StudioError
    from studio.core.validation_rows import validation_rows

    copy = tmp_path / "run"
    shutil.copytree(three_class_run.run_dir, copy)
    config = json.loads((copy / "config.json").read_text())
    config["train_csv"] = str(tmp_path / "gone.csv")
    (copy / "config.json").write_text(json.dumps(config))
    with pytest.raises(StudioError, match="no longer there"):
        validation_rows(copy)


def test_multi_label_rows_per_label_match_the_per_label_table(tmp_path, tiny_model_dir):
    from studio.core.config import TrainConfig
    from studio.core.training import run_training
    from studio.core.validation_rows import CORRECT, FALSE_NEGATIVE, FALSE_POSITIVE, validation_rows

    sets = ["sport", "news;sport", "music", "news", "music;news", "sport;music"]
    rows = [(f"text {i} about {sets[i % 6].replace(';', ' and ')}", sets[i % 6]) for i in range(48)]
    train = write_csv(tmp_path / "train.csv", rows)
    result = run_training(
        TrainConfig(
            train_csv=str(train),
            model=str(tiny_model_dir),
            task="multi",
            epochs=1,
            batch_size=8,
            max_length=16,
            validation_share=0.25,
        )
    )
    found = validation_rows(result.run_dir)
    assert found.task == "multi"
    for name, figures in result.metrics["per_label"].items():
        counts = found.label_counts(name)
        assert counts[CORRECT] + counts[FALSE_NEGATIVE] == figures["support"]
        predicted = counts[CORRECT] + counts[FALSE_POSITIVE]
        if predicted:
            assert counts[CORRECT] / predicted == pytest.approx(figures["precision"], abs=1e-6)
        listed = found.label_rows(name)
        assert all(name in r.true.split("; ") or name in r.predicted.split("; ") for r in listed)


def test_entity_rows_per_type_match_the_per_entity_table(tmp_path, tiny_model_dir):
    from studio.core.config import TrainConfig
    from studio.core.training import run_training
    from studio.core.validation_rows import FOUND, MISSED, WRONG, validation_rows

    sentences = [
        ("John Smith lives in Paris .", "B-PER I-PER O O B-LOC O"),
        ("Angela Merkel spoke in Berlin", "B-PER I-PER O O B-LOC"),
        ("It rained in Rome", "O O O B-LOC"),
        ("Mary met Paul", "B-PER O B-PER"),
    ]
    rows = [sentences[i % 4] for i in range(40)]
    train = write_csv(tmp_path / "train.csv", rows, header=("tokens", "tags"))
    result = run_training(
        TrainConfig(
            train_csv=str(train),
            model=str(tiny_model_dir),
            task="token",
            epochs=1,
            batch_size=8,
            max_length=32,
            validation_share=0.2,
        )
    )
    found = validation_rows(result.run_dir)
    for kind, figures in result.metrics["per_entity"].items():
        listed = found.entity_rows(kind)
        outcomes = [r.outcome for r in listed]
        assert outcomes.count(FOUND) + outcomes.count(MISSED) == figures["support"]
        predicted = outcomes.count(FOUND) + outcomes.count(WRONG)
        if predicted:
            assert outcomes.count(FOUND) / predicted == pytest.approx(figures["precision"], abs=1e-6)
