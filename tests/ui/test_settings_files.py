"""File > Save settings… and Load settings…, driven through the real menu actions and widgets."""

from __future__ import annotations

import json

import pytest
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QAbstractSpinBox, QApplication, QComboBox, QFileDialog, QLineEdit, QMessageBox

from studio.core.config import BUILTIN_MODEL, TrainConfig
from tests.conftest import write_csv
from tests.ui.conftest import find, wait_for_data

# A message box has a fixed size, which the offscreen platform cannot pass on to a window system: it says so.
offscreen_message_box = pytest.mark.qt_log_ignore("propagateSizeHints")


def choose_file(monkeypatch, path, chosen_filter="Settings (*.toml *.json)"):
    """The file dialogs answer path, as if the user had picked it."""
    monkeypatch.setattr(QFileDialog, "getSaveFileName", staticmethod(lambda *a, **k: (str(path), chosen_filter)))
    monkeypatch.setattr(QFileDialog, "getOpenFileName", staticmethod(lambda *a, **k: (str(path), chosen_filter)))


def trigger(window, name):
    action = window.findChild(QAction, name)
    assert action is not None and action in window.menuBar().actions()[0].menu().actions()
    action.trigger()


def message_box(qtbot):
    found = []

    def shown():
        found[:] = [w for w in QApplication.topLevelWidgets() if w.objectName() == "settingsFileMessage"]
        assert found and found[0].isVisible()

    qtbot.waitUntil(shown, timeout=5000)
    return found[0]


@pytest.mark.parametrize("suffix", [".toml", ".json"])
def test_save_writes_what_the_pages_show(qtbot, window, monkeypatch, tmp_path, suffix):
    wait_for_data(qtbot, window)
    find(window, "seed", QAbstractSpinBox).setValue(7)
    find(window, "epochs", QAbstractSpinBox).setValue(2.5)
    find(window, "validationShare", QAbstractSpinBox).setValue(20)
    path = tmp_path / f"mine{suffix}"
    choose_file(monkeypatch, path)
    trigger(window, "saveSettingsAction")

    saved = TrainConfig.load(path)
    assert (saved.seed, saved.epochs, saved.validation_share) == (7, 2.5, 0.2)
    assert saved.train_csv == window.data_page.train_csv() and saved.model == BUILTIN_MODEL
    assert (saved.text_column, saved.label_column) == ("text", "label")
    assert saved == window.current_config()
    assert "Settings saved to" in window.statusBar().currentMessage()
    assert window.settings.recent_configs == [str(path.resolve())]


def test_a_name_without_a_suffix_gets_the_chosen_format(qtbot, window, monkeypatch, tmp_path):
    wait_for_data(qtbot, window)
    choose_file(monkeypatch, tmp_path / "plain", "JSON (*.json)")
    trigger(window, "saveSettingsAction")
    assert json.loads((tmp_path / "plain.json").read_text())["seed"] == 42


def test_load_puts_every_value_into_the_pages(qtbot, window, monkeypatch, tmp_path, tiny_model_dir):
    wait_for_data(qtbot, window)
    train = write_csv(
        tmp_path / "reviews.csv",
        [(f"id{i}", f"text number {i}", "good" if i % 2 else "bad", "x") for i in range(40)],
        header=("id", "review", "verdict", "other"),
    )
    validation = write_csv(tmp_path / "held.csv", [("a", "fine", "good", "y"), ("b", "poor", "bad", "y")])
    config = TrainConfig(
        train_csv=str(train),
        validation_csv=str(validation),
        model=str(tiny_model_dir),
        text_column="review",
        label_column="other",  # not what the page would infer: the file's choice must win
        task="single",
        learning_rate=2e-4,
        epochs=1.5,
        batch_size=8,
        max_length=64,
        freeze_layers=1,
        seed=9,
        evaluations_per_epoch=3,
        validation_share=0.25,
        allow_pickle=True,
    )
    path = tmp_path / "shared.toml"
    config.save(path)
    choose_file(monkeypatch, path)
    trigger(window, "loadSettingsAction")

    wait_for_data(qtbot, window, train)
    qtbot.waitUntil(lambda: find(window, "labelColumn", QComboBox).currentText() == "other")
    assert find(window, "textColumn", QComboBox).currentText() == "review"
    assert find(window, "taskChoice", QComboBox).currentData() == "single"
    assert find(window, "validationCsv", QLineEdit).text() == str(validation)
    assert find(window, "modelSource", QComboBox).currentText() == str(tiny_model_dir)
    assert find(window, "allowPickle").isChecked()
    assert find(window, "learningRate", QAbstractSpinBox).value() == pytest.approx(2e-4)
    assert find(window, "batchSize", QAbstractSpinBox).value() == 8
    assert find(window, "evaluationsPerEpoch", QAbstractSpinBox).value() == 3
    assert find(window, "validationShare", QAbstractSpinBox).value() == 25
    # Checked before the model is read, which may take longer than the message stays up on a busy machine.
    assert "Settings loaded from" in window.statusBar().currentMessage()
    # What Train would run now is the file's config, field for field.
    qtbot.waitUntil(lambda: window.model_page.current_info() is not None, timeout=60_000)
    assert window.current_config() == config


def test_a_run_s_own_config_loads_too(qtbot, window, monkeypatch, tmp_path, small_csv):
    from studio.core.runs import CONFIG_FILE, create_run_dir

    wait_for_data(qtbot, window)
    run = create_run_dir(TrainConfig(train_csv=str(small_csv), seed=123, epochs=4.0, output_dir=str(tmp_path / "o")))
    choose_file(monkeypatch, run / CONFIG_FILE)
    trigger(window, "loadSettingsAction")
    wait_for_data(qtbot, window, small_csv)
    assert find(window, "seed", QAbstractSpinBox).value() == 123
    assert find(window, "epochs", QAbstractSpinBox).value() == 4.0
    assert find(window, "modelSource", QComboBox).currentText() == "all-MiniLM-L6-v2 (built-in)"


@offscreen_message_box
@pytest.mark.parametrize(
    ("name", "text", "sentence"),
    [
        ("fast.json", '{"learning_rate": "fast"}', "learning_rate"),
        ("broken.toml", "epochs = [", "not valid TOML"),
        ("list.json", "[1, 2]", "must hold settings by name"),
        ("zero.toml", "batch_size = 0", "batch size"),
    ],
)
def test_a_bad_file_is_refused_with_a_sentence_and_nothing_changes(
    qtbot, window, monkeypatch, tmp_path, name, text, sentence
):
    wait_for_data(qtbot, window)
    find(window, "seed", QAbstractSpinBox).setValue(5)
    before = window.current_config()
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    choose_file(monkeypatch, path)
    trigger(window, "loadSettingsAction")

    box = message_box(qtbot)
    assert sentence in box.text() and str(path) in box.text() and "Traceback" not in box.text()
    assert box.text().endswith(".")
    box.button(QMessageBox.StandardButton.Ok).click()
    qtbot.waitUntil(lambda: not box.isVisible())
    assert window.current_config() == before
    assert window.settings.recent_configs == []


@offscreen_message_box
def test_save_refuses_what_the_form_refuses(qtbot, window, monkeypatch, tmp_path):
    wait_for_data(qtbot, window)
    rate = find(window, "learningRate", QAbstractSpinBox)
    rate.lineEdit().setText("3")  # typed, not yet accepted: above the largest rate that can work
    path = tmp_path / "never.toml"
    choose_file(monkeypatch, path)
    trigger(window, "saveSettingsAction")
    box = message_box(qtbot)
    assert box.text().startswith("These settings cannot be saved yet: the learning rate")
    assert not path.exists()
    box.close()


def test_save_then_load_gives_the_same_config(qtbot, window, monkeypatch, tmp_path):
    wait_for_data(qtbot, window)
    find(window, "batchSize", QAbstractSpinBox).setValue(16)
    before = window.current_config()
    path = tmp_path / "round.toml"
    choose_file(monkeypatch, path)
    trigger(window, "saveSettingsAction")
    find(window, "batchSize", QAbstractSpinBox).setValue(64)
    find(window, "seed", QAbstractSpinBox).setValue(1)
    trigger(window, "loadSettingsAction")
    wait_for_data(qtbot, window)
    assert window.current_config() == before
