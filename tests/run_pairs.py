"""Two finished tiny-model runs that differ only in their learning rate, trained once per test process."""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from pathlib import Path

_CACHE: dict[str, tuple[Path, Path]] = {}
RATES = (5e-5, 2e-3)


def two_runs(model_dir: Path) -> tuple[Path, Path]:
    """(slow run, fast run): run folders under a private studio home, 1 epoch of 60 rows each."""
    if "runs" not in _CACHE:
        from studio.core.config import TrainConfig
        from studio.core.training import run_training
        from tests.conftest import write_csv

        home = Path(tempfile.mkdtemp(prefix="studio-run-pairs-"))
        atexit.register(shutil.rmtree, home, True)
        rows = []
        for i in range(30):
            rows.append((f"great wonderful lovely day number {i}", "positive"))
            rows.append((f"awful terrible horrible mess number {i}", "negative"))
        csv = write_csv(home / "small.csv", rows)
        before = os.environ.get("STUDIO_HOME")
        os.environ["STUDIO_HOME"] = str(home / "studio")
        try:
            dirs = []
            for rate in RATES:
                config = TrainConfig(
                    train_csv=str(csv),
                    model=str(model_dir),
                    epochs=1,
                    batch_size=8,
                    learning_rate=rate,
                    max_length=32,
                    evaluations_per_epoch=2,
                    device="cpu",
                )
                dirs.append(Path(run_training(config).run_dir))
        finally:
            if before is None:
                os.environ.pop("STUDIO_HOME", None)
            else:
                os.environ["STUDIO_HOME"] = before
        _CACHE["runs"] = (dirs[0], dirs[1])
    return _CACHE["runs"]


def copy_runs(into: Path, model_dir: Path) -> tuple[Path, Path]:
    """The two runs copied into a runs folder (a test's own studio home), so that the Runs list shows them."""
    copies = []
    for run in two_runs(model_dir):
        dest = into / run.name
        shutil.copytree(run, dest, ignore=shutil.ignore_patterns("checkpoints"))
        copies.append(dest)
    return copies[0], copies[1]
