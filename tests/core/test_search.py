"""Hyperparameter search: the space, the study's bookkeeping (budget, pruning, dead trials), and real runs."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from studio.core import events as ev
from studio.core.config import TrainConfig
from studio.core.errors import ConfigError
from studio.core.search import SEARCH_FILE, SearchSettings, prepare_search, run_search
from studio.core.search_space import default_point, default_space, grid_size, parse_dimension, parse_space
from studio.core.training import TrainResult

REPO = Path(__file__).resolve().parents[2]


def test_the_space_reads_ranges_lists_and_option_names():
    lr = parse_dimension("lr=1e-5:1e-3:log")
    assert (lr.name, lr.low, lr.high, lr.log) == ("learning_rate", 1e-5, 1e-3, True)
    batch = parse_dimension("batch-size=16,32")
    assert (batch.name, batch.values) == ("batch_size", (16, 32))
    assert parse_dimension("freeze_layers=0:3").grid_values() == [0, 1, 2, 3]
    assert parse_dimension("early_stopping=none,2").values == (None, 2)
    assert grid_size(parse_space(["batch_size=16,32", "epochs=1,2,3"])) == 6


@pytest.mark.parametrize(
    ("spec", "words"),
    [
        ("lr=1e-3:1e-5", "is empty"),
        ("lr=-1e-3:1e-3", "learning rate must be above 0"),
        ("lr=0:1e-3:log", "must start above 0"),
        ("lr=-0.1,1e-4", "learning rate must be above 0"),
        ("speed=1,2", "no setting 'speed'"),
        ("train=a.csv,b.csv", "no setting 'train'"),
        ("batch_size=16.5,32", "whole numbers"),
        ("batch_size=16,16", "repeat"),
        ("lr", "NAME=LOW:HIGH"),
        ("lr=1e-5:1e-3:sqrt", "LOW:HIGH:log"),
    ],
)
def test_a_bad_space_gets_a_sentence(spec, words):
    with pytest.raises(ConfigError, match=words):
        parse_dimension(spec)


def test_a_grid_over_a_float_range_or_bigger_than_the_budget_is_refused(small_csv, tmp_path):
    base = TrainConfig(train_csv=str(small_csv))
    with pytest.raises(ConfigError, match="A grid needs the values of learning_rate listed"):
        prepare_search(SearchSettings(base, ("lr=1e-5:1e-3",), method="grid", trials=4), tmp_path / "s")
    with pytest.raises(ConfigError, match=r"grid has 6 points \(2 x 3\) but --trials is 4; raise --trials to 6"):
        prepare_search(
            SearchSettings(base, ("batch_size=8,16", "epochs=1,2,3"), method="grid", trials=4), tmp_path / "s"
        )
    with pytest.raises(ConfigError, match="Could not open the study storage"):
        settings = SearchSettings(base, ("lr=1e-5:1e-3",), storage="postgresql://nobody@127.0.0.1:1/none")
        prepare_search(settings, tmp_path / "s")
    assert not (tmp_path / "s").exists(), "nothing is made before every check has passed"


class _FakeRuns:
    """run_training stand-in: each run reports 4 evaluations whose figure grows with the learning rate."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.started: list[float] = []
        self.points: list[tuple] = []

    def __call__(self, config, reporter=None, stop=None):
        self.started.append(config.learning_rate)
        self.points.append((config.learning_rate, config.batch_size))
        run = self.folder / f"run-{len(self.started)}"
        (run / "model").mkdir(parents=True)
        reporter(ev.RunCreated(run_dir=str(run)))
        value = 0.0
        for i in range(1, 5):
            if stop is not None and stop.is_set():
                break
            value = min(1.0, config.learning_rate * 100) * i / 4
            reporter(ev.Evaluated(step=i * 10, epoch=i / 4, loss=1.0, main=value, scores={"f1": value}))
        stopped = stop is not None and stop.is_set()
        return TrainResult(run_dir=run, model_dir=run / "model", metrics={"f1": value}, stopped=stopped)


def _settings(csv, **kw) -> SearchSettings:
    return SearchSettings(base=TrainConfig(train_csv=str(csv)), **kw)


def test_pruning_stops_trials_behind_the_median_and_the_budget_counts_them(small_csv, tmp_path, monkeypatch):
    fake = _FakeRuns(tmp_path / "runs")
    monkeypatch.setattr("studio.core.training.run_training", fake)
    folder = tmp_path / "search"
    space = ("lr=0.001,0.002,0.003,0.0001,0.0002,0.0003",)
    prepare_search(_settings(small_csv, space=space, method="grid", trials=6, prune=True), folder)
    seen: list = []
    result = run_search(folder, seen.append, export_best=False)

    summary = json.loads((folder / SEARCH_FILE).read_text())
    states = {t["settings"]["learning_rate"]: t["state"] for t in summary["trials"]}
    assert len(summary["trials"]) == 6 and summary["finished"] and result.finished
    # Trials below the median of the earlier ones at the same evaluation are pruned, and count towards the budget.
    assert "pruned" in states.values() and states[0.003] == "complete"
    assert summary["best"]["settings"]["learning_rate"] == 0.003 and summary["best"]["metric"] == pytest.approx(0.3)
    assert all(set(t) >= {"number", "settings", "state", "metric", "run"} for t in summary["trials"])
    updates = [e for e in seen if isinstance(e, ev.TrialUpdated)]
    assert {e.state for e in updates} >= {"running", "complete", "pruned"}


@pytest.mark.parametrize("method", ["tpe", "random", "grid"])
def test_the_default_settings_are_the_first_trial_so_the_best_is_at_least_them(
    small_csv, tmp_path, monkeypatch, method
):
    fake = _FakeRuns(tmp_path / "runs")
    monkeypatch.setattr("studio.core.training.run_training", fake)
    folder = tmp_path / "search"
    space = ("lr=1e-4,5e-5,1e-3", "batch_size=16,32") if method == "grid" else ("lr=1e-5:1e-3:log", "batch_size=16,32")
    trials = 6 if method == "grid" else 3
    prepare_search(_settings(small_csv, space=space, method=method, trials=trials), folder)
    seen: list = []
    run_search(folder, seen.append, export_best=False)

    # A plain run's settings (the task's learning rate, 5e-5, and the batch size of 32) run first, and are said so.
    assert fake.started[0] == 5e-5 and len(fake.started) == trials
    summary = json.loads((folder / SEARCH_FILE).read_text())
    first = min(summary["trials"], key=lambda t: t["number"])
    assert first["settings"] == {"learning_rate": 5e-5, "batch_size": 32} and first.get("defaults") is True
    assert sum(bool(t.get("defaults")) for t in summary["trials"]) == 1
    # The budget counts the defaults' trial: exactly `trials` finished, and the best is at least the defaults'.
    assert len(summary["trials"]) == trials and summary["finished"]
    assert summary["best"]["metric"] >= first["metric"]
    running = [e for e in seen if isinstance(e, ev.TrialUpdated) and e.state == "running"]
    assert running[0].message == "the default settings" and all(e.message is None for e in running[1:])
    if method == "grid":
        assert sorted(fake.started) == sorted([1e-4, 5e-5, 1e-3] * 2), "every grid point once"

    # Resumed, a finished search runs nothing more and queues no second defaults' trial.
    run_search(folder, export_best=False)
    assert len(fake.started) == trials


@pytest.mark.parametrize("seed", [1, 7, 2024])
def test_a_stopped_grid_resumes_each_point_once_with_the_defaults_first(small_csv, tmp_path, monkeypatch, seed):
    import threading

    fake = _FakeRuns(tmp_path / "runs")
    monkeypatch.setattr("studio.core.training.run_training", fake)
    folder = tmp_path / "search"
    space = ("lr=1e-4,5e-5,1e-3", "batch_size=16,32,64")
    base = TrainConfig(train_csv=str(small_csv), seed=seed)
    prepare_search(SearchSettings(base=base, space=space, method="grid", trials=9, seed=seed), folder)
    stop = threading.Event()

    def stop_after_two(event) -> None:
        if isinstance(event, ev.TrialUpdated) and event.state == "complete" and len(fake.started) >= 2:
            stop.set()

    run_search(folder, stop_after_two, stop, export_best=False)
    assert len(fake.points) == 2 and fake.points[0] == (5e-5, 32)
    # Resumed (its sampler made again, as in a new process), the grid walks the other points, each once.
    result = run_search(folder, export_best=False)
    assert result.finished and len(fake.points) == 9
    assert sorted(fake.points) == sorted((lr, b) for lr in (1e-4, 5e-5, 1e-3) for b in (16, 32, 64))


def test_a_space_without_the_defaults_runs_no_extra_trial(small_csv, tmp_path, monkeypatch):
    fake = _FakeRuns(tmp_path / "runs")
    monkeypatch.setattr("studio.core.training.run_training", fake)
    folder = tmp_path / "search"
    prepare_search(_settings(small_csv, space=("lr=1e-4:1e-3:log",), method="random", trials=2), folder)
    run_search(folder, export_best=False)
    assert len(fake.started) == 2 and all(1e-4 <= lr <= 1e-3 for lr in fake.started)
    assert not any(t.get("defaults") for t in json.loads((folder / SEARCH_FILE).read_text())["trials"])


def test_the_default_space_holds_the_default_settings(small_csv):
    base = TrainConfig(train_csv=str(small_csv), batch_size=16)
    for method in ("tpe", "grid"):
        dims = parse_space(list(default_space(base, method)))
        assert default_point(base, dims) == {
            "learning_rate": 5e-5,
            "batch_size": 16,
            **({} if method == "grid" else {"warmup_ratio": 0.0}),
        }
    assert grid_size(parse_space(list(default_space(base, "grid")))) == 6
    regression = base.with_changes(task="regression", warmup_ratio=0.2)
    assert default_point(regression, parse_space(list(default_space(regression, "random"))))["learning_rate"] == 2e-4


def test_a_trial_whose_process_died_is_failed_and_its_settings_run_again(small_csv, tmp_path, monkeypatch):
    import optuna

    fake = _FakeRuns(tmp_path / "runs")
    monkeypatch.setattr("studio.core.training.run_training", fake)
    folder = tmp_path / "search"
    settings = prepare_search(_settings(small_csv, space=("lr=0.001,0.002",), method="grid", trials=2), folder)
    # A trial left running by a process that no longer exists (as after a SIGKILL).
    from studio.core.search import _open_study

    study = _open_study(settings, parse_space(list(settings.space)))
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    trial = study.ask({"learning_rate": optuna.distributions.CategoricalDistribution([0.001, 0.002])})
    for key, value in {"pid": dead.pid, "host": os.uname().nodename, "alive": time.time()}.items():
        trial.set_user_attr(key, value)
    lost = trial.params["learning_rate"]

    result = run_search(folder, export_best=False)
    summary = json.loads((folder / SEARCH_FILE).read_text())
    by_state = sorted((t["state"], t["settings"]["learning_rate"]) for t in summary["trials"])
    assert by_state == sorted([("failed", lost), ("complete", 0.001), ("complete", 0.002)])
    retry = next(t for t in summary["trials"] if t.get("retry_of") == trial.number)
    assert retry["state"] == "complete" and retry["settings"]["learning_rate"] == lost
    assert result.finished and len(fake.started) == 2  # the lost trial ran again once; nothing ran twice


def _cli(*args, env=None, **kw):
    return subprocess.Popen(
        [sys.executable, "-m", "studio", "search", *map(str, args)],
        cwd=REPO,
        env={**os.environ, **(env or {})},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **kw,
    )


def _search_args(csv, model, folder, trials):
    return [
        "--train", csv, "--model", model, "--epochs", 1, "--batch-size", 8, "--max-length", 32,
        "--space", "lr=1e-4:1e-2:log", "--method", "random", "--trials", trials, "--output", folder,
    ]  # fmt: skip


def test_a_killed_search_resumes_and_two_processes_share_one_study(small_csv, tiny_model_dir, tmp_path):
    folder = tmp_path / "search"
    first = _cli(*_search_args(small_csv, tiny_model_dir, folder, 3))
    # Kill it (no chance to clean up) once the first trial is done and the second has started.
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and first.poll() is None:
        try:
            summary = json.loads((folder / SEARCH_FILE).read_text())
        except (OSError, ValueError):
            summary = {}
        if sum(t["state"] == "complete" for t in summary.get("trials", [])) >= 1:
            time.sleep(1.0)
            break
        time.sleep(0.3)
    first.send_signal(signal.SIGKILL)
    first.wait()

    # Two processes carry the search on together.
    workers = [_cli("--resume", folder, "--worker", n) for n in (1, 2)]
    outputs = [w.communicate(timeout=600) for w in workers]
    assert [w.returncode for w in workers] == [0, 0], outputs
    summary = json.loads((folder / SEARCH_FILE).read_text())
    finished = [t for t in summary["trials"] if t["state"] in ("complete", "pruned")]
    assert len(finished) == 3, summary["trials"]
    runs = [t["run"] for t in finished]
    assert len(set(runs)) == 3, "no trial ran twice"
    assert all(t["state"] != "running" for t in summary["trials"])

    # The first process's own --resume finds the budget spent and exports the best.
    final = _cli("--resume", folder)
    out, err = final.communicate(timeout=300)
    assert final.returncode == 0, err
    assert "best: trial" in out and (folder / "best" / "config.json").is_file()
    assert json.loads((folder / SEARCH_FILE).read_text())["best"]["model"] == str(folder / "best")


def test_the_cli_says_what_is_wrong(small_csv, tmp_path):
    cases = [
        (["--train", small_csv, "--space", "lr=1e-3:1e-5", "--trials", 2, "--output", tmp_path / "a"], "is empty"),
        (["--train", small_csv, "--space", "lr=1e-5:1e-3", "--output", tmp_path / "c"], "--trials N"),
        (["--resume", tmp_path / "nothing"], "There is no search"),
    ]
    for args, words in cases:
        process = _cli(*args)
        _out, err = process.communicate(timeout=120)
        assert process.returncode == 2 and err.startswith("error: ") and words in err, (args, err)
        assert "Traceback" not in err
