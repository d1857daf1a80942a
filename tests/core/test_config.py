"""TrainConfig: wrong types are problems (never exceptions), and the JSON/TOML round trip validates what it reads."""

import json
import logging
from dataclasses import MISSING, fields

import pytest

from studio.core.config import SCHEMA_VERSION, TrainConfig, field_types
from studio.core.errors import ConfigError

NAMES = [f.name for f in fields(TrainConfig)]


def _wrong_values(name: str) -> list:
    """Values of the wrong type for a field: text for a number, a number for text, None where None is not allowed."""
    kind, optional = field_types()[name]
    wrong = {float: ["fast", True, [1]], int: ["many", 8.5, 8.0, False], str: [5, ["a"]], bool: ["yes", 1]}[kind]
    return wrong if optional else [*wrong, None]


@pytest.mark.parametrize(
    "name, value", [(name, value) for name in NAMES for value in _wrong_values(name)], ids=lambda v: repr(v)
)
def test_a_wrong_type_is_a_problem_with_a_sentence_not_an_exception(name, value):
    config = TrainConfig(**{"train_csv": "data.csv", name: value})
    problems = config.problems()
    assert set(problems) == {name}
    assert problems[name].endswith(".") and repr(value) in problems[name]
    with pytest.raises(ConfigError, match=name):
        config.validate()


def test_the_defaults_need_only_a_training_file():
    assert TrainConfig().problems() == {"train_csv": "Choose a training CSV file."}
    assert TrainConfig(train_csv="data.csv").problems() == {}


def test_problems_come_in_field_order():
    config = TrainConfig(train_csv="data.csv", precision="fp8", learning_rate="fast", epochs=0)
    assert list(config.problems()) == ["learning_rate", "epochs", "precision"]


@pytest.mark.parametrize("suffix", [".json", ".toml"])
def test_save_and_load_round_trip(tmp_path, suffix):
    config = TrainConfig(
        train_csv="train.csv",
        text_column="body",
        learning_rate=3e-5,
        epochs=1.5,
        batch_size=16,
        device="cpu",
        precision="fp32",
        allow_pickle=True,
        output_dir="out",
    )
    path = tmp_path / f"settings{suffix}"
    config.save(path)
    assert TrainConfig.load(path) == config
    if suffix == ".json":
        assert json.loads(path.read_text())["schema_version"] == SCHEMA_VERSION


def test_every_optional_setting_defaults_to_none():
    # TOML has no null, so save() leaves None out and load() restores it from the default: that needs None defaults.
    for f in fields(TrainConfig):
        if field_types()[f.name][1]:
            assert f.default is None, f.name
        assert f.default is not MISSING, f"{f.name} needs a default, so that a file may leave it out"


def test_a_file_with_some_settings_takes_defaults_for_the_rest(tmp_path):
    path = tmp_path / "shared.toml"
    path.write_text('epochs = 2\nmodel = "some/hub-model"\n')
    config = TrainConfig.load(path)
    assert (config.epochs, config.model, config.train_csv, config.batch_size) == (2, "some/hub-model", "", 32)


def test_unknown_settings_are_ignored_with_a_log_line(tmp_path, caplog):
    path = tmp_path / "newer.json"
    path.write_text(json.dumps({"schema_version": 99, "train_csv": "a.csv", "prompt_tuning_tokens": 8, "epochs": 1}))
    with caplog.at_level(logging.INFO, logger="studio.core.config"):
        config = TrainConfig.load(path)
    assert config == TrainConfig(train_csv="a.csv", epochs=1)
    assert any("prompt_tuning_tokens" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize(
    "name, text, fragment",
    [
        ("wrong-type.json", '{"weight_decay": "fast"}', "the setting weight_decay must be a number (got 'fast')"),
        ("null.json", '{"epochs": null}', "the setting epochs must be a number (got None)"),
        ("no-data.json", '{"train_csv": null}', "the setting train_csv must be text (got None)"),
        ("impossible.toml", "batch_size = 0", "the batch size must be a whole number of at least 1 (got 0)"),
        ("choice.toml", 'precision = "fp8"', "the precision must be one of auto, fp32, bf16, fp16 (got 'fp8')"),
        ("broken.json", '{"epochs": 3', "is not valid JSON"),
        ("broken.toml", "epochs = ", "is not valid TOML"),
        ("list.json", "[1, 2]", "must hold settings by name"),
    ],
)
def test_a_bad_file_is_refused_with_a_sentence_naming_the_setting(tmp_path, name, text, fragment):
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        TrainConfig.load(path)
    message = str(info.value)
    assert message.startswith(f"The settings file {path} ") and fragment in message and message.endswith(".")


def test_a_missing_file_is_refused_with_a_sentence(tmp_path):
    with pytest.raises(ConfigError, match=r"^There is no settings file at .*nothing\.json\.$"):
        TrainConfig.load(tmp_path / "nothing.json")


def test_saving_where_it_cannot_be_written_is_a_sentence(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    with pytest.raises(ConfigError, match=r"^Could not save the settings to"):
        TrainConfig(train_csv="a.csv").save(blocker / "settings.toml")
