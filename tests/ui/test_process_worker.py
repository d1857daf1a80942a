"""A run on "all GPUs": the engine under torchrun in a child process (two CPU ranks here), followed by its log."""

from __future__ import annotations

import json

import pytest

from studio.core import events as ev
from studio.core.config import TrainConfig
from studio.core.launch import Launch
from studio.core.runs import EVENTS_FILE, load_run
from studio.ui.process_worker import _EventsTail
from studio.ui.training_controller import TrainingController
from tests.ui.events import collect

TIMEOUT_MS = 240_000


@pytest.fixture
def one_thread(monkeypatch):
    # Two ranks on a small shared machine: one thread each, or they fight for the cores.
    monkeypatch.setenv("OMP_NUM_THREADS", "1")


def test_two_ranks_stop_resume_and_report_the_same_events(qtbot, tiny_model_dir, small_csv, one_thread):
    controller = TrainingController()
    events = collect(controller, ev.Event)
    config = TrainConfig(
        train_csv=str(small_csv),
        model=str(tiny_model_dir),
        epochs=200,  # 800 steps: long enough to be stopped in the middle
        batch_size=8,
        max_length=32,
        device="cpu",
    )
    two = Launch(processes=2)
    controller.start(config, two)
    qtbot.waitUntil(lambda: any(isinstance(e, ev.Progress) and e.step >= 2 for e in events), timeout=TIMEOUT_MS)
    with qtbot.waitSignal(controller.idle, timeout=TIMEOUT_MS):
        controller.stop()
    kinds = [type(e) for e in events]
    assert kinds[0] is ev.RunCreated and ev.Failed not in kinds, events
    started = next(e for e in events if isinstance(e, ev.RunStarted))
    # 54 training rows, 8 a rank, 2 ranks: 4 steps an epoch.
    assert started.total_steps == 800 and started.device == "cpu"
    assert "torchrun" in started.run_dir
    (finished,) = [e for e in events if isinstance(e, ev.Finished)]
    assert finished.stopped and finished.metrics["epochs_completed"] < 200
    assert kinds.index(ev.RunStarted) < kinds.index(ev.Finished)
    run = load_run(finished.run_dir)
    assert run.status == "stopped" and run.resumable

    # Resume on the same two ranks: only this life's events arrive, and the earlier ones are in the log.
    events.clear()
    controller.resume(finished.run_dir, two)
    qtbot.waitUntil(lambda: any(isinstance(e, ev.RunStarted) for e in events), timeout=TIMEOUT_MS)
    with qtbot.waitSignal(controller.idle, timeout=TIMEOUT_MS):
        controller.stop()
    assert isinstance(events[0], ev.RunCreated) and events[0].resumed
    resumed = next(e for e in events if isinstance(e, ev.RunStarted))
    assert resumed.resumed_from_step >= 2 and resumed.run_dir == finished.run_dir
    (again,) = [e for e in events if isinstance(e, ev.Finished)]
    assert again.stopped and load_run(finished.run_dir).status == "stopped"


def test_a_refusal_in_the_child_is_one_sentence(qtbot, tmp_path, one_thread):
    controller = TrainingController()
    failed = collect(controller, ev.Failed)
    missing = tmp_path / "missing.csv"
    with qtbot.waitSignal(controller.idle, timeout=TIMEOUT_MS):
        controller.start(TrainConfig(train_csv=str(missing), device="cpu"), Launch(processes=1))
    (failure,) = failed
    assert str(missing.name) in failure.message and "studio.log" not in failure.message


def test_the_tail_reads_this_life_of_the_run_in_whole_lines(tmp_path):
    log = tmp_path / EVENTS_FILE
    first = [ev.RunCreated(run_dir=str(tmp_path)), ev.LossLogged(step=1, epoch=0.1, loss=0.7, learning_rate=1e-3)]
    second = [
        ev.RunCreated(run_dir=str(tmp_path), resumed=True),
        ev.Evaluated(
            step=4,
            epoch=1.0,
            loss=0.6,
            main=0.5,
            scores={"accuracy": 0.5, "f1": 0.5, "precision": 0.5, "recall": 0.5},
            labels=("a", "b"),
            report={"confusion": [[1, 2], [3, 4]]},
        ),
    ]
    lines = [json.dumps(e.to_dict()) + "\n" for e in first + second]
    log.write_text("".join(lines) + '{"kind": "Progress", "st', encoding="utf-8")
    tail = _EventsTail()
    assert tail.read() == []
    tail.run_dir = tmp_path
    assert tail.read() == second, "the earlier life is skipped and the tuples come back as tuples"
    with open(log, "a", encoding="utf-8") as handle:
        handle.write('ep": 5, "total_steps": 8, "epoch": 1.2, "elapsed_s": 1.0, "eta_s": null}\n')
    assert tail.read() == [ev.Progress(step=5, total_steps=8, epoch=1.2, elapsed_s=1.0, eta_s=None)]
    assert tail.read() == []
