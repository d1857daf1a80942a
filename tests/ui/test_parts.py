"""The app's parts on their own: settings, formatting, the table model, the spin box, plots, the error dialog."""

from __future__ import annotations

import json
import logging
import sys

import numpy as np
import pytest
from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QApplication, QMessageBox

from studio.core.csvio import Table
from studio.core.modeling import ModelInfo, ModelSource
from studio.ui import formatting
from studio.ui.settings import SCHEMA_VERSION, Settings, load_settings, save_settings, settings_path


def test_settings_round_trip_and_survive_damage(studio_home):
    settings = Settings()
    for i in range(12):
        settings.remember("recent_files", f"/data/{i}.csv")
    settings.remember("recent_files", "/data/3.csv")
    settings.hyperparameters.learning_rate = 2e-5
    save_settings(settings)
    again = load_settings()
    assert again == settings and again.recent_files[:2] == ["/data/3.csv", "/data/11.csv"]
    assert len(again.recent_files) == 8

    data = json.loads(settings_path().read_text())
    assert data["schema_version"] == SCHEMA_VERSION
    data["from_the_future"] = True
    data["hyperparameters"]["also_new"] = 1
    settings_path().write_text(json.dumps(data))
    assert load_settings().hyperparameters.learning_rate == 2e-5

    settings_path().write_text("{broken")
    assert load_settings() == Settings()


@pytest.mark.parametrize(
    ("value", "text"), [(22_713_216, "22.7M"), (5_100, "5.1k"), (312, "312"), (150_000_000, "150M")]
)
def test_counts_read_short(value, text):
    assert formatting.count(value) == text


def test_durations_sizes_and_rates_read_short():
    assert formatting.duration(8.4) == "8 s" and formatting.duration(125) == "2 min 05 s"
    assert formatting.duration(4800) == "1 h 20 min" and formatting.duration(None) == "unknown"
    assert formatting.size(90_900_000) == "90.9 MB"
    assert formatting.learning_rate(5e-5) == "5e-5" and formatting.learning_rate(1e-4) == "0.0001"


def test_the_preview_model_reads_the_table_without_copying_it(qtbot, tmp_path):
    from studio.ui.table_model import CsvTableModel

    rows = [("a long text " * 40, "x"), ("short\nwith a newline", "y")]
    table = Table(path=tmp_path / "t.csv", columns=("text", "label"), rows=rows, encoding="utf-8", delimiter=",")
    model = CsvTableModel()
    model.set_table(table)
    assert (model.rowCount(), model.columnCount()) == (2, 2)
    assert model.table().rows is rows
    assert len(model.data(model.index(0, 0))) == 300 and model.data(model.index(0, 0), Qt.ItemDataRole.ToolTipRole)
    assert model.data(model.index(1, 0)) == "short with a newline"
    model.set_roles("text", "label")
    assert model.headerData(0, Qt.Orientation.Horizontal) == "text (text)"
    assert model.headerData(1, Qt.Orientation.Vertical) == "2"


def test_the_frozen_layers_control_counts_trainable_parameters(qtbot):
    from studio.ui.pages.train_settings import HyperparameterForm
    from studio.ui.settings import Hyperparameters

    form = HyperparameterForm(Hyperparameters())
    qtbot.addWidget(form)
    info = ModelInfo(
        source=ModelSource("builtin", "/x", "builtin"),
        model_type="bert",
        architecture="BertModel",
        num_layers=6,
        hidden_size=384,
        max_length=512,
        weights_bytes=0,
        parameter_counts={"embeddings": 12_000_000, "blocks": [1_800_000] * 6, "total": 22_700_000},
    )
    form.set_model_info(info)
    form.frozen_layers.setValue(4)
    assert form.frozen_summary.text() == "4 of 6 layers frozen - 3.5M of 22.7M parameters train"
    assert form.frozen_slider.value() == 4
    form.frozen_slider.setValue(0)
    assert form.frozen_summary.text() == "0 of 6 layers frozen - all 22.7M parameters train"
    form.frozen_layers.setValue(9)
    assert form.frozen_layers.value() == 6 and form.max_length.maximum() == 512


def test_the_learning_rate_box_steps_through_usual_values(qtbot):
    from studio.ui.widgets import ScientificSpinBox

    box = ScientificSpinBox()
    qtbot.addWidget(box)
    box.setValue(5e-5)
    box.stepBy(1)
    assert box.value() == pytest.approx(1e-4) and box.text() == "0.0001"
    box.stepBy(-2)
    assert box.value() == pytest.approx(3e-5) and box.text() == "3e-5"


def test_live_curves_draw_on_the_timer_only_what_changed(qtbot):
    from studio.ui.plots import GrowingSeries, LiveCurves

    series = GrowingSeries(capacity=2)
    for i in range(5):
        series.append(i, i * 2)
    assert list(series.x) == [0, 1, 2, 3, 4] and list(series.y) == [0, 2, 4, 6, 8]

    curves = LiveCurves()
    qtbot.addWidget(curves.loss_plot)
    qtbot.addWidget(curves.f1_plot)
    curves.start()
    curves.add_loss(1, 0.7)
    curves.add_evaluation(1, 0.6, 0.5, 0.55)
    assert _points(curves.train_loss.item) == 0, "nothing is drawn until the timer fires"
    qtbot.waitUntil(lambda: _points(curves.train_loss.item) == 1)
    assert np.allclose(curves.f1.item.getData()[1], [0.5])
    curves.stop()
    curves.reset()
    assert _points(curves.train_loss.item) == 0


def _points(item) -> int:
    x = item.getData()[0]
    return 0 if x is None else len(x)


def test_both_plots_span_the_runs_steps_from_the_first_evaluation(qtbot):
    from studio.ui.plots import X_MARGIN, LiveCurves

    curves = LiveCurves()
    for widget in (curves.loss_plot, curves.f1_plot):
        qtbot.addWidget(widget)
    curves.start(250)
    curves.add_loss(120, 0.7)
    curves.add_evaluation(125, 0.6, 0.5, 0.55)  # one evaluation so far: once the plot spanned 124.6 to 125.4
    qtbot.waitUntil(lambda: _points(curves.f1.item) == 1)
    for plot in (curves.loss_plot, curves.f1_plot):
        low, high = plot.viewRange()[0]
        assert low == pytest.approx(0) and high == pytest.approx(250 * (1 + X_MARGIN)), plot.objectName()
    # Linked: zooming one plot's steps zooms the other's.
    curves.loss_plot.setXRange(100, 150, padding=0)
    assert curves.f1_plot.viewRange()[0] == pytest.approx([100, 150])
    curves.stop()


def test_smoothing_redraws_the_loss_at_once_with_the_raw_curve_faint_behind(qtbot):
    from studio.ui.plots import DEFAULT_SMOOTHING, LiveCurves

    curves = LiveCurves()
    qtbot.addWidget(curves.loss_plot)
    qtbot.addWidget(curves.smoothing)
    curves.start(100)
    noisy = 0.7 + 0.2 * np.sin(np.arange(60) * 2.5)  # a loss that jumps about from batch to batch
    for step, loss in enumerate(noisy, start=1):
        curves.add_loss(step, loss)
    qtbot.waitUntil(lambda: _points(curves.train_loss.item) == 60)
    raw_x, raw_y = curves.train_loss.raw_item.getData()
    assert np.allclose(raw_y, noisy) and np.allclose(raw_x, np.arange(1, 61))
    assert curves.train_loss.raw_item.opts["pen"].color().alpha() < 255, "the raw curve is faint"
    slider, value = curves.smoothing.slider, curves.smoothing.value_label
    assert slider.value() == round(DEFAULT_SMOOTHING * 100) and value.text() == "0.60"
    assert np.allclose(curves.train_loss.item.getData()[1], _ema(noisy, 0.6))
    assert np.ptp(curves.train_loss.item.getData()[1][10:]) < np.ptp(noisy[10:]) / 2

    curves.stop()  # no timer now: the control redraws by itself
    slider.setFocus()
    qtbot.keyClick(slider, Qt.Key.Key_End)
    assert value.text() == "0.99"
    assert np.allclose(curves.train_loss.item.getData()[1], _ema(noisy, 0.99))
    assert np.allclose(curves.train_loss.raw_item.getData()[1], noisy), "the raw curve is still drawn"
    qtbot.keyClick(slider, Qt.Key.Key_Home)
    assert value.text() == "0.00" and np.allclose(curves.train_loss.item.getData()[1], noisy)

    # Points logged after the control moved go on from the re-smoothed curve.
    qtbot.keyClick(slider, Qt.Key.Key_PageUp)
    curves.add_loss(61, 0.1)
    curves.add_loss(62, float("nan"))  # a NaN loss takes no weight; the curve carries on
    curves.redraw()
    assert np.allclose(curves.train_loss.item.getData()[1], _ema([*noisy, 0.1, float("nan")], 0.1))
    curves.reset()
    assert _points(curves.train_loss.item) == 0 and _points(curves.train_loss.raw_item) == 0


def _ema(values, weight: float) -> list[float]:
    """TensorBoard's smoothing written out point by point: the reference for the numpy one."""
    out, last, seen = [], 0.0, 0
    for value in values:
        if np.isfinite(value):
            last, seen = last * weight + (1 - weight) * value, seen + 1
        out.append(last / (1 - weight**seen) if weight else last)
    return out


def test_the_train_page_places_the_smoothing_control_under_the_plots(qtbot, window):
    from PySide6.QtWidgets import QSlider

    from tests.ui.conftest import find

    window.show_page("Train")
    slider = find(window, "smoothingSlider", QSlider)
    qtbot.waitUntil(slider.isVisible)
    loss_plot = find(window, "lossPlot")
    below = loss_plot.mapTo(window, loss_plot.rect().bottomLeft()).y()
    assert slider.mapTo(window, slider.rect().topLeft()).y() >= below
    assert slider.width() >= 150


# PySide6 6.12 only binds QDragEnterEvent's QPoint constructor, which it marks deprecated.
@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_a_csv_dropped_on_the_training_field_loads(qtbot, window, small_csv):
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(small_csv))])
    field = window.data_page.train_edit
    enter = QDragEnterEvent(
        QPoint(5, 5), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier
    )
    drop = QDropEvent(
        QPointF(5, 5), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier
    )
    # Qt delivers drop events only during a real drag, so the handlers are called as the drag would call them.
    field.dragEnterEvent(enter)
    assert enter.isAccepted()
    field.dropEvent(drop)
    assert drop.isAccepted() and field.text() == str(small_csv)
    qtbot.waitUntil(lambda: window.data_page.loaded() is not None and window.data_page.loaded().table.path == small_csv)


@pytest.mark.qt_log_ignore("propagateSizeHints")
def test_an_unexpected_error_shows_a_dialog_goes_to_the_log_and_the_app_lives_on(qtbot, tmp_path, caplog):
    from studio.ui.app import ErrorReporter

    reporter = ErrorReporter(tmp_path / "studio.log")
    try:
        raise ZeroDivisionError("boom")
    except ZeroDivisionError:
        with caplog.at_level(logging.ERROR, logger="studio"):
            reporter.excepthook(*sys.exc_info())
    assert "ZeroDivisionError: boom" in caplog.text
    dialogs = [w for w in QApplication.topLevelWidgets() if w.objectName() == "errorDialog" and w.isVisible()]
    assert len(dialogs) == 1
    box = dialogs[0]
    qtbot.addWidget(box)
    assert isinstance(box, QMessageBox) and "boom" in box.text() and str(tmp_path / "studio.log") in box.text()
    reporter.excepthook(ValueError, ValueError("second"), None)  # while one is open: logged, no second dialog
    assert len([w for w in QApplication.topLevelWidgets() if w.objectName() == "errorDialog" and w.isVisible()]) == 1


def test_an_export_into_a_busy_folder_gets_a_folder_of_its_own(tmp_path):
    from studio.ui.pages.export_panel import export_destination

    assert export_destination(tmp_path / "new", "run") == str(tmp_path / "new")
    (tmp_path / "empty").mkdir()
    assert export_destination(tmp_path / "empty", "run") == str(tmp_path / "empty")
    (tmp_path / "earlier").mkdir()
    (tmp_path / "earlier" / "config.json").write_text("{}")
    assert export_destination(tmp_path / "earlier", "run") == str(tmp_path / "earlier")
    busy = tmp_path / "models"
    busy.mkdir()
    (busy / "notes.txt").write_text("mine")
    assert export_destination(busy, "run") == str(busy / "run-model")
    (busy / "run-model").mkdir()
    assert export_destination(busy, "run") == str(busy / "run-model-2")


def test_recent_training_files_come_back_from_the_menu(qtbot, window, small_csv):
    from tests.ui.conftest import wait_for_data

    wait_for_data(qtbot, window)  # the sample
    window.data_page.load_train(str(small_csv))
    wait_for_data(qtbot, window, small_csv)
    menu = window.data_page.recent_menu
    menu.aboutToShow.emit()
    paths = [a.data() for a in menu.actions()]
    assert paths[0] == str(small_csv) and paths[1].endswith("sample_sms_spam.csv")
    menu.triggered.emit(menu.actions()[1])
    qtbot.waitUntil(lambda: window.data_page.loaded().table.path.name == "sample_sms_spam.csv")
