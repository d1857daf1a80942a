"""`studio train`'s options come from TrainConfig's fields; --config FILE gives a saved config that flags override."""

import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass, field, fields
from pathlib import Path

import pytest

from studio.cli import build_parser, config_from_args
from studio.core.config import TrainConfig, field_types
from studio.core.paths import runs_dir

# The command line is a contract: these names never change, whatever the fields are called.
FLAGS = {
    "train_csv": "--train",
    "validation_csv": "--validation",
    "model": "--model",
    "text_column": "--text-column",
    "label_column": "--label-column",
    "task": "--task",
    "pair_column": "--pair-column",
    "learning_rate": "--lr",
    "epochs": "--epochs",
    "batch_size": "--batch-size",
    "max_length": "--max-length",
    "freeze_layers": "--freeze-layers",
    "seed": "--seed",
    "validation_share": "--validation-share",
    "gradient_accumulation": "--gradient-accumulation",
    "weight_decay": "--weight-decay",
    "warmup_ratio": "--warmup-ratio",
    "evaluations_per_epoch": "--evaluations-per-epoch",
    "checkpoint_minutes": "--checkpoint-minutes",
    "report_to": "--report-to",
    "device": "--device",
    "precision": "--precision",
    "allow_pickle": "--allow-pickle",
    "trust_remote_code": "--trust-remote-code",
    "output_dir": "--output",
    # Issue 13's methods: names the issue fixes as a contract.
    "scheduler": "--scheduler",
    "warmup_steps": "--warmup-steps",
    "layer_lr_decay": "--layer-lr-decay",
    "unfreeze_every": "--unfreeze-every",
    "unfreeze_unit": "--unfreeze-unit",
    "unfreeze_start": "--unfreeze-start",
    "lora": "--lora",
    "lora_rank": "--lora-rank",
    "lora_alpha": "--lora-alpha",
    "lora_dropout": "--lora-dropout",
    "lora_targets": "--lora-targets",
    "early_stopping": "--early-stopping",
    "min_improvement": "--min-improvement",
    "dropout": "--dropout",
    "label_smoothing": "--label-smoothing",
    "class_weights": "--class-weights",
    "oversample": "--oversample",
}


def _help(capsys, monkeypatch, config_cls=TrainConfig) -> str:
    monkeypatch.setenv("COLUMNS", "1000")  # one help text a line: argparse would otherwise break one at a hyphen
    with pytest.raises(SystemExit):
        build_parser(config_cls).parse_args(["train", "--help"])
    return re.sub(r"\s+", " ", capsys.readouterr().out)


def _parse(*argv, config_cls=TrainConfig):
    return config_from_args(build_parser(config_cls).parse_args(["train", *map(str, argv)]), config_cls)


def test_the_flag_names_are_kept():
    assert {f.name: f.metadata.get("flag") for f in fields(TrainConfig)} == FLAGS


def test_every_setting_is_in_the_help_with_its_help_and_default(capsys, monkeypatch):
    text = _help(capsys, monkeypatch)
    for f in fields(TrainConfig):
        flag, help_text = f.metadata["flag"], f.metadata["help"]
        assert flag in text and help_text in text, flag
        kind = field_types()[f.name][0]
        if kind is not bool and f.default not in (None, ""):
            assert f"{help_text} (default: {f.default})" in text, flag
    for extra in ("--config FILE", "--resume FOLDER", "--retry-on-oom"):
        assert extra in text
    assert "--precision {auto,fp32,bf16,fp16}" in text and "--lr LR" in text


def test_every_flag_sets_its_field():
    argv: list[str] = []
    expected = {}
    for f in fields(TrainConfig):
        kind = field_types()[f.name][0]
        flag, choices = f.metadata["flag"], f.metadata.get("choices")
        if kind is bool:
            argv.append(flag)
            expected[f.name] = True
            continue
        value = choices[-1] if choices else {float: 0.25, int: 7, str: f"{f.name}-value"}[kind]
        argv += [flag, str(value)]
        expected[f.name] = value
    config = _parse(*argv)
    assert {name: getattr(config, name) for name in expected} == expected
    assert all(type(getattr(config, name)) is type(value) for name, value in expected.items())


def test_without_flags_the_defaults_are_the_dataclass_ones():
    assert _parse() == TrainConfig()


def test_a_new_field_with_metadata_becomes_an_option_by_itself(capsys, monkeypatch):
    @dataclass(frozen=True)
    class Extended(TrainConfig):
        label_smoothing: float = field(
            default=0.0, metadata={"flag": "--label-smoothing", "help": "share of the target spread over other labels"}
        )
        early_stopping: bool = field(default=True, metadata={"flag": "--early-stopping", "help": "stop when F1 stalls"})
        note: str | None = field(default=None, metadata={"flag": "--note", "help": "a note kept with the run"})

    text = _help(capsys, monkeypatch, Extended)
    assert "--label-smoothing LABEL_SMOOTHING share of the target spread over other labels (default: 0.0)" in text
    assert "--early-stopping, --no-early-stopping" in text and "--note NOTE" in text
    config = _parse(
        "--label-smoothing", "0.1", "--no-early-stopping", "--note", "hi", "--lr", "1e-4", config_cls=Extended
    )
    assert (config.label_smoothing, config.early_stopping, config.note, config.learning_rate) == (
        0.1,
        False,
        "hi",
        1e-4,
    )
    assert _parse(config_cls=Extended) == Extended()


@pytest.mark.parametrize("suffix", [".json", ".toml"])
def test_flags_given_override_the_file_and_the_others_keep_its_values(tmp_path, suffix):
    saved = TrainConfig(train_csv="a.csv", epochs=2, batch_size=8, seed=7, precision="fp32", allow_pickle=True)
    path = tmp_path / f"saved{suffix}"
    saved.save(path)
    config = _parse("--config", path, "--epochs", "1", "--train", "b.csv", "--seed", "42")
    # --seed 42 equals the default, and still wins over the file: given is given.
    assert config == saved.with_changes(epochs=1.0, train_csv="b.csv", seed=42)


def studio(*args, env_home, timeout=600):
    env = {**os.environ, "STUDIO_HOME": str(env_home)}
    return subprocess.run(
        [sys.executable, "-m", "studio", *map(str, args)], capture_output=True, text=True, timeout=timeout, env=env
    )


def _saved_config(done) -> tuple[Path, dict]:
    """The run folder a `studio train` made, and the settings it saved there."""
    assert done.returncode == 0, done.stderr
    run_dir = Path(done.stdout.splitlines()[0].removeprefix("run: "))
    return run_dir, json.loads((run_dir / "config.json").read_text())


def test_a_toml_config_then_a_runs_own_config_repeat_a_run_with_overrides(
    small_csv, tiny_model_dir, tmp_path, studio_home
):
    shared = tmp_path / "shared.toml"
    TrainConfig(
        train_csv=str(small_csv), model=str(tiny_model_dir), epochs=3, batch_size=8, learning_rate=1e-3, max_length=32
    ).save(shared)
    run_dir, first = _saved_config(
        studio("train", "--config", shared, "--epochs", 1, "--output", tmp_path / "a", env_home=studio_home)
    )
    assert (first["epochs"], first["batch_size"], first["max_length"]) == (1, 8, 32)
    assert first["output_dir"] == str(tmp_path / "a") and first["model"] == str(tiny_model_dir)

    _, second = _saved_config(
        studio(
            "train", "--config", run_dir / "config.json", "--seed", 3, "--output", tmp_path / "b", env_home=studio_home
        )
    )
    assert second == {**first, "seed": 3, "output_dir": str(tmp_path / "b")}
    assert (tmp_path / "b" / "model.safetensors").is_file()


@pytest.mark.parametrize(
    "text, args, fragment",
    [
        ('{"weight_decay": "fast"}', [], "the setting weight_decay must be a number (got 'fast')"),
        ('{"epochs": null}', [], "the setting epochs must be a number (got None)"),
        ('{"warmup_ratio": 2}', [], "the warm-up share must be from 0 to below 1 (got 2)"),
        ("{not json", [], "is not valid JSON"),
        ('{"epochs": 1}', ["--resume", "{tmp}"], "Give either --resume FOLDER or --config FILE"),
    ],
)
def test_a_bad_config_file_is_one_error_line(text, args, fragment, tmp_path, studio_home):
    path = tmp_path / "bad.json"
    path.write_text(text)
    argv = [a.format(tmp=tmp_path) for a in args]
    done = studio(
        "train", "--config", path, "--train", "x.csv", "--output", tmp_path / "out", *argv, env_home=studio_home
    )
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and fragment in lines[0], done.stderr
    assert not (tmp_path / "out").exists() and not list(runs_dir().iterdir())


def test_a_missing_config_file_is_one_error_line(tmp_path, studio_home):
    done = studio("train", "--config", tmp_path / "nothing.toml", env_home=studio_home)
    assert done.returncode == 2
    assert done.stderr.strip() == f"error: There is no settings file at {tmp_path / 'nothing.toml'}."
