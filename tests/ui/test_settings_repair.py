"""A settings file with wrong or impossible values repairs itself: the app starts whole and saves the repair."""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, fields

import pytest
from PySide6.QtWidgets import QAbstractSpinBox, QWidget

from studio.core.config import TrainConfig
from studio.core.tasks import get_task
from studio.ui import settings as settings_module
from studio.ui.main_window import PAGES
from studio.ui.settings import (
    SCHEMA_VERSION,
    Hyperparameters,
    Settings,
    hyperparameter_problem,
    load_settings,
    save_settings,
    settings_path,
)
from tests.ui.conftest import find

# The widget that shows each remembered hyperparameter, and how its value reads back as the setting.
WIDGETS = {
    "learning_rate": ("learningRate", float),
    "epochs": ("epochs", float),
    "batch_size": ("batchSize", int),
    "max_length": ("maxLength", int),
    "freeze_layers": ("frozenLayers", int),
    "seed": ("seed", int),
    "evaluations_per_epoch": ("evaluationsPerEpoch", int),
    "validation_share": ("validationShare", lambda percent: percent / 100),
}
WRONG_TYPES = ["fast", None, True, [1], {"value": 1}]
IMPOSSIBLE = {
    "learning_rate": 5.0,
    "epochs": 0,
    "batch_size": 0,
    "max_length": 4,
    "freeze_layers": -1,
    "seed": -1,
    "evaluations_per_epoch": 1000,
    "validation_share": 1.5,
}
# None is no wrong type for the learning rate: it leaves the rate to the task (see the test of it below).
BAD_VALUES = [
    (name, value)
    for name in IMPOSSIBLE
    for value in [*WRONG_TYPES, IMPOSSIBLE[name]]
    if not (name == "learning_rate" and value is None)
]
BAD_VALUES += [("batch_size", 32.5), ("learning_rate", float("nan")), ("seed", "42")]


def test_the_hyperparameters_start_from_train_configs_defaults():
    config = TrainConfig(train_csv="x.csv")
    names = [f.name for f in fields(Hyperparameters)]
    assert set(WIDGETS) <= set(names)  # the methods' settings have their own widgets (tests/ui/test_methods.py)
    assert asdict(Hyperparameters()) == {name: getattr(config, name) for name in names}


def _shown(default):
    """What a widget shows for a setting's default: the task's own learning rate (single-label's before any data
    is read) for the rate left to the task."""
    return get_task("single").default_learning_rate if default is None else default


def _write(data: dict) -> None:
    settings_path().write_text(json.dumps(data), encoding="utf-8")


def _assert_whole(window) -> None:
    """Every page is built, shows when chosen, and has visible controls."""
    pages = [window.model_page, *window.pages.in_order()]
    assert all(page is not None for page in pages)
    for name, page in zip(PAGES, pages, strict=True):
        window.show_page(name)
        assert window.stack.currentWidget() is page and page.isVisible(), name
        assert [w for w in page.findChildren(QWidget) if w.isVisible()], f"the {name} page shows nothing"


@pytest.mark.parametrize(("name", "value"), BAD_VALUES, ids=[f"{n}={v!r}" for n, v in BAD_VALUES])
def test_a_bad_hyperparameter_in_the_file_falls_back_to_its_default(qtbot, caplog, name, value):
    from studio.ui.main_window import MainWindow

    kept = {"learning_rate": 2e-5, "seed": 7} if name not in ("learning_rate", "seed") else {"epochs": 2.0}
    hyper = {**kept, name: value}
    _write({"schema_version": SCHEMA_VERSION, "model": None, "hyperparameters": hyper})
    default = getattr(Hyperparameters(), name)

    with caplog.at_level(logging.WARNING, logger="studio.ui.settings"):
        window = MainWindow()
    qtbot.addWidget(window)
    window.show()
    _assert_whole(window)

    widget_name, read = WIDGETS[name]
    assert read(find(window, widget_name, QAbstractSpinBox).value()) == pytest.approx(_shown(default))
    for other, good in kept.items():  # the rest of the file is kept
        assert read_widget(window, other) == pytest.approx(good)
    named = [r for r in caplog.records if r.name == "studio.ui.settings" and f"hyperparameter {name} " in r.message]
    assert len(named) == 1, caplog.text
    assert "default" in named[0].message

    window.close()
    saved = json.loads(settings_path().read_text(encoding="utf-8"))
    assert saved["schema_version"] == SCHEMA_VERSION
    assert saved["hyperparameters"][name] == (default if default is None else pytest.approx(default))
    assert hyperparameter_problem(name, saved["hyperparameters"][name]) is None


def read_widget(window, name: str):
    widget_name, read = WIDGETS[name]
    return read(find(window, widget_name, QAbstractSpinBox).value())


def test_the_app_s_deferred_window_builds_its_pages_from_a_broken_file(qtbot, caplog):
    # The app's own path: the pages come after the first paint, where the first version raised and left them blank.
    from studio.ui.main_window import MainWindow

    _write({"schema_version": 1, "hyperparameters": {"learning_rate": "fast", "epochs": None}})
    with caplog.at_level(logging.WARNING, logger="studio.ui.settings"):
        window = MainWindow(deferred=True)
        qtbot.addWidget(window)
        window.show()
        qtbot.waitUntil(lambda: window.inference_page is not None, timeout=5000)
    _assert_whole(window)
    assert TrainConfig(train_csv="-").learning_rate is None  # left to the task
    assert read_widget(window, "learning_rate") == get_task("single").default_learning_rate
    assert find(window, "learningRateFollowsTask").isChecked()
    assert read_widget(window, "epochs") == TrainConfig(train_csv="-").epochs
    assert {r.message.split(" was ")[0].rsplit(" ", 1)[-1] for r in caplog.records} >= {"learning_rate", "epochs"}
    window.close()
    saved = json.loads(settings_path().read_text(encoding="utf-8"))["hyperparameters"]
    assert (saved["learning_rate"], saved["epochs"]) == (None, 3.0)


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("recent_models", "org/model", []),
        ("recent_files", ["/a.csv", 3, None, "", "/b.csv", "/a.csv"], ["/a.csv", "/b.csv"]),
        ("recent_exports", {"x": 1}, []),
        ("recent_configs", [f"/c{i}.toml" for i in range(12)], [f"/c{i}.toml" for i in range(8)]),
        ("model", 42, None),
        ("model", "  ", None),
        ("train_csv", ["/a.csv"], None),
        ("validation_csv", False, None),
        ("allow_pickle", "yes", False),
        ("allow_pickle", 1, False),
        ("hyperparameters", "fast", Hyperparameters()),
        ("hyperparameters", [1, 2], Hyperparameters()),
    ],
)
def test_the_other_settings_are_repaired_too(caplog, key, value, expected):
    _write({"schema_version": SCHEMA_VERSION, "train_csv": "/kept.csv", key: value})
    with caplog.at_level(logging.WARNING, logger="studio.ui.settings"):
        loaded = load_settings()
    assert getattr(loaded, key) == expected
    if key != "train_csv":
        assert loaded.train_csv == "/kept.csv"
    # A list cut to its last eight and a blank name are tidied, not repaired: no log line for them.
    tidied = key == "recent_configs" or value == "  "
    assert (key in caplog.text) != tidied


def test_a_good_file_loads_unchanged_and_quietly(caplog):
    settings = Settings(model="org/model", train_csv="/t.csv", validation_csv="/v.csv", allow_pickle=True)
    settings.remember("recent_configs", "/run/config.json")
    settings.hyperparameters.epochs = 2.5
    settings.hyperparameters.batch_size = 8
    save_settings(settings)
    with caplog.at_level(logging.INFO, logger="studio.ui.settings"):
        assert load_settings() == settings
    assert caplog.records == []


@pytest.mark.parametrize(("stored", "follows"), [(None, True), (2e-4, False)])
def test_a_learning_rate_left_to_the_task_follows_it_and_one_of_the_user_s_stays(qtbot, stored, follows):
    from studio.ui.main_window import MainWindow

    _write({"schema_version": SCHEMA_VERSION, "hyperparameters": {"learning_rate": stored}})
    window = MainWindow()
    qtbot.addWidget(window)
    window.show()
    box = find(window, "learningRateFollowsTask")
    assert box.isChecked() == follows
    form = window.train_page.form
    for task in ("multi", "regression", "single"):
        form.set_task(task)
        expected = get_task(task).default_learning_rate if follows else stored
        assert read_widget(window, "learning_rate") == pytest.approx(expected), task
        assert form.values()["learning_rate"] == (None if follows else stored)
    window.close()
    assert json.loads(settings_path().read_text(encoding="utf-8"))["hyperparameters"]["learning_rate"] == stored


def test_whole_numbers_for_float_settings_read_as_floats():
    _write({"hyperparameters": {"epochs": 3, "learning_rate": 1}})  # 1 is refused: the rate must be below 1
    hyper = load_settings().hyperparameters
    assert hyper.epochs == 3.0 and isinstance(hyper.epochs, float)
    assert hyper.learning_rate == Hyperparameters().learning_rate


def test_migrations_run_in_order_from_the_file_s_version(monkeypatch, caplog):
    # A table as the next versions will have it: 2 -> 3 renames a key, 3 -> 4 moves one into the hyperparameters.
    def rename_recent_csvs(data):
        data["recent_files"] = data.pop("recent_csvs", [])
        return data

    def move_seed(data):
        data.setdefault("hyperparameters", {})["seed"] = data.pop("seed", 42)
        return data

    calls = []
    monkeypatch.setattr(settings_module, "SCHEMA_VERSION", 4)
    monkeypatch.setattr(
        settings_module,
        "MIGRATIONS",
        {2: lambda d: calls.append(2) or rename_recent_csvs(d), 3: lambda d: calls.append(3) or move_seed(d)},
    )
    _write({"schema_version": 2, "recent_csvs": ["/a.csv"], "seed": 9, "hyperparameters": {"epochs": 2.0}})
    with caplog.at_level(logging.INFO, logger="studio.ui.settings"):
        loaded = load_settings()
    assert calls == [2, 3]
    assert loaded.recent_files == ["/a.csv"] and loaded.hyperparameters.seed == 9 and loaded.hyperparameters.epochs == 2
    assert loaded.schema_version == 4
    assert "from schema 2 to 3" in caplog.text and "from schema 3 to 4" in caplog.text

    calls.clear()
    _write({"schema_version": 3, "seed": 5})
    assert load_settings().hyperparameters.seed == 5 and calls == [3]


def test_a_file_without_a_version_is_read_as_the_first_one():
    _write({"train_csv": "/t.csv", "hyperparameters": {"batch_size": 16}})
    loaded = load_settings()
    assert loaded.train_csv == "/t.csv" and loaded.hyperparameters.batch_size == 16
    assert loaded.schema_version == SCHEMA_VERSION


def test_settings_from_a_newer_version_load_what_they_can(caplog):
    _write(
        {
            "schema_version": SCHEMA_VERSION + 5,
            "train_csv": "/t.csv",
            "recent_files": ["/t.csv"],
            "a_setting_from_the_future": {"deep": True},
            "hyperparameters": {"epochs": 4.0, "batch_size": "many", "lora_rank": 8},
        }
    )
    with caplog.at_level(logging.WARNING, logger="studio.ui.settings"):
        loaded = load_settings()
    assert loaded.train_csv == "/t.csv" and loaded.recent_files == ["/t.csv"]
    assert loaded.hyperparameters.epochs == 4.0 and loaded.hyperparameters.batch_size == 32
    assert "newer version" in caplog.text and "batch_size" in caplog.text
    save_settings(loaded)
    assert json.loads(settings_path().read_text())["schema_version"] == SCHEMA_VERSION


@pytest.mark.parametrize("text", ["{broken", "[1, 2]", '"text"', "null", ""])
def test_an_unreadable_file_gives_the_defaults(caplog, text):
    settings_path().write_text(text, encoding="utf-8")
    with caplog.at_level(logging.WARNING, logger="studio.ui.settings"):
        assert load_settings() == Settings()
    assert "settings" in caplog.text.lower()
