"""Screenshots of the Search page on its own, at 1400x900: a refused space, during and after a tiny real search.

    xvfb-run -a -s "-screen 0 1600x1000x24" .venv/bin/python tools/shot_search_page.py [OUT_DIR]

The search trains a tiny random BERT (tests/conftest.py's make_tiny_model) on 240 rows of the sample dataset:
6 random trials over the learning rate (log scale) and the batch size, with pruning. Runs on a temporary
STUDIO_HOME so the user's settings and runs are untouched. Look at the PNGs after a change to the page.
"""

import csv
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("STUDIO_HOME", tempfile.mkdtemp(prefix="studio-search-shots-"))
if os.environ.get("DISPLAY"):
    os.environ.setdefault("QT_QPA_PLATFORM", "xcb")  # before tests.conftest, which would choose offscreen
REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from PySide6.QtCore import QEventLoop, QTimer  # noqa: E402 (after STUDIO_HOME is set)

from studio.core.config import TrainConfig  # noqa: E402
from studio.ui.app import create_application  # noqa: E402
from studio.ui.pages.search_page import SearchPage  # noqa: E402
from tests.conftest import SAMPLE_CSV, make_tiny_model, write_csv  # noqa: E402

OUT = Path(sys.argv[1] if len(sys.argv) > 1 else "shots/search").resolve()
OUT.mkdir(parents=True, exist_ok=True)
WORK = Path(tempfile.mkdtemp(prefix="search-shot-data-"))


def spin(seconds: float) -> None:
    loop = QEventLoop()
    QTimer.singleShot(int(seconds * 1000), loop.quit)
    loop.exec()


def until(cond, timeout: float = 600) -> None:
    end = time.time() + timeout
    while not cond():
        if time.time() > end:
            raise SystemExit(f"timed out waiting for {cond}")
        spin(0.1)


def shot(name: str) -> None:
    spin(0.4)  # the plots' and the table's last paint
    path = OUT / f"{name}.png"
    page.grab().save(str(path))
    print(path)


with open(SAMPLE_CSV, encoding="utf-8", newline="") as f:
    rows = list(csv.reader(f))
data = write_csv(WORK / "train.csv", [tuple(r) for r in rows[1:241]], header=tuple(rows[0]))
model = make_tiny_model(WORK / "tiny-bert")
base = TrainConfig(train_csv=str(data), model=str(model), epochs=2, batch_size=16, max_length=48)

app = create_application([])
page = SearchPage(base_config=lambda: base)
page.set_base_config(base)
page.resize(1400, 900)
page.move(0, 0)
page.show()
spin(0.5)

# A refused space: the row says why, and Start says it too.
lr = page.space.rows[0]
lr.low.setText("1e-2")
lr.high.setText("1e-4")
page.start_button.click()
shot("search-refused")

lr.low.setText("1e-4")
lr.high.setText("3e-2")
batch = page.space.add_row("batch_size")
batch.values.setText("8, 16, 32")
page.method.setCurrentIndex(page.method.findData("random"))
page.trials.setValue(6)
page.prune.setChecked(True)
page.folder.setText(str(WORK / "search"))
page.start_button.click()
until(lambda: sum(r["state"] in ("complete", "pruned") for r in page.trial_rows()) >= 3)
until(lambda: any(r["state"] == "running" for r in page.trial_rows()) and "step" in page.progress.format())
shot("search-running")
until(lambda: not page.is_running())
shot("search-done")
page.shutdown()
