"""`studio train` under torchrun: two CPU ranks share one run folder, and rank 0 alone reports and exports."""

import json
import os
import shutil
import subprocess
import sys

import pytest


def test_two_ranks_train_one_model(small_csv, tiny_model_dir, tmp_path, studio_home):
    torchrun = shutil.which("torchrun", path=os.path.dirname(sys.executable)) or shutil.which("torchrun")
    if torchrun is None:
        pytest.skip("torchrun is not installed beside this Python")
    out = tmp_path / "model"
    env = {**os.environ, "STUDIO_HOME": str(studio_home), "OMP_NUM_THREADS": "1"}
    done = subprocess.run(
        [
            torchrun,
            "--nproc_per_node",
            "2",
            # A free port of its own (a fixed one clashed with a leftover run holding it: EADDRINUSE).
            "--standalone",
            "-m",
            "studio",
            "train",
            "--train",
            str(small_csv),
            "--model",
            str(tiny_model_dir),
            "--epochs",
            "2",
            "--batch-size",
            "8",
            "--max-length",
            "32",
            "--output",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.count("run: ") == 1 and done.stdout.count("model: ") == 1, done.stdout
    # 54 training rows, 8 a rank, 2 ranks: 4 steps an epoch.
    assert "training on cpu" in done.stderr and ", 8 steps" in done.stderr
    metrics = json.loads((out / "metrics.json").read_text())
    assert 0.5 < metrics["loss"] < 1.0, "the validation loss is a mean, not a sum over ranks"
    runs = list((studio_home / "data" / "runs").iterdir())
    assert len(runs) == 1 and "torchrun" in runs[0].name
