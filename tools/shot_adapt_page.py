"""Screenshots of the Adapt page on its own, at 1400x900: a refused corpus, during and after a tiny real adaptation.

    xvfb-run -a -s "-screen 0 1600x1000x24" .venv/bin/python tools/shot_adapt_page.py [OUT_DIR]

The adaptation trains a tiny random BERT classifier (tests/conftest.py's make_tiny_model; it gets a fresh masked-LM
head) on the text column of the sample dataset the app ships, for 120 steps of 16 blocks of 32 tokens. Runs on a
temporary STUDIO_HOME so the user's settings and runs are untouched. Look at the PNGs after a change to the page.
"""

import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("STUDIO_HOME", tempfile.mkdtemp(prefix="studio-adapt-shots-"))
if os.environ.get("DISPLAY"):
    os.environ.setdefault("QT_QPA_PLATFORM", "xcb")  # before tests.conftest, which would choose offscreen
REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from PySide6.QtCore import QEventLoop, QTimer  # noqa: E402 (after STUDIO_HOME is set)

from studio.ui.app import create_application  # noqa: E402
from studio.ui.pages.adapt_page import AdaptPage  # noqa: E402
from tests.conftest import SAMPLE_CSV, make_tiny_model  # noqa: E402

OUT = Path(sys.argv[1] if len(sys.argv) > 1 else "shots/adapt").resolve()
OUT.mkdir(parents=True, exist_ok=True)
WORK = Path(tempfile.mkdtemp(prefix="adapt-shot-data-"))


def spin(seconds: float) -> None:
    loop = QEventLoop()
    QTimer.singleShot(int(seconds * 1000), loop.quit)
    loop.exec()


def until(cond, timeout: float = 900) -> None:
    end = time.time() + timeout
    while not cond():
        if time.time() > end:
            raise SystemExit(f"timed out waiting for {cond}")
        spin(0.1)


def shot(name: str) -> None:
    spin(0.5)  # the plots' timer and the last paint
    path = OUT / f"{name}.png"
    page.grab().save(str(path))
    print(path)


model = make_tiny_model(WORK / "tiny-bert")
app = create_application([])
page = AdaptPage(model_spec=lambda: str(model))
page.resize(1400, 900)
page.move(0, 0)
page.show()
spin(0.5)

# A corpus of a few words: refused with a sentence, nothing made.
few = WORK / "notes.txt"
few.write_text("ticket 1: printer offline\nticket 2: password reset\n", encoding="utf-8")
page.corpus.setText(str(few))
page.output.setText(str(WORK / "adapted"))
page.start_button.click()
until(lambda: not page.is_running() and page.status.has_error(), timeout=300)
shot("adapt-refused")

page.set_training_data("", None)
page.corpus.setText("")
page.set_training_data(str(SAMPLE_CSV), "text")  # what the window does with the training file
page.length_kind.setCurrentIndex(page.length_kind.findData("steps"))
page.steps.setValue(120)
page.max_length.setValue(32)
page.learning_rate.setValue(3e-3)
page.whole_word.setChecked(True)
page.start_button.click()
until(lambda: page.points()["perplexity"] >= 3)
shot("adapt-running")
until(lambda: not page.is_running())
shot("adapt-done")
page.shutdown()
