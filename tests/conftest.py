"""Shared fixtures: an isolated studio home, tiny models built on the spot, and the shared datasets."""

from __future__ import annotations

import csv
import os
from pathlib import Path

# Before anything imports Qt or the HF libraries: no display, no network, no stray user folders.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import pytest

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
REPO = Path(__file__).resolve().parents[1]
SAMPLE_CSV = REPO / "resources" / "sample_sms_spam.csv"


@pytest.fixture(autouse=True)
def studio_home(tmp_path_factory, monkeypatch):
    """Every test gets its own settings, runs and cache folders."""
    home = tmp_path_factory.mktemp("studio-home")
    monkeypatch.setenv("STUDIO_HOME", str(home))
    return home


def make_tiny_model(folder: Path, labels: list[str] | None = None, layers: int = 2) -> Path:
    """A BERT with hidden size 32 and the built-in model's tokenizer, saved as safetensors (labels named if given)."""
    import torch
    from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification

    from studio.core.modeling import builtin_model_path

    tokenizer = AutoTokenizer.from_pretrained(builtin_model_path())
    named = {"id2label": dict(enumerate(labels)), "label2id": {n: i for i, n in enumerate(labels)}} if labels else {}
    config = BertConfig(
        vocab_size=tokenizer.vocab_size,
        hidden_size=32,
        num_hidden_layers=layers,
        num_attention_heads=2,
        intermediate_size=37,
        max_position_embeddings=128,
        **named,
    )
    torch.manual_seed(0)
    BertForSequenceClassification(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory) -> Path:
    """A 2-layer BERT with hidden size 32 and the built-in model's tokenizer, saved as safetensors."""
    return make_tiny_model(tmp_path_factory.mktemp("tiny-bert"))


@pytest.fixture
def sms_spam_csvs(tmp_path) -> tuple[Path, Path]:
    """(train, validation) CSVs of 400 and 150 real sms_spam rows: from ../shared/data when the checkout has it,
    else from the sample the app ships (800 rows of the same dataset), so that a bare checkout runs it too."""
    shared = SHARED_DATA / "sms_spam"
    if (shared / "train.csv").is_file():
        train_rows = _csv_rows(shared / "train.csv")[:401]
        validation_rows = [train_rows[0], *_csv_rows(shared / "validation.csv")[1:151]]
    else:
        sample = _csv_rows(SAMPLE_CSV)
        train_rows, validation_rows = sample[:401], [sample[0], *sample[401:551]]
    return (
        write_csv(tmp_path / "sms_train.csv", train_rows[1:], header=tuple(train_rows[0])),
        write_csv(tmp_path / "sms_validation.csv", validation_rows[1:], header=tuple(validation_rows[0])),
    )


def _csv_rows(path: Path) -> list[list[str]]:
    with open(path, encoding="utf-8", newline="") as f:
        return list(csv.reader(f))


def write_csv(path: Path, rows: list[tuple], header: tuple = ("text", "label")) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


@pytest.fixture
def small_csv(tmp_path) -> Path:
    """60 short rows, two classes that a tiny model can tell apart a little."""
    rows = []
    for i in range(30):
        rows.append((f"great wonderful lovely day number {i}", "positive"))
        rows.append((f"awful terrible horrible mess number {i}", "negative"))
    return write_csv(tmp_path / "small.csv", rows)


def train_tiny(folder: Path, model_dir: Path, train: list[tuple], validation: list[tuple], **settings):
    """A real run of a tiny model on these rows (train.csv and validation.csv written in folder): one epoch,
    batch 8, max length 16, rate 1e-3 unless settings say otherwise. Returns run_training's result."""
    from studio.core.config import TrainConfig
    from studio.core.training import run_training

    values = {"epochs": 1, "batch_size": 8, "max_length": 16, "learning_rate": 1e-3, **settings}
    return run_training(
        TrainConfig(
            train_csv=str(write_csv(folder / "train.csv", train)),
            validation_csv=str(write_csv(folder / "validation.csv", validation)),
            model=str(model_dir),
            **values,
        )
    )
