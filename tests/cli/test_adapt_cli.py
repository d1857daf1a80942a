"""`studio adapt`: a run from the command line that `studio train` takes on, and one `error:` line for bad input."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from studio import cli
from tests.conftest import write_csv
from tests.core.test_adapt import repetitive_corpus


def studio(*args, env_home, timeout=600):
    env = {**os.environ, "STUDIO_HOME": str(env_home)}
    return subprocess.run(
        [sys.executable, "-m", "studio", *map(str, args)], capture_output=True, text=True, timeout=timeout, env=env
    )


def test_adapt_then_train_on_the_adapted_model(tmp_path, tiny_model_dir, small_csv, studio_home):
    out = tmp_path / "adapted"
    corpus = write_csv(
        tmp_path / "tickets.csv",
        [(line, str(i % 3)) for i, line in enumerate(repetitive_corpus(tmp_path / "c.txt").read_text().splitlines())],
        header=("ticket", "queue"),
    )
    done = studio(
        "adapt",
        "--corpus",
        corpus,
        "--model",
        tiny_model_dir,
        "--steps",
        6,
        "--max-length",
        32,
        "--batch-size",
        8,
        "--whole-word",
        "--output",
        out,
        env_home=studio_home,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("run: ") and os.path.isdir(lines[0][5:])
    assert lines[-1] == f"model: {out}" and lines[-2].startswith("done: held-out perplexity ")
    assert "no masked-language-model head; a fresh one" in done.stderr
    assert "Traceback" not in done.stderr
    metrics = json.loads((out / "adapt_metrics.json").read_text())
    assert {"perplexity_before", "perplexity_after", "tokens", "seconds", "tokens_per_second", "epochs"} <= set(metrics)
    # The text column is found by its content: the longer, varied one.
    assert metrics["whole_word"] and metrics["mlm_probability"] == 0.15 and metrics["text_column"] == "ticket"

    trained = studio(
        "train",
        "--train",
        small_csv,
        "--model",
        out,
        "--epochs",
        1,
        "--max-length",
        32,
        "--output",
        tmp_path / "clf",
        env_home=studio_home,
    )
    assert trained.returncode == 0, trained.stderr
    assert (tmp_path / "clf" / "model.safetensors").is_file()


@pytest.mark.parametrize(
    "case, fragment",
    [
        ("empty", "is empty"),
        ("binary", "is a PNG image, not text"),
        ("few words", "adapting needs at least 10 passages and 500 words"),
        ("missing column", "no column named 'body'"),
        ("full output", "already holds other files"),
        ("no output", "--output DIR"),
        ("no corpus", "--corpus FILE"),
        ("epochs and steps", "not allowed with argument"),
        ("masking", "masking probability must be above 0 and below 1"),
        ("resume a training run", "not an adaptation run folder"),
    ],
)
def test_bad_input_is_one_error_line(case, fragment, tmp_path, capsys, studio_home):
    text = tmp_path / "corpus.txt"
    text.write_text("word " * 20 + "\n", encoding="utf-8")
    out = tmp_path / "out"
    args = ["adapt", "--corpus", str(text), "--output", str(out)]
    if case == "empty":
        text.write_text("\n\n", encoding="utf-8")
    elif case == "binary":
        text.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4)
    elif case == "missing column":
        csv = write_csv(tmp_path / "c.csv", [("some text", "a")] * 20)
        args = ["adapt", "--corpus", str(csv), "--text-column", "body", "--output", str(out)]
    elif case == "full output":
        repetitive_corpus(text)
        out.mkdir()
        (out / "notes.txt").write_text("mine")
    elif case == "no output":
        args = args[:3]
    elif case == "no corpus":
        args = ["adapt", "--output", str(out)]
    elif case == "epochs and steps":
        args += ["--epochs", "1", "--steps", "5"]
    elif case == "masking":
        args += ["--mlm-probability", "1.5"]
    elif case == "resume a training run":
        args = ["adapt", "--resume", str(tmp_path)]
    try:
        code = cli.main(args)
    except SystemExit as exc:  # argparse's own usage errors
        code = exc.code
    err = capsys.readouterr().err.strip().splitlines()
    assert code != 0
    assert len(err) == 1 and err[0].startswith("error: ") and fragment in err[0], err
    runs = studio_home / "data" / "runs"
    assert not runs.is_dir() or not any(runs.iterdir()), "a refused adaptation leaves no run folder"
    if case == "full output":
        assert [p.name for p in out.iterdir()] == ["notes.txt"]
