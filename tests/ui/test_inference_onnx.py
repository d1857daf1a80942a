"""The Inference tab on an ONNX export: a typed text and a whole CSV through the real widgets, no Explain."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFileDialog, QPushButton, QTableWidget

from tests.core.test_onnx import train_tiny_run
from tests.ui.conftest import find


@pytest.fixture(scope="module")
def onnx_export(tmp_path_factory) -> tuple[Path, Path]:
    """(the run's PyTorch model folder, its fp32 ONNX export) of a tiny single-label model."""
    from studio.core.onnx_export import export_onnx

    home = tmp_path_factory.mktemp("onnx-inference")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("STUDIO_HOME", str(home))
        run = train_tiny_run("single", home)
        export_onnx(run, home / "onnx")
    return run / "model", home / "onnx"


def _predict(qtbot, window, folder: Path, text: str) -> None:
    window.show_page("Inference")
    window.inference_page.set_model_folder(str(folder))
    find(window, "inferenceInput").setPlainText(text)
    button = find(window, "predictButton", QPushButton)
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: button.isEnabled(), timeout=60_000)


def test_an_onnx_export_predicts_a_text_and_a_csv_without_explanations(
    qtbot, window, onnx_export, tmp_path, monkeypatch
):
    from studio.core.inference import Predictor
    from studio.core.onnx_predict import OnnxPredictor

    model, folder = onnx_export
    text = "great lovely day fine river"
    expected = Predictor(model, device="cpu").predict([text])[0]
    _predict(qtbot, window, folder, text)

    assert find(window, "inferenceStatus").text() == ""
    assert isinstance(window.inference_page._predictor, OnnxPredictor)
    assert find(window, "predictionOutput").text() == expected.label
    assert f"{expected.score * 100:.1f}% sure" in find(window, "predictionScore").text()
    table = find(window, "probabilityTable", QTableWidget)
    assert {table.item(r, 0).text() for r in range(table.rowCount())} == set(expected.probabilities)
    # Explanations read the PyTorch model: off, with one sentence saying why.
    assert not find(window, "explainButton", QPushButton).isEnabled()
    assert not find(window, "explainTabs").isEnabled()
    message = window.inference_page.attribution.status.text()
    assert "ONNX export" in message and "PyTorch" in message and "\n" not in message

    source = tmp_path / "texts.csv"
    texts = ["awful mess night city", "great lovely day", "fine river"]
    source.write_text("id,text\n" + "".join(f"{i},{t}\n" for i, t in enumerate(texts)), encoding="utf-8")
    dest = tmp_path / "out.csv"
    monkeypatch.setattr(QFileDialog, "getOpenFileName", staticmethod(lambda *a, **k: (str(source), "")))
    monkeypatch.setattr(QFileDialog, "getSaveFileName", staticmethod(lambda *a, **k: (str(dest), "")))
    qtbot.mouseClick(find(window, "predictCsvButton", QPushButton), Qt.MouseButton.LeftButton)
    status = find(window, "csvStatus")
    qtbot.waitUntil(lambda: "Wrote" in status.text() or status.has_error(), timeout=60_000)
    assert "Wrote 3 predictions" in status.text(), status.text()
    with open(dest, encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [r["predicted_label"] for r in rows] == [p.label for p in Predictor(model, device="cpu").predict(texts)]

    # Back to the PyTorch folder: Explain is offered again.
    _predict(qtbot, window, model, text)
    assert find(window, "explainButton", QPushButton).isEnabled() and find(window, "explainTabs").isEnabled()
    # A threshold saved into that folder: the page loads it again on the next prediction.
    window.inference_page.model_changed_on_disk(str(folder))
    assert window.inference_page._predictor is not None
    window.inference_page.model_changed_on_disk(str(model))
    assert window.inference_page._predictor is None


def test_a_damaged_onnx_export_is_one_sentence_in_the_tab(qtbot, window, onnx_export, tmp_path):
    _, folder = onnx_export
    damaged = Path(shutil.copytree(folder, tmp_path / "damaged"))
    (damaged / "model.onnx").write_bytes(b"not an onnx graph")
    _predict(qtbot, window, damaged, "great lovely day")
    status = find(window, "inferenceStatus")
    assert status.has_error() and "cannot be loaded" in status.text() and "export the model again" in status.text()
    assert "Traceback" not in status.text() and find(window, "predictionOutput").text() == ""


def test_a_tuned_threshold_that_chooses_the_less_likely_class_is_named(qtbot, window, onnx_export, tmp_path):
    """Spam at 47 % is a surprise next to ham's 53 % bar unless the tab says a tuned threshold decided it."""
    from studio.core.inference import Predictor
    from studio.core.thresholds import set_threshold

    model, _folder = onnx_export
    copy = shutil.copytree(model, tmp_path / "model")
    text = "great lovely day fine river"
    before = Predictor(copy, device="cpu")
    second = before.predict([text])[0].probabilities[before.labels[1]]
    # Just past the text's probability, on the side that flips the likelier class.
    threshold = second - 0.01 if second < 0.5 else second + 0.01
    set_threshold(copy, threshold)
    after = Predictor(copy, device="cpu")
    name = after.threshold_label
    expected = after.predict([text])[0]
    assert expected.label != max(expected.probabilities, key=expected.probabilities.get)

    _predict(qtbot, window, copy, text)
    assert find(window, "predictionOutput").text() == expected.label
    score = find(window, "predictionScore").text()
    assert score.startswith(f"({expected.score * 100:.1f}% sure; ")
    assert f"{name} from {threshold * 100:.1f}%, the model's tuned threshold" in score
