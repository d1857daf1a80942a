"""ONNX and int8 exports of every task: parity with PyTorch, serving without torch, and a sentence for bad input."""

from __future__ import annotations

import errno
import json
import random
import subprocess
import sys
from pathlib import Path

import pytest

from studio.core.errors import ExportError, ModelError
from tests.conftest import make_tiny_model, write_csv

TASKS = ("single", "pair", "multi", "regression", "token")
_WORDS = ["great", "awful", "lovely", "horrible", "fine", "mess", "day", "night", "city", "river"]


def task_rows(task: str, n: int = 60) -> tuple[list[tuple], tuple[str, ...], dict]:
    """(rows, header, TrainConfig settings) of a small table a tiny model learns a little from."""
    rnd = random.Random(0)

    def words(k: int = 6) -> list[str]:
        return [rnd.choice(_WORDS) for _ in range(k)]

    if task == "single":
        rows = [
            (f"great lovely {' '.join(words())}", "pos") if i % 2 else (f"awful mess {' '.join(words())}", "neg")
            for i in range(n)
        ]
        return rows, ("text", "label"), {}
    if task == "pair":
        rows = [(" ".join(words()), " ".join(words()), "same" if i % 2 else "other") for i in range(n)]
        return rows, ("text", "text_pair", "label"), {"task": "pair", "pair_column": "text_pair"}
    if task == "multi":
        rows = [(" ".join(words()), ",".join(sorted({rnd.choice("abc") for _ in range(2)}))) for _ in range(n)]
        return rows, ("text", "labels"), {"task": "multi"}
    if task == "regression":
        return (
            [(" ".join(words()), f"{rnd.random() * 5:.3f}") for _ in range(n)],
            ("text", "score"),
            {"task": "regression"},
        )
    sentences = [words(7) for _ in range(n)]
    tags = [" ".join("B-PER" if w == "great" else "O" for w in s) for s in sentences]
    return [(" ".join(s), t) for s, t in zip(sentences, tags, strict=True)], ("tokens", "tags"), {"task": "token"}


def train_tiny_run(task: str, folder: Path) -> Path:
    """A real run of the tiny BERT on the task's small table; returns the run folder."""
    from studio.core.config import TrainConfig
    from studio.core.training import run_training

    rows, header, settings = task_rows(task)
    csv = write_csv(folder / f"{task}.csv", rows, header=header)
    model = make_tiny_model(folder / "tiny") if not (folder / "tiny").is_dir() else folder / "tiny"
    config = TrainConfig(
        train_csv=str(csv), model=str(model), epochs=1, batch_size=16, max_length=32, learning_rate=1e-3, **settings
    )
    return run_training(config).model_dir.parent


@pytest.fixture(scope="module", params=TASKS)
def task_run(request, tmp_path_factory) -> tuple[str, Path]:
    home = tmp_path_factory.mktemp("onnx-home")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("STUDIO_HOME", str(home))
        return request.param, train_tiny_run(request.param, home)


def _serve_with_readme(folder: Path, task: str) -> str:
    """Run the README's example on the folder in a Python where importing torch fails."""
    text = (folder / "README.md").read_text(encoding="utf-8")
    code = text.split("```python\n", 1)[1].split("```", 1)[0].replace("path/to/this/folder", str(folder))
    poisoned = "import sys\nsys.modules['torch'] = None\nsys.modules['transformers'] = None\n" + code
    done = subprocess.run([sys.executable, "-c", poisoned], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_every_task_exports_onnx_and_int8_that_agree_with_pytorch(task_run, tmp_path):
    from studio.core.inference import Predictor
    from studio.core.onnx_export import export_onnx
    from studio.core.onnx_predict import OnnxPredictor, is_onnx_export

    task, run = task_run
    fp32 = export_onnx(run, tmp_path / "onnx")
    int8 = export_onnx(run, tmp_path / "int8", quantize=True)
    for report, folder in ((fp32, tmp_path / "onnx"), (int8, tmp_path / "int8")):
        assert is_onnx_export(folder)
        names = {p.name for p in folder.iterdir()}
        assert {"model.onnx", "tokenizer.json", "config.json", "parity.json", "README.md"} <= names
        written = json.loads((folder / "parity.json").read_text())
        assert written["rows"] == report.rows > 0 and 0 <= written["label_agreement"] <= 1
        assert written["max_abs_diff"] == pytest.approx(report.max_abs_diff) and written["task"] == task
        config = json.loads((folder / "config.json").read_text())
        assert config["studio_onnx"]["format"] == report.format and config["id2label"]
    assert fp32.label_agreement >= 0.995 and fp32.max_abs_diff < 1e-4
    assert int8.fp32_model_bytes and int8.model_bytes < 0.6 * int8.fp32_model_bytes
    parity = json.loads((tmp_path / "int8" / "parity.json").read_text())
    if task == "regression":
        assert parity["pearson"] is not None and parity["pearson_pytorch"] is not None
    else:
        assert parity["f1"] is not None and parity["f1_pytorch"] == pytest.approx(fp32.f1_pytorch)

    # The same predictions as the PyTorch Predictor, in the same form.
    pytorch = Predictor(run / "model")
    onnx = OnnxPredictor(tmp_path / "onnx")
    texts = ["great lovely day in the city", "awful mess at night", ""]
    pairs = ["fine river", "horrible", "day"] if task == "pair" else None
    for a, b in zip(onnx.predict(texts, pairs), pytorch.predict(texts, pairs), strict=True):
        assert a.label == b.label and a.chosen == b.chosen
        assert a.score == pytest.approx(b.score, abs=1e-4)
        assert a.probabilities.keys() == b.probabilities.keys()
        assert [e["word"] for e in a.entities] == [e["word"] for e in b.entities]
    assert onnx.labels == pytorch.labels and onnx.takes_pairs == pytorch.takes_pairs

    # The README's example, with onnxruntime and tokenizers alone, makes the studio's decisions.
    printed = _serve_with_readme(tmp_path / "onnx", task).strip()
    assert printed
    if task == "single":
        example = ["Your text here", "Another text"]
        assert printed == str([p.label for p in pytorch.predict(example)])


def test_an_export_that_disagrees_is_refused_and_leaves_nothing(tmp_path, monkeypatch):
    import studio.core.parity as parity
    from studio.core.onnx_export import export_onnx

    run = train_tiny_run("single", tmp_path)
    monkeypatch.setattr(parity, "agreement", lambda *args, **kwargs: (0.97, 0.4))
    before = set(tmp_path.iterdir())
    with pytest.raises(ExportError, match=r"only 97\.00% of .* below the 99\.5% .* nothing was written"):
        export_onnx(run, tmp_path / "onnx")
    assert set(tmp_path.iterdir()) == before
    # int8 reports its figures and keeps the model.
    report = export_onnx(run, tmp_path / "int8", quantize=True)
    assert report.label_agreement == 0.97 and not report.passed and (tmp_path / "int8" / "model.onnx").is_file()


@pytest.fixture(scope="module")
def onnx_folder(tmp_path_factory) -> Path:
    from studio.core.onnx_export import export_onnx

    home = tmp_path_factory.mktemp("onnx-bad")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("STUDIO_HOME", str(home))
        run = train_tiny_run("single", home)
        export_onnx(run, home / "onnx")
    return home / "onnx"


def _copy(folder: Path, dest: Path) -> Path:
    import shutil

    shutil.copytree(folder, dest)
    return dest


def test_a_damaged_onnx_file_is_one_sentence(onnx_folder, tmp_path):
    from studio.core.onnx_predict import OnnxPredictor

    folder = _copy(onnx_folder, tmp_path / "damaged")
    data = (folder / "model.onnx").read_bytes()
    (folder / "model.onnx").write_bytes(data[: len(data) // 3])
    with pytest.raises(ModelError, match=r"cannot be loaded .*the file may be damaged: export the model again"):
        OnnxPredictor(folder)


def test_a_folder_without_its_tokenizer_is_one_sentence(onnx_folder, tmp_path):
    from studio.core.onnx_predict import OnnxPredictor

    folder = _copy(onnx_folder, tmp_path / "no-tokenizer")
    (folder / "tokenizer.json").unlink()
    with pytest.raises(ModelError, match=r"has no tokenizer\.json.*export the model again"):
        OnnxPredictor(folder)


def test_an_export_into_a_read_only_place_is_one_sentence(onnx_folder, tmp_path, monkeypatch):
    import studio.core.export as export
    from studio.core.onnx_export import export_onnx

    def read_only(*args, **kwargs):
        raise OSError(errno.EROFS, "Read-only file system")

    monkeypatch.setattr(export.tempfile, "mkdtemp", read_only)
    run = next(p.parent for p in onnx_folder.parent.rglob("model") if (p.parent / "events.jsonl").is_file())
    with pytest.raises(ExportError, match="that file system is read-only; choose another folder"):
        export_onnx(run, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_a_folder_that_is_not_a_run_is_refused(tmp_path):
    from studio.core.onnx_export import export_onnx

    model = make_tiny_model(tmp_path / "plain")
    with pytest.raises(ExportError, match="not a training run"):
        export_onnx(model, tmp_path / "out")


@pytest.mark.parametrize("side", ["right", "left"])
def test_onnx_batches_are_cut_to_their_own_length_on_either_padding_side(onnx_folder, side):
    import numpy as np

    import studio.core.features as features
    from studio.core.onnx_predict import OnnxRunner, load_tokenizer, read_config

    config = read_config(onnx_folder)
    config.onnx = {**config.onnx, "padding_side": side}
    tokenizer = load_tokenizer(onnx_folder, config.onnx, 32)
    texts = ["great", "awful lovely horrible fine mess day night", "city", "river river", "fine day"]
    seen: list[dict] = []

    class Echo:
        """A session that returns each row's tokens and width, so the test sees what the graph was fed."""

        def get_inputs(self):
            return [type("Input", (), {"name": n})() for n in ("input_ids", "attention_mask")]

        def run(self, _, feed):
            seen.append(feed)
            ids = feed["input_ids"] * feed["attention_mask"]
            return [np.stack([ids.sum(1), feed["attention_mask"].sum(1)], axis=1).astype(np.float32)]

    config.num_labels = 2
    runner = OnnxRunner(Echo(), tokenizer, config, 32)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(features, "CPU_BATCH_TOKENS", 12)
        out = runner.sequence_logits(texts)
    for text, row in zip(texts, out, strict=True):
        own = tokenizer.encode(text)
        assert row[0] == sum(own.ids[i] for i, m in enumerate(own.attention_mask) if m)
        assert row[1] == sum(own.attention_mask)
    assert len(seen) > 1
    for feed in seen:
        mask = feed["attention_mask"]
        # No column is padding for every row: each batch is as wide as its longest row, no wider.
        assert mask.any(axis=0).all() and (mask.shape[0] * mask.shape[1] <= 12 or mask.shape[0] == 1)
        assert (mask[:, 0 if side == "left" else -1] == 0).any() or mask.all()
