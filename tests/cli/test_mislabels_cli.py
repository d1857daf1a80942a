"""`studio mislabels`: ranked candidates as a CSV through the real command, and one `error:` line for bad input."""

from __future__ import annotations

import csv
import os
import subprocess
import sys

import pytest

from tests.conftest import write_csv


def studio(*args, env_home, timeout=600):
    env = {**os.environ, "STUDIO_HOME": str(env_home)}
    return subprocess.run(
        [sys.executable, "-m", "studio", *map(str, args)], capture_output=True, text=True, timeout=timeout, env=env
    )


@pytest.fixture
def run_dir(tmp_path, tiny_model_dir, studio_home):
    rows = [(f"good fine nice {i}", "yes") for i in range(12)] + [(f"bad poor awful {i}", "no") for i in range(12)]
    rows[3] = ("bad poor awful mislabelled", "yes")
    train = write_csv(tmp_path / "train.csv", rows)
    done = studio(
        "train",
        "--train",
        train,
        "--model",
        tiny_model_dir,
        "--epochs",
        1,
        "--batch-size",
        8,
        "--lr",
        "1e-3",
        "--max-length",
        16,
        "--validation-share",
        "0.25",
        "--output",
        tmp_path / "model",
        env_home=studio_home,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.splitlines()[0][len("run: ") :], rows


def _read(path) -> list[dict]:
    with open(path, encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def test_help_names_the_options():
    done = subprocess.run([sys.executable, "-m", "studio", "mislabels", "--help"], capture_output=True, text=True)
    assert done.returncode == 0
    for option in ("--run", "--output", "--thorough", "--folds", "--top"):
        assert option in done.stdout


def test_mislabels_writes_ranked_candidates_numbered_by_file_row(run_dir, tmp_path, studio_home):
    run, rows = run_dir
    out = tmp_path / "candidates.csv"
    done = studio("mislabels", "--run", run, "--output", out, "--device", "cpu", env_home=studio_home)
    assert done.returncode == 0, done.stderr
    assert "held out of train.csv" in done.stdout
    assert f"wrote 6 ranked rows to {out}" in done.stdout
    assert "Traceback" not in done.stderr and "%]" in done.stderr
    found = _read(out)
    assert list(found[0])[:6] == ["split", "row", "text", "label", "suggested", "score"]
    assert [float(r["score"]) for r in found] == sorted((float(r["score"]) for r in found), reverse=True)
    for r in found:
        assert r["split"] == "validation"
        assert rows[int(r["row"]) - 1] == (r["text"], r["label"])

    top = studio("mislabels", "--run", run, "--output", out, "--top", 2, "--device", "cpu", env_home=studio_home)
    assert top.returncode == 0, top.stderr
    assert len(_read(out)) == 2


def test_thorough_adds_the_training_rows(run_dir, tmp_path, studio_home):
    run, _ = run_dir
    out = tmp_path / "all.csv"
    done = studio(
        "mislabels", "--run", run, "--output", out, "--thorough", "--folds", 2, "--device", "cpu", env_home=studio_home
    )
    assert done.returncode == 0, done.stderr
    found = _read(out)
    assert sum(r["split"] == "train" for r in found) == 18
    assert sum(r["split"] == "validation" for r in found) == 6
    assert sorted(int(r["row"]) for r in found) == list(range(1, 25))
    assert "Fold 2 of 2" in done.stderr


def test_bad_input_is_one_error_line(tmp_path, studio_home):
    done = studio("mislabels", "--run", tmp_path, "--output", tmp_path / "x.csv", env_home=studio_home)
    assert done.returncode == 2
    assert done.stderr.startswith("error: ") and "not a training run folder" in done.stderr
    assert "Traceback" not in done.stderr
    missing = studio("mislabels", "--output", tmp_path / "x.csv", env_home=studio_home)
    assert missing.returncode == 2 and "--run" in missing.stderr
