"""`studio export --format onnx|onnx-int8` and `studio predict` on an ONNX folder, without torch; bad input."""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.core.test_onnx import train_tiny_run

# `studio predict` in a Python where importing torch (or transformers) fails.
_NO_TORCH = (
    "import sys; sys.modules['torch'] = None; sys.modules['transformers'] = None\n"
    "from studio.cli import main\n"
    "sys.exit(main(sys.argv[1:]))\n"
)


def studio(*args, home: Path, no_torch: bool = False):
    env = {**os.environ, "STUDIO_HOME": str(home)}
    head = ["-c", _NO_TORCH] if no_torch else ["-m", "studio"]
    return subprocess.run(
        [sys.executable, *head, *map(str, args)], capture_output=True, text=True, timeout=600, env=env
    )


@pytest.fixture(scope="module")
def exported(tmp_path_factory) -> tuple[Path, Path, Path]:
    """(home, run, onnx folder): a tiny single-label run exported with the command line."""
    home = tmp_path_factory.mktemp("onnx-cli")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("STUDIO_HOME", str(home))
        run = train_tiny_run("single", home)
    done = studio("export", "--run", run, "--format", "onnx", "--output", home / "onnx", home=home)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == f"exported to {home / 'onnx'}"
    assert "agrees with the PyTorch model on 100.00%" in done.stdout
    return home, run, home / "onnx"


def test_export_writes_the_folder_and_predict_runs_it_without_torch(exported, tmp_path):
    home, run, folder = exported
    assert {"model.onnx", "tokenizer.json", "config.json", "parity.json", "README.md"} <= {
        p.name for p in folder.iterdir()
    }
    parity = json.loads((folder / "parity.json").read_text())
    assert parity["label_agreement"] >= 0.995 and parity["rows"] > 0 and "max_abs_diff" in parity

    texts = ["--text", "great lovely day", "--text", "=awful mess"]
    onnx = studio("predict", "--model", folder, *texts, home=home, no_torch=True)
    assert onnx.returncode == 0, onnx.stderr
    pytorch = studio("predict", "--model", run / "model", *texts, home=home)
    assert pytorch.returncode == 0, pytorch.stderr
    a = [json.loads(line) for line in onnx.stdout.splitlines()]
    b = [json.loads(line) for line in pytorch.stdout.splitlines()]
    assert [r["text"] for r in a] == ["great lovely day", "=awful mess"]
    assert [r["label"] for r in a] == [r["label"] for r in b]
    assert a[0].keys() == b[0].keys()
    for x, y in zip(a, b, strict=True):
        for label, p in x["probabilities"].items():
            assert p == pytest.approx(y["probabilities"][label], abs=1e-4)

    source = tmp_path / "in.csv"
    source.write_text("text,note\n=HYPERLINK(1),x\nawful mess,y\n", encoding="utf-8")
    done = studio(
        "predict", "--model", folder, "--input", source, "--output", tmp_path / "o.csv", home=home, no_torch=True
    )
    assert done.returncode == 0, done.stderr
    text = (tmp_path / "o.csv").read_text()
    assert text.splitlines()[0].startswith("text,note,predicted_label,score,p(")
    assert "'=HYPERLINK(1)" in text


def test_int8_export_reports_its_f1_beside_pytorch(exported):
    home, run, _ = exported
    done = studio("export", "--run", run, "--format", "onnx-int8", "--output", home / "int8", home=home)
    assert done.returncode == 0, done.stderr
    parity = json.loads((home / "int8" / "parity.json").read_text())
    assert parity["format"] == "onnx-int8" and parity["f1"] is not None and parity["f1_pytorch"] is not None
    assert parity["model_bytes"] < parity["fp32_model_bytes"]


def _error_line(done) -> str:
    assert done.returncode != 0
    assert "Traceback" not in done.stderr, done.stderr
    lines = done.stderr.strip().splitlines()
    assert lines and lines[-1].startswith("error: ")
    return lines[-1]


def test_a_damaged_onnx_file_is_one_error_line(exported, tmp_path):
    import shutil

    home, _, folder = exported
    damaged = shutil.copytree(folder, tmp_path / "damaged")
    (damaged / "model.onnx").write_bytes(b"not an onnx graph")
    line = _error_line(studio("predict", "--model", damaged, "--text", "hi", home=home, no_torch=True))
    assert "cannot be loaded" in line and "damaged" in line


def test_a_folder_without_its_tokenizer_is_one_error_line(exported, tmp_path):
    import shutil

    home, _, folder = exported
    bare = shutil.copytree(folder, tmp_path / "bare")
    (bare / "tokenizer.json").unlink()
    line = _error_line(studio("predict", "--model", bare, "--text", "hi", home=home, no_torch=True))
    assert "has no tokenizer.json" in line


def test_an_export_into_a_read_only_place_is_one_error_line(exported, tmp_path, monkeypatch, capsys):
    import studio.core.export as export
    from studio.cli import main

    _, run, _ = exported

    def read_only(*args, **kwargs):
        raise OSError(errno.EROFS, "Read-only file system")

    # The tests run as root, for whom no folder is read-only: the file system's refusal is what mkdtemp raises.
    monkeypatch.setattr(export.tempfile, "mkdtemp", read_only)
    assert main(["export", "--run", str(run), "--format", "onnx", "--output", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.startswith("error: Could not export the model to") and "read-only" in err
    assert not (tmp_path / "out").exists()


def test_adapter_only_is_for_hf_exports(exported, tmp_path):
    home, run, _ = exported
    done = studio("export", "--run", run, "--format", "onnx", "--adapter-only", "--output", tmp_path / "x", home=home)
    assert "--adapter-only" in _error_line(done)
