"""The `studio` command through a subprocess: success paths, and one `error:` line for bad input."""

import json
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


def test_train_then_predict(small_csv, tiny_model_dir, tmp_path, studio_home):
    out = tmp_path / "model"
    done = studio(
        "train",
        "--train",
        small_csv,
        "--model",
        tiny_model_dir,
        "--epochs",
        1,
        "--batch-size",
        8,
        "--lr",
        "1e-3",
        "--max-length",
        32,
        "--output",
        out,
        env_home=studio_home,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("run: ") and os.path.isdir(lines[0][5:])
    assert lines[-1] == f"model: {out}"
    metrics = json.loads((out / "metrics.json").read_text())
    assert {"f1", "accuracy", "loss", "train_seconds"} <= set(metrics)
    assert "Traceback" not in done.stderr

    said = studio("predict", "--model", out, "--text", "great lovely day", "--text", "=awful", env_home=studio_home)
    assert said.returncode == 0, said.stderr
    rows = [json.loads(line) for line in said.stdout.splitlines()]
    assert [r["text"] for r in rows] == ["great lovely day", "=awful"]
    assert all(
        r["label"] in ("negative", "positive") and set(r["probabilities"]) == {"negative", "positive"} for r in rows
    )

    inp = write_csv(tmp_path / "in.csv", [("=HYPERLINK(1)", "x"), ("awful mess", "y")], header=("text", "note"))
    written = studio("predict", "--model", out, "--input", inp, "--output", tmp_path / "pred.csv", env_home=studio_home)
    assert written.returncode == 0, written.stderr
    text = (tmp_path / "pred.csv").read_text()
    assert text.splitlines()[0].startswith("text,note,predicted_label,score,p(negative),p(positive)")
    assert "'=HYPERLINK(1)" in text


@pytest.mark.parametrize(
    "args, fragment",
    [
        (["train", "--train", "{missing}", "--output", "{out}"], "does not exist"),
        (["train", "--train", "{csv}", "--lr", "0", "--output", "{out}"], "learning rate must be above 0"),
        (["train", "--train", "{csv}", "--lr", "abc", "--output", "{out}"], "invalid float value"),
        (["train", "--train", "{csv}", "--epochs", "0", "--output", "{out}"], "number of epochs"),
        (["train", "--train", "{csv}", "--text-column", "nope", "--output", "{out}"], "no column named 'nope'"),
        (["train", "--train", "{csv}", "--model", "{tmp}/no/such/model", "--output", "{out}"], "no folder"),
        (["train", "--train", "{csv}"], "--output DIR"),
        (["train", "--output", "{out}"], "--train CSV"),
        (["predict", "--model", "{tmp}", "--text", "hi"], "no config.json"),
        (["predict", "--model", "{tmp}"], "either --text"),
        (["bogus"], "invalid choice"),
    ],
)
def test_bad_input_is_one_error_line(args, fragment, small_csv, tiny_model_dir, tmp_path, studio_home):
    subs = {"missing": tmp_path / "missing.csv", "out": tmp_path / "out", "csv": small_csv, "tmp": tmp_path}
    args = [a.format(**subs) for a in args]
    if args[0] == "train" and "--model" not in args:
        args += ["--model", str(tiny_model_dir)]
    done = studio(*args, env_home=studio_home)
    assert done.returncode != 0
    lines = done.stderr.strip().splitlines()
    assert lines and lines[-1].startswith("error: ") and fragment in lines[-1], done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "out").exists()


def test_export_to_an_unwritable_place_keeps_the_model_in_the_run(small_csv, tiny_model_dir, tmp_path, studio_home):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    done = studio(
        "train",
        "--train",
        small_csv,
        "--model",
        tiny_model_dir,
        "--epochs",
        1,
        "--max-length",
        32,
        "--output",
        blocker / "model",
        env_home=studio_home,
    )
    assert done.returncode == 2
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("error: Could not export the model to") and "The trained model is safe in" in last
    run_dir = done.stdout.splitlines()[0].removeprefix("run: ")
    again = studio("export", "--run", run_dir, "--output", tmp_path / "saved", env_home=studio_home)
    assert again.returncode == 0, again.stderr
    assert (tmp_path / "saved" / "model.safetensors").is_file()
