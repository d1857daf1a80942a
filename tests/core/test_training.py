"""run_training on a tiny model: events, run folder, export, stop and resume, all without Qt."""

import json
import threading

import pytest

from studio.core import events as ev
from studio.core.config import TrainConfig
from studio.core.errors import ConfigError, DataError
from studio.core.runs import list_runs, load_run, read_events
from studio.core.training import resume_training, run_training


def _config(csv, model, **kw):
    base = dict(
        train_csv=str(csv),
        model=str(model),
        epochs=2,
        batch_size=8,
        learning_rate=1e-3,
        max_length=32,
        evaluations_per_epoch=2,
    )
    return TrainConfig(**{**base, **kw})


def test_a_run_reports_events_and_exports_a_pipeline_ready_model(small_csv, tiny_model_dir, tmp_path):
    seen = []
    out = tmp_path / "export"
    result = run_training(_config(small_csv, tiny_model_dir, output_dir=str(out)), seen.append)

    kinds = [type(e) for e in seen]
    assert kinds[0] is ev.RunCreated and kinds[-1] is ev.Finished
    assert kinds.index(ev.RunStarted) < kinds.index(ev.LossLogged) < kinds.index(ev.Evaluated)
    evaluations = [e for e in seen if isinstance(e, ev.Evaluated)]
    assert [e.step for e in evaluations] == [3, 6, 9, 12, 14]  # 2 a epoch, and the last step
    assert all(e.labels == ("negative", "positive") and len(e.confusion) == 2 for e in evaluations)
    progress = [e for e in seen if isinstance(e, ev.Progress)]
    assert progress[-1].step == progress[-1].total_steps == 14
    # The total is the Trainer's own count, reported before the first step.
    started = next(e for e in seen if isinstance(e, ev.RunStarted))
    assert started.total_steps == 14 and started.resumed_from_step == 0
    assert kinds.index(ev.RunStarted) < kinds.index(ev.Progress)

    m = result.metrics
    assert set(m) >= {"f1", "accuracy", "loss", "train_seconds", "per_class", "confusion"}
    assert 0 <= m["f1"] <= 1 and m["train_seconds"] > 0
    assert json.loads((out / "metrics.json").read_text())["f1"] == m["f1"]
    config = json.loads((out / "config.json").read_text())
    assert config["id2label"] == {"0": "negative", "1": "positive"}
    assert (out / "model.safetensors").is_file() and (out / "README.md").read_text().count("## Validation") == 1
    assert not list(tmp_path.glob(".export.partial-*"))

    from transformers import pipeline

    classify = pipeline("text-classification", model=str(out))
    assert classify("great wonderful lovely day")[0]["label"] in ("negative", "positive")

    run = load_run(result.run_dir)
    assert run.status == "finished" and not run.resumable
    assert next(e["kind"] for e in read_events(result.run_dir)) == "RunCreated"
    assert not (result.run_dir / "checkpoints").exists(), "a finished run keeps its model, not its checkpoints"


def test_frozen_layers_are_reported(small_csv, tiny_model_dir):
    seen = []
    run_training(_config(small_csv, tiny_model_dir, freeze_layers=2, epochs=1), seen.append)
    started = next(e for e in seen if isinstance(e, ev.RunStarted))
    assert started.trainable_parameters < started.total_parameters / 10


def test_a_stopped_run_resumes_to_the_same_metrics_as_an_uninterrupted_one(small_csv, tiny_model_dir):
    config = _config(small_csv, tiny_model_dir)
    uninterrupted = run_training(config).metrics

    stop = threading.Event()

    def reporter(event):
        # Stop in the middle of the second epoch (7 steps an epoch); loss is logged every step here.
        if isinstance(event, ev.LossLogged) and event.step >= 10:
            stop.set()

    first = run_training(config, reporter, stop)
    assert first.stopped and first.metrics["stopped_early"]
    run = load_run(first.run_dir)
    assert run.status == "stopped" and run.resumable
    assert (first.model_dir / "model.safetensors").is_file(), "a stopped run still exports its best model"

    resumed = []
    second = resume_training(first.run_dir, resumed.append)
    started = next(e for e in resumed if isinstance(e, ev.RunStarted))
    assert started.resumed_from_step >= 10 and started.total_steps == 14
    assert resumed.index(started) < next(i for i, e in enumerate(resumed) if isinstance(e, ev.Progress))
    assert max(e.step for e in resumed if isinstance(e, ev.Progress)) == 14
    assert not second.stopped and load_run(first.run_dir).status == "finished"
    for key in ("loss", "f1", "accuracy"):
        assert abs(second.metrics[key] - uninterrupted[key]) < 1e-6, (key, second.metrics, uninterrupted)


def test_bad_settings_leave_no_run_behind(small_csv, tiny_model_dir, tmp_path):
    with pytest.raises(ConfigError, match="learning rate"):
        run_training(_config(small_csv, tiny_model_dir, learning_rate=0))
    with pytest.raises(DataError, match="does not exist"):
        run_training(_config(tmp_path / "missing.csv", tiny_model_dir))
    with pytest.raises(ConfigError, match="at most 2 can be frozen"):
        run_training(_config(small_csv, tiny_model_dir, freeze_layers=3))
    with pytest.raises(ConfigError, match="reads at most 128 tokens"):
        run_training(_config(small_csv, tiny_model_dir, max_length=512))
    assert list_runs() == []


def test_out_of_memory_is_a_sentence_with_a_retry(small_csv, tiny_model_dir, monkeypatch):
    import torch

    from studio.core.errors import OutOfMemoryError
    from studio.core.trainer import StudioTrainer

    real_step = StudioTrainer.training_step

    def step(self, model, inputs, *args, **kwargs):
        if inputs["input_ids"].shape[0] > 4:
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return real_step(self, model, inputs, *args, **kwargs)

    monkeypatch.setattr(StudioTrainer, "training_step", step)
    seen = []
    with pytest.raises(OutOfMemoryError) as info:
        run_training(_config(small_csv, tiny_model_dir, batch_size=8, epochs=1), seen.append)
    assert str(info.value) == (
        "The GPU ran out of memory with a batch size of 8; try a batch size of 4 with "
        "gradient accumulation 2 (the same effective batch), or a shorter maximum length."
    )
    assert isinstance(seen[-1], ev.Failed) and seen[-1].message == str(info.value)
    retry = info.value.retry_config
    assert (retry.batch_size, retry.gradient_accumulation) == (4, 2)
    result = run_training(retry)
    # The patched step refuses batches above 4: a whole epoch done means the retry really used the smaller batch.
    assert not result.stopped and result.metrics["epochs_completed"] == pytest.approx(1.0)
