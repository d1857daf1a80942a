"""Bad input is refused with a sentence in the window, and the app stays usable."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QComboBox, QLineEdit, QPushButton

from tests.conftest import write_csv
from tests.ui.conftest import find, wait_for_data


def test_a_bad_csv_shows_its_sentence_and_a_good_one_still_loads(qtbot, window, tmp_path, small_csv):
    wait_for_data(qtbot, window)  # the sample, on first run
    bad = tmp_path / "one_column.csv"
    bad.write_text("just_text\nhello\nworld\n", encoding="utf-8")
    train_csv = find(window, "trainCsv", QLineEdit)
    train_csv.setText(str(bad))
    qtbot.keyClick(train_csv, Qt.Key.Key_Return)
    message = find(window, "dataError")
    qtbot.waitUntil(lambda: "has only one column" in message.text())
    assert message.isVisibleTo(window.data_page) and "Traceback" not in message.text()
    assert window.data_page.loaded() is None and window.data_page.model.rowCount() == 0

    image = tmp_path / "picture.csv"
    image.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(100))
    window.data_page.load_train(str(image))
    qtbot.waitUntil(lambda: "a PNG image, not a CSV file" in message.text())

    train_csv.setText(str(small_csv))
    qtbot.keyClick(train_csv, Qt.Key.Key_Return)
    wait_for_data(qtbot, window, small_csv)
    assert not message.isVisibleTo(window.data_page)
    assert window.data_page.model.rowCount() == 60


def test_training_on_a_bad_csv_is_refused_with_the_engine_sentence(qtbot, window, tmp_path):
    bad = write_csv(tmp_path / "one_label.csv", [(f"text {i}", "same") for i in range(20)])
    find(window, "trainCsv", QLineEdit).setText(str(bad))
    with qtbot.waitSignal(window.training.idle, timeout=60_000):
        qtbot.mouseClick(find(window, "trainButton", QPushButton), Qt.MouseButton.LeftButton)
    status = find(window, "trainStatus")
    assert "label" in status.text() and status.property("kind") == "error"
    assert find(window, "trainButton", QPushButton).isEnabled()


def test_a_bad_model_folder_shows_its_sentence_and_a_good_one_still_loads(qtbot, window, tmp_path, tiny_model_dir):
    empty = tmp_path / "empty-model"
    empty.mkdir()
    source = find(window, "modelSource", QComboBox)
    source.setEditText(str(empty))
    qtbot.keyClick(source.lineEdit(), Qt.Key.Key_Return)
    status = find(window, "modelStatus")
    qtbot.waitUntil(lambda: "is empty" in status.text(), timeout=60_000)
    assert status.property("kind") == "error" and window.model_page.info is None

    (empty / "config.json").write_text("{not json", encoding="utf-8")
    (empty / "model.safetensors").write_bytes(b"")
    window.model_page.inspect(force=True)
    qtbot.waitUntil(lambda: "cannot be read" in status.text(), timeout=60_000)

    # Typing a path is enough: it is read once the typing pauses.
    source.setEditText(str(tiny_model_dir))
    qtbot.waitUntil(lambda: window.model_page.info is not None, timeout=60_000)
    assert not status.isVisibleTo(window.model_page)
    assert window.model_page.fields["layers"].text() == "2"
    assert find(window, "frozenLayers").maximum() == 2


def test_a_bad_learning_rate_is_refused_where_it_is_typed(qtbot, window):
    rate = find(window, "learningRate")
    before = rate.value()
    rate.lineEdit().selectAll()
    qtbot.keyClicks(rate, "abc")  # not a number: the keys do nothing
    assert rate.lineEdit().text() == "5e-5" and rate.value() == before

    rate.lineEdit().selectAll()
    qtbot.keyClicks(rate, "-1")
    problem = find(window, "settingsProblem")
    assert "learning rate must be above 0 and below 1" in problem.text()
    assert problem.property("kind") == "error" and rate.value() == before

    qtbot.mouseClick(find(window, "trainButton", QPushButton), Qt.MouseButton.LeftButton)
    assert not window.training.is_running()
    assert "learning rate" in find(window, "trainStatus").text()

    rate.lineEdit().selectAll()
    qtbot.keyClicks(rate, "2")  # above 1
    assert "got 2.0" in problem.text()
    rate.lineEdit().selectAll()
    qtbot.keyClicks(rate, "3e-5")
    assert rate.value() == 3e-5 and not problem.text()


def test_a_refused_value_goes_back_when_editing_ends(qtbot, window):
    batch = find(window, "batchSize")
    batch.lineEdit().selectAll()
    qtbot.keyClicks(batch, "0")
    assert "batch size must be a whole number of at least 1" in find(window, "settingsProblem").text()
    qtbot.keyClick(batch, Qt.Key.Key_Return)
    assert batch.value() == 32 and batch.text() == "32"
    assert find(window, "settingsProblem").text().endswith("Kept 32.")
