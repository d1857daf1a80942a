"""A run killed with SIGKILL mid-epoch leaves a readable run folder, and resumes to the uninterrupted result."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from studio.core.runs import load_run, read_events
from tests.conftest import write_csv


def _train_cmd(csv, model, out):
    return [
        sys.executable,
        "-m",
        "studio",
        "train",
        "--train",
        str(csv),
        "--model",
        str(model),
        "--epochs",
        "2",
        "--batch-size",
        "8",
        "--lr",
        "1e-3",
        "--max-length",
        "32",
        "--evaluations-per-epoch",
        "2",
        "--checkpoint-minutes",
        "0.0001",
        "--output",
        str(out),
    ]


def test_sigkill_mid_epoch_then_resume(tmp_path, tiny_model_dir, studio_home):
    rows = [(f"great lovely fine day {i}", "pos") if i % 2 else (f"awful bad poor mess {i}", "neg") for i in range(160)]
    csv = write_csv(tmp_path / "data.csv", rows)
    env = {**os.environ, "STUDIO_HOME": str(studio_home)}

    reference = subprocess.run(
        _train_cmd(csv, tiny_model_dir, tmp_path / "ref"), env=env, capture_output=True, text=True, timeout=600
    )
    assert reference.returncode == 0, reference.stderr

    proc = subprocess.Popen(
        _train_cmd(csv, tiny_model_dir, tmp_path / "out"),
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    run_dir = Path(proc.stdout.readline().strip().removeprefix("run: "))
    # 18 steps an epoch, 36 in all: kill once a checkpoint past step 20 is complete (mid second epoch).
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        done = [int(p.parent.name.split("-")[1]) for p in run_dir.glob("checkpoints/checkpoint-*/trainer_state.json")]
        if done and max(done) >= 20:
            break
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL

    run = load_run(run_dir)
    assert run.status == "interrupted" and run.resumable
    assert read_events(run_dir)[0]["kind"] == "RunCreated"
    assert not (tmp_path / "out").exists()

    resumed = subprocess.run(
        [sys.executable, "-m", "studio", "train", "--resume", str(run_dir)],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert resumed.returncode == 0, resumed.stderr
    assert resumed.stdout.splitlines()[0] == f"run: {run_dir}"
    got = json.loads((tmp_path / "out" / "metrics.json").read_text())
    want = json.loads((tmp_path / "ref" / "metrics.json").read_text())
    for key in ("f1", "accuracy", "loss"):
        assert abs(got[key] - want[key]) < 1e-3, (key, got[key], want[key])
    assert load_run(run_dir).status == "finished"
