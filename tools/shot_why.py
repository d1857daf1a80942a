"""Screenshots of the clickable results and "Why this prediction": take_screenshots.py --why-only calls
take_why_screens(). Trains small real runs (a tiny model on trec, goemotions and wikigold, the built-in model on a
few hundred sms_spam rows), clicks a confusion-matrix cell, a label and an entity type, opens a row in the Inference
tab and explains it.

    xvfb-run -a -s "-screen 0 1600x1000x24" .venv/bin/python tools/take_screenshots.py OUT_DIR --why-only
"""

from __future__ import annotations

import csv
import random
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "data"


def _subset(source: Path, dest: Path, n: int, seed: int = 0) -> Path:
    with open(source, encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle))
    header, body = rows[0], rows[1:]
    random.Random(seed).shuffle(body)
    with open(dest, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(body[:n])
    return dest


def _train(folder: Path, name: str, rows: int, model: str, task: str | None, **settings):
    from studio.core.config import TrainConfig
    from studio.core.training import run_training

    train = _subset(SHARED / name / "train.csv", folder / f"{name}.csv", rows)
    config = TrainConfig(train_csv=str(train), model=model, task=task, validation_share=0.2, **settings)
    return run_training(config)


def take_why_screens(w, shot, until, spin, out: Path) -> None:
    from tests.conftest import make_tiny_model

    work = out / "why-work"
    work.mkdir(parents=True, exist_ok=True)
    tiny = str(make_tiny_model(work / "tiny", layers=2))
    evaluate, inference = w.pages.evaluate, w.pages.inference
    # What the lead wires in main_window: a row opened from the Evaluate page is tried on the Inference tab.
    evaluate.open_in_inference.connect(lambda text: (w.show_page("Inference"), inference.show_text(text)))

    if (SHARED / "trec" / "train.csv").is_file():
        run = _train(work, "trec", 700, tiny, "single", epochs=2, batch_size=16, max_length=32, learning_rate=2e-3)
        evaluate.show_results(str(run.model_dir), run.metrics)
        w.show_page("Evaluate")
        spin(0.6)
        matrix = run.metrics["confusion"]
        n = len(matrix)
        i, j = max(((i, j) for i in range(n) for j in range(n) if i != j), key=lambda c: matrix[c[0]][c[1]])
        heat = evaluate.heatmap
        QTest.mouseClick(heat.viewport(), Qt.MouseButton.LeftButton, pos=heat.cell_center(i, j))
        until(lambda: evaluate.cell_rows.proxy.rowCount() == matrix[i][j] and evaluate._rows is not None, 300)
        shot("Evaluate", "70_evaluate_cell_rows")
        header = evaluate.cell_rows.table.horizontalHeader()
        x = header.sectionViewportPosition(3) + header.sectionSize(3) // 2
        from PySide6.QtCore import QPoint

        QTest.mouseClick(header.viewport(), Qt.MouseButton.LeftButton, pos=QPoint(x, header.height() // 2))
        table = evaluate.cell_rows.table
        QTest.mouseClick(
            table.viewport(), Qt.MouseButton.LeftButton, pos=table.visualRect(table.model().index(0, 0)).center()
        )
        shot("Evaluate", "71_evaluate_cell_rows_sorted_selected")

    if (SHARED / "goemotions" / "train.csv").is_file():
        run = _train(work, "goemotions", 600, tiny, "multi", epochs=1, batch_size=16, max_length=32)
        evaluate.show_results(str(run.model_dir), run.metrics)
        w.show_page("Evaluate")
        spin(0.4)
        table = evaluate.per_label
        QTest.mouseClick(
            table.viewport(), Qt.MouseButton.LeftButton, pos=table.visualItemRect(table.item(0, 0)).center()
        )
        until(lambda: evaluate._rows is not None and evaluate._rows.task == "multi", 300)
        spin(0.3)
        shot("Evaluate", "72_evaluate_label_rows")

    if (SHARED / "ner_wikigold" / "train.csv").is_file():
        run = _train(
            work, "ner_wikigold", 400, tiny, "token", epochs=2, batch_size=16, max_length=64, learning_rate=2e-3
        )
        evaluate.show_results(str(run.model_dir), run.metrics)
        w.show_page("Evaluate")
        spin(0.4)
        table = evaluate.per_entity
        QTest.mouseClick(
            table.viewport(), Qt.MouseButton.LeftButton, pos=table.visualItemRect(table.item(0, 0)).center()
        )
        until(lambda: evaluate._rows is not None and evaluate._rows.task == "token", 300)
        spin(0.3)
        shot("Evaluate", "73_evaluate_entity_rows")

    # The built-in model, trained a little on spam, explains a spam message.
    from studio.core.modeling import builtin_model_path

    run = _train(
        work,
        "sms_spam",
        400,
        str(builtin_model_path()),
        "single",
        epochs=1,
        batch_size=16,
        max_length=64,
        learning_rate=1e-4,
    )
    evaluate.show_results(str(run.model_dir), run.metrics)
    inference.set_model_folder(str(run.model_dir), "Run sms_spam (built-in model)")
    w.show_page("Evaluate")
    spin(0.4)
    matrix = run.metrics["confusion"]
    labels = run.metrics["labels"]
    spam = labels.index("spam") if "spam" in labels else 1
    heat = evaluate.heatmap
    QTest.mouseClick(heat.viewport(), Qt.MouseButton.LeftButton, pos=heat.cell_center(spam, spam))
    until(lambda: evaluate._rows is not None and evaluate.cell_rows.proxy.rowCount() == matrix[spam][spam], 300)
    shot("Evaluate", "74_evaluate_spam_cell")
    table = evaluate.cell_rows.table
    if table.model().rowCount():
        QTest.mouseClick(
            table.viewport(), Qt.MouseButton.LeftButton, pos=table.visualRect(table.model().index(0, 0)).center()
        )
        evaluate.cell_rows.open_button.click()
    else:
        inference.show_text("WINNER!! You have been selected to receive a £900 prize reward. Call 09061701461 now")
    until(lambda: bool(inference.output.text()) and inference.explain_button.isEnabled(), 300)
    shot("Inference", "75_inference_opened_row")
    inference.explain_button.click()
    spin(0.3)
    shot("Inference", "76_inference_explaining")
    until(lambda: bool(inference.attribution.shown_words()), 600)
    shot("Inference", "77_inference_why")
    inference.explain_tabs.setCurrentIndex(1)
    inference.attention.layer.setValue(3)
    inference.attention.head.setValue(5)
    shot("Inference", "78_inference_attention")
    inference.explain_tabs.setCurrentIndex(0)
