"""Every task in the app: the Data page proposes it from the file and says why, the Train page follows it, the
Evaluate page shows its own view and the Inference tab its own output, for a typed text and a whole CSV."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QComboBox, QFileDialog, QInputDialog, QLineEdit, QPushButton, QTableWidget

from studio.core import events as ev
from studio.core.tasks import get_task
from tests.conftest import SHARED_DATA
from tests.ui.conftest import find, wait_for_data
from tests.ui.task_models import MULTI_LABELS, REGRESSION_VALUE, make_task_model

# (dataset file, the task it is, the chart's title, the second-text column)
DATASETS = {
    "goemotions": ("goemotions/train.csv", "multi", "Rows per label", None),
    "stsb": ("stsb/train.csv", "regression", "Values", "text_pair"),
    "snli_pairs": ("snli_pairs/train.csv", "pair", "Rows per label", "text_pair"),
    "ner_wikigold": ("ner_wikigold/train.csv", "token", "Entities per type", None),
}


def shared_sample(name: str, folder: Path, rows: int = 300) -> Path:
    """The first rows of a shared dataset as a CSV of their own; the test skips when the data is absent."""
    source = SHARED_DATA / DATASETS[name][0]
    if not source.is_file():
        pytest.skip(f"{source} is absent (the shared datasets are not in this checkout)")
    with open(source, encoding="utf-8", newline="") as handle:
        lines = list(csv.reader(handle))[: rows + 1]
    path = folder / f"{name}.csv"
    with open(path, "w", encoding="utf-8", newline="") as handle:
        csv.writer(handle).writerows(lines)
    return path


def load(qtbot, window, path: Path) -> None:
    """Type the file's path into the training field and press Return, as a user does; wait for its task."""
    field = find(window, "trainCsv", QLineEdit)
    field.setText(str(path))
    qtbot.keyClick(field, Qt.Key.Key_Return)
    wait_for_data(qtbot, window, path, timeout=30_000)
    qtbot.waitUntil(lambda: window.data_page.current_check() is not None, timeout=30_000)


def choose(qtbot, combo: QComboBox, data: str) -> None:
    """Pick an entry of a combo box as the user does (the page acts on `activated`, which only a user sends)."""
    index = combo.findData(data)
    if index < 0:
        index = combo.findText(data)
    assert index >= 0, data
    combo.setCurrentIndex(index)
    combo.activated.emit(index)


def chart_title(window) -> str:
    return window.data_page.chart.title()


# The Data page ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(DATASETS))
def test_the_file_alone_proposes_its_task_and_says_why(qtbot, window, tmp_path, name):
    _, task_name, title, pair = DATASETS[name]
    task = get_task(task_name)
    wait_for_data(qtbot, window)  # the sample first, as on any first run
    path = shared_sample(name, tmp_path)
    load(qtbot, window, path)

    assert find(window, "taskChoice", QComboBox).currentData() == task_name
    reason = find(window, "taskReason").text()
    assert reason.startswith(f"Proposed: {task.title} — "), reason
    assert chart_title(window) == title
    pair_combo = find(window, "pairColumn", QComboBox)
    assert pair_combo.isVisibleTo(window.data_page) == task.takes_pairs
    if pair:
        assert pair_combo.currentText() == pair
    # The learning rate is the task's own until the user types one; Train gets the task and its columns.
    assert find(window, "learningRate").value() == pytest.approx(task.default_learning_rate)
    config = window.current_config()
    assert (config.task, config.pair_column, config.learning_rate) == (task_name, pair, None)
    if task_name == "token":
        assert (config.text_column, config.label_column) == ("tokens", "tags")
        assert find(window, "dataSummary").text().startswith("ner_wikigold.csv: 300 sentences")


def test_a_conll_file_opens_as_words_and_tags(qtbot, window):
    conll = SHARED_DATA / "ner_wikigold" / "validation.conll"
    if not conll.is_file():
        pytest.skip(f"{conll} is absent (the shared datasets are not in this checkout)")
    wait_for_data(qtbot, window)
    load(qtbot, window, conll)
    assert find(window, "taskChoice", QComboBox).currentData() == "token"
    assert window.data_page.model.headerData(0, Qt.Orientation.Horizontal) == "tokens (text)"
    assert window.data_page.model.headerData(1, Qt.Orientation.Horizontal) == "tags (tags)"
    assert chart_title(window) == "Entities per type"
    assert "entities in 254 sentences" in find(window, "distributionNote").text()


def test_a_file_no_task_recognises_still_opens_and_the_user_chooses(qtbot, window, tmp_path, monkeypatch):
    from studio.core.errors import DataError
    from studio.ui.pages import data_page

    def no_task(table, text=None, label=None, pair=None):
        raise DataError(f"{table.path.name} does not look like training data for any task; choose the task.")

    wait_for_data(qtbot, window)
    monkeypatch.setattr(data_page, "detect_task", no_task)
    path = tmp_path / "odd.csv"
    path.write_text("words,marks\n" + "".join(f"text number {i},{'ab'[i % 2]}\n" for i in range(40)), encoding="utf-8")
    field = find(window, "trainCsv", QLineEdit)
    field.setText(str(path))
    qtbot.keyClick(field, Qt.Key.Key_Return)
    wait_for_data(qtbot, window, path)
    assert window.data_page.model.rowCount() == 40
    assert "does not look like training data" in find(window, "columnsMessage").text()
    assert find(window, "taskReason").text().startswith("No task was recognised")
    choose(qtbot, find(window, "taskChoice", QComboBox), "single")
    qtbot.waitUntil(lambda: window.data_page.current_check() is not None)
    assert find(window, "columnsMessage").text() == "2 labels; the rarest, 'a', has 20 rows."
    assert window.current_config().task == "single"


def test_another_task_rereads_the_columns_and_redraws_the_chart(qtbot, window, tmp_path):
    wait_for_data(qtbot, window)
    load(qtbot, window, shared_sample("stsb", tmp_path))
    assert chart_title(window) == "Values"
    rate = find(window, "learningRate")
    assert rate.value() == pytest.approx(get_task("regression").default_learning_rate)

    page = window.data_page
    choose(qtbot, find(window, "taskChoice", QComboBox), "single")
    qtbot.waitUntil(lambda: page.current_check() is not None and page.current_check().task == "single")
    assert chart_title(window).startswith("Rows per label")
    reason = find(window, "taskReason").text()
    assert reason.startswith("Proposed: Regression — ") and reason.endswith("You chose Single-label classification.")
    # Scores as classes: the page points back to regression.
    assert "choose regression" in find(window, "columnsMessage").text()
    assert rate.value() == pytest.approx(get_task("single").default_learning_rate)
    assert window.current_config().task == "single"

    # Back to regression, and the second text left out: the chart is the histogram again, without pairs.
    choose(qtbot, find(window, "taskChoice", QComboBox), "regression")
    qtbot.waitUntil(lambda: page.current_check().task == "regression")
    assert chart_title(window) == "Values"
    # Regression finds the second text by its column's name whatever the combo says, and the page says so.
    choose(qtbot, find(window, "pairColumn", QComboBox), "(none)")
    qtbot.waitUntil(lambda: "rename or remove that column" in find(window, "columnsMessage").text())
    assert find(window, "pairColumn", QComboBox).currentText() == "text_pair"
    assert window.current_config().pair_column == "text_pair"

    # Pairs without their second text are single texts.
    choose(qtbot, find(window, "taskChoice", QComboBox), "pair")
    qtbot.waitUntil(lambda: page.current_check().task == "pair")
    choose(qtbot, find(window, "pairColumn", QComboBox), "(none)")
    qtbot.waitUntil(lambda: page.current_check().task == "single" and page.current_check().columns.pair is None)
    assert window.current_config().pair_column is None


def test_multi_labels_counted_as_single_labels_are_their_combinations(qtbot, window, tmp_path):
    wait_for_data(qtbot, window)
    load(qtbot, window, shared_sample("goemotions", tmp_path))
    page = window.data_page
    names = {name for name, _ in page.current_check().distribution.bars}
    assert all(";" not in name for name in names)
    assert "labels per row" in find(window, "distributionNote").text()
    choose(qtbot, find(window, "taskChoice", QComboBox), "single")
    qtbot.waitUntil(lambda: page.current_check() is not None and page.current_check().task == "single")
    assert any(";" in name for name, _ in page.current_check().distribution.bars)
    assert not find(window, "distributionNote").isVisibleTo(page)


def test_a_learning_rate_typed_by_the_user_stays_whatever_the_task(qtbot, window, tmp_path):
    wait_for_data(qtbot, window)
    rate = find(window, "learningRate")
    follows = find(window, "learningRateFollowsTask")
    rate.lineEdit().selectAll()
    qtbot.keyClicks(rate, "3e-5")
    assert not follows.isChecked()
    load(qtbot, window, shared_sample("goemotions", tmp_path))
    assert rate.value() == pytest.approx(3e-5) and window.current_config().learning_rate == pytest.approx(3e-5)
    # Checking the box again hands the rate back to the task.
    window.show_page("Train")
    qtbot.mouseClick(follows, Qt.MouseButton.LeftButton)
    assert follows.isChecked()
    assert rate.value() == pytest.approx(get_task("multi").default_learning_rate)
    assert window.current_config().learning_rate is None


# The Evaluate page --------------------------------------------------------------------------------------


def _model_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "runs" / "20260101-120000-run" / "model"
    folder.mkdir(parents=True)
    return folder


def _finish(window, tmp_path, metrics: dict) -> None:
    """The run's Finished event, as the training controller delivers it."""
    model = _model_dir(tmp_path)
    window.training.event.emit(ev.Finished(run_dir=str(model.parent), model_dir=str(model), metrics=metrics))


def _cards(window) -> dict[str, str]:
    page = window.evaluate_page
    return {name.text(): value.text() for value, name in page._card_widgets}


def test_multi_label_results_show_each_label_with_its_threshold(qtbot, window, tmp_path):
    labels = ["admiration", "anger", "joy"]
    per_label = {
        name: {"precision": 0.5, "recall": 0.4, "f1": 0.44, "support": 10 + i, "threshold": 0.3 + i / 10}
        for i, name in enumerate(labels)
    }
    metrics = {"task": "multi", "labels": labels, "f1": 0.44, "f1_micro": 0.51, "precision": 0.55, "recall": 0.48}
    _finish(window, tmp_path, {**metrics, "loss": 0.2, "per_label": per_label, "thresholds": {}})
    window.show_page("Evaluate")
    table = find(window, "perLabelTable", QTableWidget)
    assert table.isVisible() and not find(window, "perClassTable").isVisible()
    assert [table.item(r, 0).text() for r in range(3)] == labels
    assert [table.item(r, 5).text() for r in range(3)] == ["0.30", "0.40", "0.50"]
    assert _cards(window) == {
        "F1 (macro)": "0.4400",
        "F1 (micro)": "0.5100",
        "Precision (micro)": "0.5500",
        "Recall (micro)": "0.4800",
        "Validation loss": "0.2000",
    }
    assert "Macro F1 0.4400" in window.statusBar().currentMessage()


def test_regression_results_show_the_predictions_against_the_true_values(qtbot, window, tmp_path):
    true = [0.0, 1.0, 2.5, 4.0, 5.0]
    predicted = [0.4, 1.2, 2.0, 3.6, 4.1]
    metrics = {"task": "regression", "pearson": 0.97, "spearman": 1.0, "mse": 0.27, "mae": 0.46, "loss": 0.1}
    _finish(window, tmp_path, {**metrics, "scatter": {"true": true, "predicted": predicted}})
    window.show_page("Evaluate")
    scatter = find(window, "regressionScatter")
    assert scatter.isVisible()
    xs, ys = scatter.points.getData()
    assert list(xs) == true and list(ys) == predicted
    assert list(scatter.diagonal.getData()[0]) == list(scatter.diagonal.getData()[1])  # the line y = x
    assert _cards(window)["Pearson"] == "0.9700" and _cards(window)["Mean absolute error"] == "0.4600"
    assert sum(find(window, "errorHistogram").bars.opts["height"]) == 5


def test_token_results_show_entity_types_and_the_worst_sentences(qtbot, window, tmp_path):
    worst = [
        {
            "tokens": ["John", "Smith", "visited", "Paris", "with", "Acme", "Corp", "."],
            "true": [["PER", 0, 2], ["LOC", 3, 4], ["ORG", 5, 7]],
            "predicted": [["PER", 0, 2], ["ORG", 3, 4]],
            "errors": 3,
        }
    ]
    per_entity = {t: {"precision": 0.7, "recall": 0.6, "f1": 0.65, "support": 9} for t in ("PER", "LOC", "ORG")}
    metrics = {"task": "token", "f1": 0.65, "precision": 0.7, "recall": 0.6, "accuracy": 0.93, "loss": 0.3}
    _finish(window, tmp_path, {**metrics, "per_entity": per_entity, "worst": worst})
    window.show_page("Evaluate")
    table = find(window, "perEntityTable", QTableWidget)
    assert table.isVisible() and table.rowCount() == 3 and table.item(0, 0).text() == "PER"
    shown = find(window, "worstSentences").toPlainText()
    assert "John Smith visited Paris with Acme Corp ." in shown
    # True and predicted side by side (a cell each), each entity typed and named by its words.
    cells = [" ".join(line.split()) for line in shown.splitlines()]
    assert "PER John Smith · LOC Paris · ORG Acme Corp" in cells
    assert "PER John Smith · ORG Paris" in cells
    html = find(window, "worstSentences").toHtml()
    assert html.count("#b00020") == 3  # the missed LOC Paris and ORG Acme Corp, the mistaken ORG Paris
    assert _cards(window)["Entity F1"] == "0.6500" and _cards(window)["Token accuracy"] == "0.9300"


def test_single_label_results_still_show_classes_and_the_confusion_matrix(qtbot, window, tmp_path):
    per_class = {n: {"precision": 0.5, "recall": 0.5, "f1": 0.5, "support": 3} for n in ("ham", "spam")}
    metrics = {"f1": 0.5, "accuracy": 0.5, "precision": 0.5, "recall": 0.5, "loss": 0.7, "labels": ["ham", "spam"]}
    _finish(window, tmp_path, {**metrics, "per_class": per_class, "confusion": [[2, 1], [1, 2]]})  # no "task"
    window.show_page("Evaluate")
    assert find(window, "perClassTable", QTableWidget).rowCount() == 2 and find(window, "confusionMatrix").isVisible()
    assert _cards(window)["F1 (macro)"] == "0.5000"


# The Inference tab --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def task_models(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("task-models")
    return {task: make_task_model(folder / task, task) for task in ("multi", "regression", "pair", "token")}


def predict(qtbot, window, folder: Path, text: str, pair: str | None = None) -> None:
    window.show_page("Inference")
    window.inference_page.set_model_folder(str(folder))
    find(window, "inferenceInput").setPlainText(text)
    if pair is not None:
        find(window, "inferencePairInput").setPlainText(pair)
    button = find(window, "predictButton", QPushButton)
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: button.isEnabled(), timeout=60_000)


def label_csv(qtbot, window, monkeypatch, source: Path, dest: Path) -> list[dict]:
    monkeypatch.setattr(QFileDialog, "getOpenFileName", staticmethod(lambda *a, **k: (str(source), "")))
    monkeypatch.setattr(QFileDialog, "getSaveFileName", staticmethod(lambda *a, **k: (str(dest), "")))
    qtbot.mouseClick(find(window, "predictCsvButton", QPushButton), Qt.MouseButton.LeftButton)
    status = find(window, "csvStatus")
    qtbot.waitUntil(lambda: "Wrote" in status.text() or status.has_error(), timeout=60_000)
    assert "Wrote" in status.text(), status.text()
    with open(dest, encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def test_multi_label_predictions_tick_the_labels_above_their_thresholds(
    qtbot, window, task_models, tmp_path, monkeypatch
):
    predict(qtbot, window, task_models["multi"], "what a lovely surprise")
    assert find(window, "predictionOutput").text() == "joy, love"
    table = find(window, "probabilityTable", QTableWidget)
    assert [table.item(r, 0).text() for r in range(4)] == ["✓ joy", "✓ love", "anger", "sadness"]
    assert {table.cellWidget(r, 1).text() for r in (2, 3)} == {"4.7%"}

    source = tmp_path / "texts.csv"
    source.write_text("id,text\n1,first\n2,second\n", encoding="utf-8")
    rows = label_csv(qtbot, window, monkeypatch, source, tmp_path / "out.csv")
    assert [r["predicted_labels"] for r in rows] == ["joy;love"] * 2
    assert set(rows[0]) >= {f"p({label})" for label in MULTI_LABELS}


def test_a_regression_model_shows_its_value(qtbot, window, task_models, tmp_path, monkeypatch):
    predict(qtbot, window, task_models["regression"], "a text to score")
    assert find(window, "predictionCaption").text() == "Predicted value:"
    assert find(window, "predictionOutput").text() == "2.500"
    assert not find(window, "probabilityTable").isVisibleTo(window.inference_page)
    source = tmp_path / "texts.csv"
    source.write_text("id,text\n1,one\n2,two\n3,three\n", encoding="utf-8")
    rows = label_csv(qtbot, window, monkeypatch, source, tmp_path / "out.csv")
    assert [float(r["predicted_value"]) for r in rows] == [REGRESSION_VALUE] * 3


def test_a_pair_model_asks_for_the_second_text_and_its_column(qtbot, window, task_models, tmp_path, monkeypatch):
    window.show_page("Inference")
    window.inference_page.set_model_folder(str(task_models["pair"]))
    second = find(window, "inferencePairInput")
    assert second.isVisible() and "text_pair" in find(window, "inferencePairCaption").text()
    find(window, "inferenceInput").setPlainText("A man plays a guitar.")
    qtbot.mouseClick(find(window, "predictButton", QPushButton), Qt.MouseButton.LeftButton)
    assert "type the second text too" in find(window, "inferenceStatus").text()

    predict(qtbot, window, task_models["pair"], "A man plays a guitar.", "A person makes music.")
    assert find(window, "predictionOutput").text() == "entailment"
    assert find(window, "probabilityTable", QTableWidget).rowCount() == 3

    # A file whose second texts are in a column named otherwise: the user is asked which one.
    source = tmp_path / "pairs.csv"
    source.write_text("premise,claim\nA dog runs.,An animal moves.\nIt rains.,It is dry.\n", encoding="utf-8")
    asked = []

    def answer(parent, title, question, columns, *args):
        asked.append(list(columns))
        return "claim", True

    monkeypatch.setattr(QInputDialog, "getItem", staticmethod(answer))
    rows = label_csv(qtbot, window, monkeypatch, source, tmp_path / "out.csv")
    assert asked == [["premise", "claim"]]
    assert [r["predicted_label"] for r in rows] == ["entailment"] * 2


def test_ner_predictions_highlight_the_entities_with_their_types(qtbot, window, task_models, tmp_path, monkeypatch):
    text = "John Smith flew from Paris to Google ."
    predict(qtbot, window, task_models["token"], text)
    assert find(window, "predictionOutput").text() == "3 found"
    view = find(window, "entityView")
    assert view.isVisible()
    # The text as typed, each entity followed by its type.
    assert " ".join(view.toPlainText().split()) == "John Smith PER flew from Paris LOC to Google ORG ."
    table = find(window, "probabilityTable", QTableWidget)
    assert [table.item(r, 0).text() for r in range(3)] == ["John Smith  ·  PER", "Paris  ·  LOC", "Google  ·  ORG"]

    source = tmp_path / "texts.csv"
    source.write_text(f"id,text\n1,{text}\n2,nothing here\n", encoding="utf-8")
    rows = label_csv(qtbot, window, monkeypatch, source, tmp_path / "out.csv")
    first, second = (json.loads(r["entities"]) for r in rows)
    assert [(e["entity"], e["word"]) for e in first] == [("PER", "John Smith"), ("LOC", "Paris"), ("ORG", "Google")]
    assert second == []


# One training run of another task than single-label, through the window ------------------------------------


def test_a_regression_run_plots_pearson_and_shows_the_scatter(qtbot, window, tiny_model_dir, tmp_path):
    source = shared_sample("stsb", tmp_path, rows=200)
    model = find(window, "modelSource", QComboBox)
    model.setEditText(str(tiny_model_dir))
    qtbot.keyClick(model.lineEdit(), Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: window.model_page.info is not None, timeout=60_000)
    load(qtbot, window, source)
    assert find(window, "taskChoice", QComboBox).currentData() == "regression"
    for name, value in (("epochs", 1), ("batchSize", 16), ("maxLength", 32), ("evaluationsPerEpoch", 2)):
        find(window, name).setValue(value)

    finished: list = []
    window.training.event.connect(lambda e: finished.append(e) if isinstance(e, ev.Finished) else None)
    with qtbot.waitSignal(window.training.idle, timeout=180_000):
        qtbot.mouseClick(find(window, "trainButton", QPushButton), Qt.MouseButton.LeftButton)
    assert finished and finished[0].metrics["task"] == "regression", find(window, "trainStatus").text()

    plot = find(window, "f1Plot")
    assert plot.getPlotItem().titleLabel.text == "Validation Pearson"
    assert len(window.train_page.curves.f1.series) >= 2 and not window.train_page.curves.accuracy.item.isVisible()
    assert "Pearson" in find(window, "trainLog").toPlainText()
    window.show_page("Evaluate")
    points = find(window, "regressionScatter").points.getData()[0]
    assert len(points) == 20  # the validation rows: 10 % of 200
    assert "Pearson" in _cards(window)
