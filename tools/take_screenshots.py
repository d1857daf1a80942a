"""Screenshots of every page: drive the app, train the built-in model on the sample for one epoch, grab each page.

    xvfb-run -a -s "-screen 0 1600x1000x24" .venv/bin/python tools/take_screenshots.py [OUT_DIR]   # default shots/

Runs on a temporary STUDIO_HOME so the user's settings and runs are untouched. Look at the PNGs after a UI change.
"""

import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("STUDIO_HOME", tempfile.mkdtemp(prefix="studio-shots-"))

from PySide6.QtCore import QEventLoop, QTimer
from PySide6.QtTest import QTest

from studio.ui.app import create_application
from studio.ui.main_window import MainWindow

OUT = Path(sys.argv[1] if len(sys.argv) > 1 else "shots").resolve()
OUT.mkdir(parents=True, exist_ok=True)
app = create_application([])
w = MainWindow()
w.resize(1400, 860)
w.move(0, 0)
w.show()


def spin(seconds):
    loop = QEventLoop()
    QTimer.singleShot(int(seconds * 1000), loop.quit)
    loop.exec()


def until(cond, timeout=600):
    end = time.time() + timeout
    while not cond():
        if time.time() > end:
            raise TimeoutError
        spin(0.1)


def shot(page, name):
    w.show_page(page)
    spin(0.6)
    w.grab().save(str(OUT / f"{name}.png"))
    print("saved", name, flush=True)


until(lambda: w.model_page.info is not None and w.data_page.loaded() is not None)

shot("Model", "01_model")
shot("Data", "02_data")

form = w.train_page.form
form.epochs.setValue(1)
form.learning_rate.setValue(1e-4)
form.evaluations.setValue(4)
form.frozen_layers.setValue(2)
shot("Train", "03_train_ready")

w.train_page.train_button.click()
until(lambda: len(w.train_page.curves.validation_loss.series) >= 2, timeout=1200)
shot("Train", "04_train_during")
loop = QEventLoop()
w.training.idle.connect(loop.quit)
if w.training.is_running():
    loop.exec()
spin(0.5)
shot("Train", "05_train_done")
w.train_page.tabs.setCurrentIndex(1)
shot("Train", "06_train_runs")
w.train_page.tabs.setCurrentIndex(0)
# The smoothing control at its strongest, then back to its default.
w.train_page.curves.smoothing.slider.setValue(95)
shot("Train", "06b_train_smoothed")
w.train_page.curves.smoothing.slider.setValue(60)
# A new folder, typed by name as a user would; the export runs in the background.
export_to = Path(os.environ["STUDIO_HOME"]) / "models" / "spam filter"
w.show_page("Evaluate")
w.evaluate_page.export_path.selectAll()
QTest.keyClicks(w.evaluate_page.export_path, str(export_to))
w.evaluate_page.export_button.click()
until(lambda: w.evaluate_page.export_button.isEnabled(), timeout=120)
shot("Evaluate", "07_evaluate_exported")

w.show_page("Inference")
w.inference_page.input.setPlainText(
    "WINNER!! You have been selected to receive a £900 prize reward. Call 09061701461 to claim now"
)
w.inference_page.predict_button.click()
until(lambda: bool(w.inference_page.output.text()), timeout=300)
shot("Inference", "08_inference")

# Errors, shown where they happen.
bad = OUT / "not_a_table.csv"
bad.write_text("just one column\nhello\n", encoding="utf-8")
w.data_page.load_train(str(bad))
until(lambda: w.data_page.train_message.has_error())
shot("Data", "09_data_error")
empty = OUT / "empty_model_folder"
empty.mkdir(exist_ok=True)
w.model_page.source.setEditText(str(empty))
w.model_page.inspect()
until(lambda: w.model_page.status.has_error())
shot("Model", "10_model_error")
w.model_page.source.setCurrentIndex(0)
w.model_page.inspect()
until(lambda: w.model_page.info is not None)
w.train_page.form.learning_rate.lineEdit().selectAll()
QTest.keyClicks(w.train_page.form.learning_rate, "-1")
shot("Train", "11_train_bad_rate")
w.train_page.form.learning_rate.setValue(1e-4)
bad.unlink()
empty.rmdir()
w.close()
