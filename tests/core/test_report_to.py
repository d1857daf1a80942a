"""--report-to: the tracker passes through to the Trainer; a missing package is one sentence before training."""

import importlib.util

import pytest

from studio.core.config import TrainConfig
from studio.core.errors import ConfigError
from studio.core.runs import list_runs


def _without(monkeypatch, *missing):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name in missing else real(name, *a))


@pytest.mark.parametrize("tracker", ["tensorboard", "mlflow", "wandb"])
def test_a_missing_tracker_package_is_one_sentence_naming_the_pip_package(monkeypatch, tracker):
    _without(monkeypatch, "tensorboard", "tensorboardX", "mlflow", "wandb")
    problems = TrainConfig(train_csv="x.csv", report_to=tracker).problems()
    assert list(problems) == ["report_to"]
    assert f"pip install {tracker}`" in problems["report_to"]
    assert TrainConfig(train_csv="x.csv").problems() == {}
    assert "report_to" in TrainConfig(train_csv="x.csv", report_to="neptune").problems()


def test_training_refuses_before_it_starts(monkeypatch, small_csv, tiny_model_dir):
    from studio.core.training import run_training

    _without(monkeypatch, "wandb")
    with pytest.raises(ConfigError, match="pip install wandb"):
        run_training(TrainConfig(train_csv=str(small_csv), model=str(tiny_model_dir), report_to="wandb"))
    assert list_runs() == []


def test_the_trainer_gets_the_choice(tmp_path, monkeypatch):
    from studio.core.trainer import training_arguments

    none = training_arguments(TrainConfig(train_csv="x.csv"), tmp_path, 100, "cpu", "fp32")
    assert none.report_to in ([], "none", ["none"])


@pytest.mark.skipif(
    importlib.util.find_spec("tensorboard") is None and importlib.util.find_spec("tensorboardX") is None,
    reason="tensorboard is not installed",
)
def test_tensorboard_writes_event_files_in_the_run_folder(small_csv, tiny_model_dir):
    from studio.core.training import run_training

    config = TrainConfig(
        train_csv=str(small_csv),
        model=str(tiny_model_dir),
        epochs=1,
        batch_size=16,
        max_length=32,
        report_to="tensorboard",
        device="cpu",
    )
    result = run_training(config)
    # Beside the checkpoints, which a finished run deletes.
    assert list((result.run_dir / "tensorboard").glob("events.out.tfevents*"))
