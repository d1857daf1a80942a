"""The fine-tuning methods on the Train page: settings refused where typed, LoRA's rate, the layer map, the rate plot,
and the Data page's suggestion for rare classes."""

from __future__ import annotations

import json

import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QAbstractSpinBox, QCheckBox, QComboBox, QLabel, QPushButton, QToolButton

from studio.core import events as ev
from studio.core.layer_plan import plan_layers
from studio.ui.settings import Hyperparameters, Settings, load_settings, save_settings, settings_path
from tests.conftest import write_csv
from tests.ui.conftest import find, wait_for_data


def _open(window, section: str) -> None:
    """Open a section of the Train page's methods by clicking its header, as a user would."""
    header = find(window, f"{section}Header", QToolButton)
    if not header.isChecked():
        QTest.mouseClick(header, Qt.MouseButton.LeftButton)
    assert find(window, f"{section}Body").isVisible()


def _tick(window, name: str) -> None:
    box = find(window, name, QCheckBox)
    if not box.isChecked():
        box.click()
    assert box.isChecked()


def _type(window, name: str, text: str) -> None:
    box = find(window, name, QAbstractSpinBox)
    box.lineEdit().selectAll()
    QTest.keyClicks(box, text)


def _section_problem(window, section: str) -> str:
    label = find(window, f"{section}Problem", QLabel)
    assert label.isVisible()
    return label.text()


@pytest.mark.parametrize(
    ("section", "switch", "field", "text", "sentence"),
    [
        ("lora", "lora", "loraRank", "0", "The LoRA rank must be a whole number from 1 to 1024 (got 0)"),
        ("layers", None, "layerLrDecay", "1.5", "The layer-wise learning-rate decay must be above 0 and at most 1"),
        ("layers", "gradualUnfreezing", "unfreezeEvery", "0", "Gradual unfreezing needs a whole number of epochs"),
        ("early", "earlyStopping", "patience", "5", "but this run evaluates only 3 times"),
    ],
    ids=["lora-rank-0", "decay-1.5", "unfreeze-every-0", "patience-above-evaluations"],
)
def test_an_impossible_method_setting_is_refused_where_it_is_typed(
    qtbot, window, section, switch, field, text, sentence
):
    wait_for_data(qtbot, window)
    window.show_page("Train")
    find(window, "epochs", QAbstractSpinBox).setValue(3)
    find(window, "evaluationsPerEpoch", QAbstractSpinBox).setValue(1)
    _open(window, section)
    if switch:
        _tick(window, switch)
    _type(window, field, text)

    assert sentence in _section_problem(window, section)
    assert find(window, f"{section}Summary", QLabel).text() == "cannot work - see below"
    find(window, "trainButton", QPushButton).click()
    status = find(window, "trainStatus", QLabel)
    assert status.isVisible() and sentence in status.text() and status.property("kind") == "error"
    assert not window.training.is_running()

    # Put right, the sentence goes and the section says what it sets again.
    _type(window, field, "1" if field != "patience" else "2")
    assert not find(window, f"{section}Problem", QLabel).isVisible()
    assert window.pages.train.form.first_problem() is None


def test_lora_proposes_its_own_rate_while_the_rate_follows_the_task(qtbot):
    from studio.core.config import TrainConfig
    from studio.ui.pages.train_settings import HyperparameterForm

    form = HyperparameterForm(Hyperparameters(freeze_layers=2))
    qtbot.addWidget(form)  # never shown: a top-level form would make offscreen Qt warn about size hints
    assert form.learning_rate.text() == "5e-5" and form.rate_follows_task.isChecked()

    form.methods.lora.click()
    assert form.learning_rate.text() == "0.0005"
    assert not form.rate_note.isHidden() and "LoRA" in form.rate_note.text()
    assert form.values()["learning_rate"] is None
    assert TrainConfig(train_csv="x.csv", **form.values()).effective_learning_rate == pytest.approx(5e-4)
    # Frozen layers mean nothing under LoRA: greyed, and the line under them says so.
    assert not form.frozen_layers.isEnabled() and form.frozen_summary.text().startswith("Ignored under LoRA")

    form.methods.lora.click()
    assert form.learning_rate.text() == "5e-5" and form.rate_note.isHidden()
    assert form.frozen_layers.isEnabled() and form.frozen_summary.text().startswith("2 layers frozen")

    # A rate of the user's own stays what it is; LoRA only says that a larger one is usual.
    form.learning_rate.lineEdit().selectAll()
    QTest.keyClicks(form.learning_rate, "1e-4")
    form.methods.lora.click()
    assert form.learning_rate.text() == "1e-4" and not form.rate_follows_task.isChecked()
    assert "5e-4" in form.rate_note.text() or "0.0005" in form.rate_note.text()


@pytest.fixture
def train_page(qtbot, tiny_model_dir):
    """The Train page alone, told about the 2-layer tiny model (as the Model page tells it)."""
    from studio.core.modeling import inspect_model
    from studio.ui.pages.train_page import TrainPage
    from studio.ui.tasks import TaskRunner

    tasks = TaskRunner()
    page = TrainPage(tasks, Settings())
    # Gone with the page: a preview that finishes after the test must not reach a deleted map.
    tasks.setParent(page)
    qtbot.addWidget(page)
    page.form.set_model_info(inspect_model(str(tiny_model_dir)))
    yield page
    page.shutdown()
    tasks.wait()


def _map_shows(qtbot, page, states: list[str]) -> list:
    qtbot.waitUntil(lambda: [b.state for b in page.layer_map.blocks()] == states, timeout=20_000)
    return page.layer_map.blocks()


def test_the_layer_map_shows_frozen_layers_lora_and_gradual_unfreezing(qtbot, train_page):
    page, form = train_page, train_page.form
    blocks = _map_shows(qtbot, page, ["trains"] * 4)
    assert [b.name for b in blocks] == ["Embeddings", "Layer 1", "Layer 2", "Head"]
    assert page.layer_map.rows()[0][:2] == ("Head", "trains")  # the head on top

    form.frozen_layers.setValue(1)
    _map_shows(qtbot, page, ["frozen", "frozen", "trains", "trains"])
    assert [row[1] for row in page.layer_map.rows()] == ["trains", "trains", "frozen", "frozen"]
    assert [row[3] for row in page.layer_map.rows()] == ["5e-5", "5e-5", "–", "–"]

    # LoRA: adapters on the two layers (rank 8 on query, key and value: 8 x (32 + 32) x 3), the head whole;
    # the frozen layers are ignored.
    form.methods.lora.click()
    blocks = _map_shows(qtbot, page, ["frozen", "lora", "lora", "trains"])
    assert blocks[1].adapter_parameters == 8 * 64 * 3
    assert page.layer_map.rows()[1] == ("Layer 2", "LoRA adapters", "1.5k", "0.0005")
    form.methods.lora.click()

    # Gradual unfreezing every epoch from the top, down to the frozen floor (none here), over 5 epochs.
    form.frozen_layers.setValue(0)
    form.epochs.setValue(5)
    form.methods.gradual.click()
    form.methods.unfreeze_every.setValue(1)
    blocks = _map_shows(qtbot, page, ["unfreezes", "unfreezes", "unfreezes", "trains"])
    assert [b.unfreezes_at for b in blocks[:3]] == [3, 2, 1]
    assert [row[1] for row in page.layer_map.rows()] == [
        "trains",
        "unfreezes at epoch 1",
        "unfreezes at epoch 2",
        "unfreezes at epoch 3",
    ]
    # Blocks the run ends before reaching say so.
    form.epochs.setValue(2)
    qtbot.waitUntil(lambda: page.layer_map.rows()[-1][1] == "stays frozen (epoch 3)", timeout=20_000)
    assert "after the run ends" in page.layer_map.summary_text()
    form.methods.gradual.click()

    # Layer-wise decay: each block's rate is the one above it times the factor.
    form.methods.layer_lr_decay.setValue(0.5)
    qtbot.waitUntil(lambda: page.layer_map.blocks()[0].learning_rate == pytest.approx(5e-5 / 8), timeout=20_000)
    assert [row[3] for row in page.layer_map.rows()] == ["5e-5", "2.5e-5", "1.25e-5", "6.25e-6"]


def test_the_run_s_plan_and_its_unfreezing_update_the_map_live(qtbot, train_page):
    from studio.core.config import TrainConfig

    page = train_page
    _map_shows(qtbot, page, ["trains"] * 4)
    counts = {"embeddings": 1000, "blocks": [200, 200], "total": 1500}
    plan = plan_layers(TrainConfig(train_csv="x", unfreeze_every=10, unfreeze_unit="steps"), counts)
    page.on_event(ev.RunCreated(run_dir="/tmp/run"))
    page.on_event(ev.LayersPlanned(blocks=tuple(b.to_dict() for b in plan)))
    assert [b.state for b in page.layer_map.blocks()] == ["unfreezes", "unfreezes", "unfreezes", "trains"]
    assert page.layer_map.rows()[1][1] == "unfreezes at step 10"

    page.on_event(ev.BlocksUnfrozen(step=10, epoch=0.5, blocks=("Layer 2",), trainable_parameters=300))
    assert [b.state for b in page.layer_map.blocks()] == ["unfreezes", "unfreezes", "trains", "trains"]
    assert page.layer_map.rows()[1][1] == "trains since step 10"
    assert "300 of 1.5k weights train now" in page.layer_map.summary_text()
    assert "Layer 2 trains from now on" in page.log.toPlainText()

    # While the run goes on, a setting changed (it cannot be, the form is off; a settings file could) waits.
    page.form.frozen_layers.setValue(1)
    qtbot.wait(400)
    assert page.layer_map.rows()[1][1] == "trains since step 10"
    page.on_event(ev.BlocksUnfrozen(step=20, epoch=1.0, blocks=("Layer 1",), trainable_parameters=500))
    page.on_event(ev.Failed(message="stopped"))
    # Once it has ended, the map follows the settings again.
    _map_shows(qtbot, page, ["frozen", "frozen", "trains", "trains"])


def test_the_learning_rate_plot_gets_a_point_per_logged_loss(qtbot, train_page):
    page = train_page
    page.on_event(ev.RunCreated(run_dir="/tmp/run"))
    page.on_event(
        ev.RunStarted(
            run_dir="/tmp/run",
            total_steps=10,
            train_rows=100,
            validation_rows=10,
            labels=("a", "b"),
            device="cpu",
            precision="fp32",
            trainable_parameters=10,
            total_parameters=10,
        )
    )
    rates = [1e-5 * step for step in range(1, 6)]
    for step, rate in enumerate(rates, start=1):
        page.on_event(ev.LossLogged(step=step, epoch=step / 10, loss=0.5, learning_rate=rate))
    curve = page.curves.learning_rate
    # Drawn by the plots' timer, as the loss is: the item holds the points it was last given.
    qtbot.waitUntil(lambda: curve.item.xData is not None and len(curve.item.xData) == 5, timeout=2000)
    x, y = curve.item.xData, curve.item.yData
    assert list(x) == [1, 2, 3, 4, 5] and list(y) == pytest.approx(rates)
    assert page.curves.lr_plot.objectName() == "learningRatePlot"
    # The rate plot shares the step axis with the loss plot.
    assert page.curves.lr_plot.getViewBox().linkedView(0) is page.curves.loss_plot.getViewBox()
    page.on_event(ev.Failed(message="stopped"))


def test_the_data_page_suggests_help_for_rare_classes_only_when_one_is_rare(qtbot, window, tmp_path):
    imbalanced = write_csv(
        tmp_path / "imbalanced.csv", [(f"text {i}", "common") for i in range(60)] + [("rare one", "rare")] * 6
    )
    balanced = write_csv(tmp_path / "balanced.csv", [(f"text {i}", "a" if i % 2 else "b") for i in range(60)])
    page = window.data_page
    wait_for_data(qtbot, window)
    window.show_page("Data")

    page.load_train(str(balanced))
    wait_for_data(qtbot, window, balanced)
    qtbot.waitUntil(lambda: page.current_check() is not None)
    assert not find(window, "imbalanceSuggestion").isVisible()

    page.load_train(str(imbalanced))
    wait_for_data(qtbot, window, imbalanced)
    qtbot.waitUntil(lambda: find(window, "imbalanceSuggestion").isVisible(), timeout=10_000)
    assert "'common' has 10.0x the rows of 'rare'" in find(window, "imbalanceText", QLabel).text()

    find(window, "useBalancedWeights", QPushButton).click()
    assert window.stack.currentWidget() is window.train_page
    assert find(window, "classWeights", QComboBox).currentData() == "balanced"
    assert find(window, "rareBody").isVisible()
    window.show_page("Data")
    find(window, "useOversampling", QPushButton).click()
    assert find(window, "oversample", QCheckBox).isChecked()
    config = window.current_config()
    assert (config.class_weights, config.oversample) == ("balanced", True)


def test_the_methods_are_saved_with_the_app_s_settings_and_restored(qtbot):
    from studio.ui.pages.train_settings import HyperparameterForm

    chosen = Hyperparameters(
        epochs=6.0,
        scheduler="cosine",
        warmup_ratio=0.1,
        layer_lr_decay=0.8,
        unfreeze_every=2,
        unfreeze_unit="steps",
        unfreeze_start=1,
        early_stopping=2,
        min_improvement=0.01,
        dropout=0.2,
        label_smoothing=0.1,
        class_weights="spam=3,ham=1",
        oversample=True,
    )
    form = HyperparameterForm(chosen)
    qtbot.addWidget(form)
    assert form.first_problem() is None
    stored = Hyperparameters()
    form.store(stored)
    assert stored == chosen
    settings = Settings(hyperparameters=stored)
    save_settings(settings)
    assert load_settings().hyperparameters == chosen

    # Each alone possible, together not: the later setting of the pair takes its default, the rest is kept.
    data = json.loads(settings_path().read_text(encoding="utf-8"))
    data["hyperparameters"].update(epochs=1.0, lora=True)
    settings_path().write_text(json.dumps(data), encoding="utf-8")
    repaired = load_settings().hyperparameters
    assert repaired.early_stopping is None and repaired.unfreeze_every is None
    assert repaired.lora is True and repaired.layer_lr_decay == 0.8 and repaired.class_weights == "spam=3,ham=1"
