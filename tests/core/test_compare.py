"""Run comparison without Qt: two tiny runs with different learning rates, and hand-written run folders."""

import json

import pytest

from studio.core.compare import compare_runs, load_curves
from studio.core.config import TrainConfig
from studio.core.errors import StudioError
from tests.run_pairs import RATES, two_runs


def test_two_runs_differ_in_the_learning_rate_alone(tiny_model_dir):
    slow, fast = two_runs(tiny_model_dir)
    comparison = compare_runs([slow, fast])
    assert comparison.differing == ["learning_rate"]
    rate = next(row for row in comparison.settings if row.name == "learning_rate")
    assert rate.differs and rate.values == (f"{RATES[0]:g}", f"{RATES[1]:g}")
    assert not next(row for row in comparison.settings if row.name == "epochs").differs
    for run in comparison.runs:
        assert len(run.curves.loss) >= 5  # a loss point per step (7 steps)
        assert len(run.curves.metric) >= 2  # two evaluations a epoch (and one at the end)
        assert run.curves.metric_title == "Macro F1"
    figures = {row.key: row for row in comparison.figures}
    f1 = [json.loads((r / "model" / "metrics.json").read_text())["f1"] for r in (slow, fast)]
    assert figures["f1"].values == pytest.approx(f1)
    assert figures["loss"].best in (0, 1, None)

    table = comparison.table()
    assert "* learning_rate" in table and "  epochs" in table
    assert slow.name in table and fast.name in table
    short = comparison.table(only_differences=True)
    assert "* learning_rate" in short and "epochs  " not in short


def _run_folder(path, events, metrics=None, **settings):
    path.mkdir(parents=True)
    TrainConfig(train_csv="data.csv", **settings).save(path / "config.json")
    (path / "status.json").write_text(json.dumps({"status": "finished"}))
    (path / "events.jsonl").write_text("".join(json.dumps(e) + "\n" for e in events) + '{"kind": "Loss')
    if metrics is not None:
        (path / "model").mkdir()
        (path / "model" / "metrics.json").write_text(json.dumps(metrics))
    return path


def test_a_resumed_step_keeps_its_last_value_and_a_cut_line_is_skipped(tmp_path):
    events = [
        {"kind": "LossLogged", "step": 1, "epoch": 0.1, "loss": 0.9, "learning_rate": 1e-4},
        {"kind": "LossLogged", "step": 2, "epoch": 0.2, "loss": 0.8, "learning_rate": 1e-4},
        {"kind": "LossLogged", "step": 2, "epoch": 0.2, "loss": 0.7, "learning_rate": 1e-4},  # resumed
        {"kind": "Evaluated", "step": 2, "epoch": 0.2, "loss": 0.6, "task": "regression", "main": 0.5},
    ]
    run = _run_folder(tmp_path / "a", events)
    curves = load_curves(run)
    assert curves.loss.steps == (1.0, 2.0) and curves.loss.values == (0.9, 0.7)
    assert curves.metric.values == (0.5,) and curves.metric_key == "pearson"


def test_a_run_without_final_figures_shows_its_last_evaluation(tmp_path):
    evaluated = {"kind": "Evaluated", "step": 3, "epoch": 1, "loss": 0.4, "task": "single", "main": 0.7}
    a = _run_folder(tmp_path / "a", [{**evaluated, "scores": {"f1": 0.7, "accuracy": 0.8}}], seed=1)
    b = _run_folder(tmp_path / "b", [], metrics={"task": "single", "f1": 0.9, "accuracy": 0.85, "loss": 0.3}, seed=2)
    comparison = compare_runs([a, b])
    assert comparison.differing == ["seed"]
    f1 = next(row for row in comparison.figures if row.key == "f1")
    assert f1.values == (0.7, 0.9) and f1.best == 1
    loss = next(row for row in comparison.figures if row.key == "loss")
    assert loss.best == 1  # lower is better
    assert any("has no final figures" in note for note in comparison.notes)


def test_bad_choices_are_sentences(tmp_path):
    with pytest.raises(StudioError, match="two or more runs"):
        compare_runs([tmp_path])
    with pytest.raises(StudioError, match="not a training run folder"):
        compare_runs([tmp_path, tmp_path / "nothing"])
