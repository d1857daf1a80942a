"""Screenshots of every page: drive the app, train the built-in model on the sample for one epoch, grab each page;
then each task's Data page (the shared datasets), Train plot, Evaluate view and Inference tab.

    xvfb-run -a -s "-screen 0 1600x1000x24" .venv/bin/python tools/take_screenshots.py [OUT_DIR] [--tasks-only]
        [--methods-only] [--check-only] [--why-only]

--tasks-only skips the training run and takes only the task screens. --methods-only takes only the fine-tuning
methods' screens: the Train page's layer map in each mode (2 frozen layers, gradual unfreezing, layer-wise decay,
LoRA, a 12-layer model at the default window size), a refused setting, a run's learning-rate plot and layer map
fed from events, and the Data page's suggestion for rare classes. The task screens' figures are made up to
show the layout (their run is named "layout-sample"): the Evaluate views are filled from metrics dicts in the
engine's formats built from the shared datasets' own labels and sentences, the Train plot from events, and the
Inference tab uses tiny models whose outputs are fixed (tests/ui/task_models.py). The shared datasets are read
from ../shared/data; screens whose data is missing are skipped.

Runs on a temporary STUDIO_HOME so the user's settings and runs are untouched. Look at the PNGs after a UI change.
"""

import csv
import math
import os
import random
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("STUDIO_HOME", tempfile.mkdtemp(prefix="studio-shots-"))
REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # tests.ui.task_models, for the Inference tab's tiny models

from PySide6.QtCore import QEventLoop, Qt, QTimer  # noqa: E402 (after STUDIO_HOME is set)
from PySide6.QtTest import QTest  # noqa: E402 (after STUDIO_HOME is set)

from studio.core import events as ev  # noqa: E402 (after STUDIO_HOME is set)
from studio.ui.app import create_application  # noqa: E402 (after STUDIO_HOME is set)
from studio.ui.main_window import MainWindow  # noqa: E402 (after STUDIO_HOME is set)

SHARED = REPO.parent / "shared" / "data"
args = [a for a in sys.argv[1:] if not a.startswith("--")]
TASKS_ONLY = "--tasks-only" in sys.argv
METHODS_ONLY = "--methods-only" in sys.argv
CHECK_ONLY = "--check-only" in sys.argv
WHY_ONLY = "--why-only" in sys.argv  # the clickable results and "Why this prediction" (tools/shot_why.py)
OUT = Path(args[0] if args else "shots").resolve()
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


def take_training_run():
    """The original tour: the sample trained for one epoch, exported, tried; then errors where they happen."""
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


# Each task's screens --------------------------------------------------------------------------------------


def rows(path: Path) -> list[dict]:
    with open(path, encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def load_data(path: Path, name: str):
    page = w.data_page
    page.load_train(str(path))
    until(lambda: page.loaded() is not None and str(page.loaded().table.path) == str(path), timeout=120)
    until(lambda: page.current_check() is not None, timeout=120)
    shot("Data", name)


def choose_task(name: str, shot_name: str):
    page = w.data_page
    index = page.task.findData(name)
    page.task.setCurrentIndex(index)
    page.task.activated.emit(index)
    until(lambda: page.current_check() is not None and page.current_check().task == name, timeout=120)
    shot("Data", shot_name)


def scores(rng: random.Random, base: float) -> dict:
    precision = min(1.0, max(0.0, base + rng.uniform(-0.15, 0.15)))
    recall = min(1.0, max(0.0, base + rng.uniform(-0.15, 0.15)))
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1}


def common(task: str, labels: list[str]) -> dict:
    return {"task": task, "labels": labels, "train_seconds": 183.0, "device": "cpu", "epochs_completed": 3}


def multi_metrics(rng: random.Random) -> dict | None:
    path = SHARED / "goemotions" / "validation.csv"
    if not path.is_file():
        return None
    support: dict[str, int] = {}
    for row in rows(path):
        for name in row["label"].split(";"):
            support[name] = support.get(name, 0) + 1
    labels = sorted(support)
    per_label = {}
    for name in labels:
        per_label[name] = {**scores(rng, 0.25 + 0.5 * min(1.0, support[name] / 1500)), "support": support[name]}
        per_label[name]["threshold"] = round(rng.uniform(0.15, 0.55), 2)
    macro = sum(s["f1"] for s in per_label.values()) / len(per_label)
    return {
        **common("multi", labels),
        "f1": macro,
        "f1_micro": macro + 0.08,
        "precision": macro + 0.05,
        "recall": macro + 0.1,
        "loss": 0.0921,
        "per_label": per_label,
        "thresholds": {n: s["threshold"] for n, s in per_label.items()},
    }


def regression_metrics(rng: random.Random) -> dict | None:
    path = SHARED / "stsb" / "validation.csv"
    if not path.is_file():
        return None
    true = [float(r["label"]) for r in rows(path)][:2000]
    predicted = [min(5.3, max(-0.3, t + rng.gauss(0, 0.7))) for t in true]
    n = len(true)
    mse = sum((p - t) ** 2 for p, t in zip(predicted, true, strict=True)) / n
    mae = sum(abs(p - t) for p, t in zip(predicted, true, strict=True)) / n
    mt, mp = sum(true) / n, sum(predicted) / n
    cov = sum((t - mt) * (p - mp) for t, p in zip(true, predicted, strict=True))
    pearson = cov / math.sqrt(sum((t - mt) ** 2 for t in true) * sum((p - mp) ** 2 for p in predicted))
    return {
        **common("regression", ["label"]),
        "pearson": pearson,
        "spearman": pearson - 0.01,
        "mse": mse,
        "mae": mae,
        "loss": mse / 2.3,
        "scatter": {"true": true, "predicted": predicted},
    }


def pair_metrics(rng: random.Random) -> dict | None:
    labels = ["contradiction", "entailment", "neutral"]
    per_class = {name: {**scores(rng, 0.78), "support": 660 + 10 * i} for i, name in enumerate(labels)}
    confusion = [[520, 60, 84], [40, 560, 70], [90, 75, 501]]
    return {
        **common("pair", labels),
        "f1": sum(s["f1"] for s in per_class.values()) / 3,
        "accuracy": 0.79,
        "precision": 0.79,
        "recall": 0.79,
        "loss": 0.55,
        "per_class": per_class,
        "confusion": confusion,
    }


def _spans(tags: list[str]) -> list[list]:
    spans, start, kind = [], None, None
    for i, tag in enumerate([*tags, "O"]):
        if start is not None and not (tag.startswith("I-") and tag[2:] == kind):
            spans.append([kind, start, i])
            start = kind = None
        if tag.startswith("B-") or (tag.startswith("I-") and start is None):
            start, kind = i, tag[2:]
    return spans


def token_metrics(rng: random.Random) -> dict | None:
    path = SHARED / "ner_wikigold" / "validation.csv"
    if not path.is_file():
        return None
    types = ["PER", "LOC", "ORG", "MISC"]
    worst = []
    for row in rows(path):
        tokens, true = row["tokens"].split(" "), _spans(row["tags"].split(" "))
        if len(true) < 3 or len(tokens) > 40:
            continue
        # What a half-trained model does: one entity missed, one typed wrongly, the rest right.
        predicted = [list(s) for s in true[1:]]
        predicted[0][0] = next(t for t in types if t != predicted[0][0])
        worst.append({"tokens": tokens, "true": true, "predicted": predicted, "errors": 2})
        if len(worst) == 8:
            break
    per_entity = {t: {**scores(rng, 0.7), "support": 140 + 9 * i} for i, t in enumerate(types)}
    return {
        **common("token", ["O", *[f"{p}-{t}" for t in types for p in "BI"]]),
        "f1": 0.7213,
        "precision": 0.7011,
        "recall": 0.7426,
        "accuracy": 0.9502,
        "loss": 0.1873,
        "per_entity": per_entity,
        "worst": worst,
    }


def train_plot(task: str, main: str, steps: int = 120):
    """The Train page as a run of `task` draws it, fed its events."""
    page = w.train_page
    rng = random.Random(1)
    run_dir = str(Path(os.environ["STUDIO_HOME"]) / "runs" / f"layout-sample-{task}")
    page.on_event(ev.RunCreated(run_dir=run_dir))
    page.on_event(
        ev.RunStarted(
            run_dir=run_dir,
            total_steps=steps,
            train_rows=5749,
            validation_rows=1500,
            labels=("label",),
            device="cpu",
            precision="fp32",
            trainable_parameters=22_700_000,
            total_parameters=22_700_000,
            task=task,
        )
    )
    for step in range(1, steps + 1):
        loss = 1.2 * math.exp(-step / 40) + rng.uniform(0, 0.2)
        page.on_event(ev.LossLogged(step=step, epoch=step / 40, loss=loss, learning_rate=1e-4))
        if step % 20 == 0:
            value = 0.85 * (1 - math.exp(-step / 30))
            page.on_event(
                ev.Evaluated(
                    step=step,
                    epoch=step / 40,
                    loss=0.9 * math.exp(-step / 50) + 0.2,
                    task=task,
                    main=value,
                    scores={main: value, "spearman": value - 0.01, "mae": 1.1 - value},
                )
            )
    page.curves.stop()
    shot("Train", f"27_train_{task}")


def take_task_screens():
    rng = random.Random(42)
    datasets = [
        ("goemotions/train.csv", "20_data_multi"),
        ("stsb/train.csv", "21_data_regression"),
        ("snli_pairs/train.csv", "22_data_pair"),
        ("ner_wikigold/train.csv", "23_data_token"),
        ("ner_wikigold/validation.conll", "24_data_conll"),
    ]
    for relative, name in datasets:
        if (SHARED / relative).is_file():
            load_data(SHARED / relative, name)
    if (SHARED / "goemotions/train.csv").is_file():
        load_data(SHARED / "goemotions/train.csv", "25_data_multi_again")
        choose_task("single", "26_data_multi_as_single")

    train_plot("regression", "pearson")

    model_dir = Path(os.environ["STUDIO_HOME"]) / "runs" / "layout-sample" / "model"
    model_dir.mkdir(parents=True, exist_ok=True)
    for task, make in (
        ("multi", multi_metrics),
        ("regression", regression_metrics),
        ("pair", pair_metrics),
        ("token", token_metrics),
    ):
        metrics = make(rng)
        if metrics is not None:
            w.evaluate_page.show_results(str(model_dir), metrics)
            shot("Evaluate", f"30_evaluate_{task}")

    from tests.ui.task_models import make_task_model

    models = Path(os.environ["STUDIO_HOME"]) / "task-models"
    inputs = {
        "multi": ("I can't believe how happy this makes me, thank you so much!", None),
        "regression": ("A man is playing a guitar.", "A person plays an instrument."),
        "pair": ("A man is playing a guitar on stage.", "A musician performs."),
        "token": ("John Smith flew from Paris to London to meet the people at Google last week.", None),
    }
    for task, (text, pair) in inputs.items():
        folder = make_task_model(models / task, task)
        if task == "regression":
            # A pair regression model, as stsb trains one.
            import json

            config = json.loads((folder / "config.json").read_text())
            config["studio_pair_column"] = "text_pair"
            (folder / "config.json").write_text(json.dumps(config))
        page = w.inference_page
        page.set_model_folder(str(folder), f"Tiny {task} model")
        page.input.setPlainText(text)
        if pair is not None:
            page.pair_input.setPlainText(pair)
        before = page._predictor
        page.predict_button.click()
        until(lambda before=before, page=page: page._predictor is not before and page.predict_button.isEnabled())
        shot("Inference", f"40_inference_{task}")


# The fine-tuning methods' screens ------------------------------------------------------------------------


def map_shows(check, timeout=120):
    """Until the layer map has drawn the settings as they are now (its preview runs in the background)."""
    page = w.train_page
    until(lambda: page.layer_map.blocks() and check(page.layer_map.blocks()), timeout=timeout)
    spin(0.4)


def method_settings(**changes):
    """Back to the defaults, then these settings, as a user sets them on the form; only the sections used open."""
    from dataclasses import replace

    from studio.ui.settings import Hyperparameters

    form = w.train_page.form
    values = replace(Hyperparameters(), **{"epochs": 3.0, "evaluations_per_epoch": 2, **changes})
    form.set_values(values)
    for section in form.methods.sections:
        section.set_expanded(False)


def train_run_from_events(steps: int = 150):
    """A run of gradual unfreezing with warm-up and linear decay, fed as the engine's events, stopped mid-run."""
    from studio.core.layer_plan import training_now, with_state

    page = w.train_page
    plan = page.layer_map.blocks()
    run_dir = str(Path(os.environ["STUDIO_HOME"]) / "runs" / "layout-sample-methods")
    page.set_running(True)
    page.on_event(ev.RunCreated(run_dir=run_dir))
    page.on_event(
        ev.RunStarted(
            run_dir=run_dir,
            total_steps=steps,
            train_rows=720,
            validation_rows=80,
            labels=("ham", "spam"),
            device="cpu",
            precision="fp32",
            trainable_parameters=sum(b.parameters for b in plan if b.state == "trains"),
            total_parameters=sum(b.parameters for b in plan),
        )
    )
    page.on_event(ev.LayersPlanned(blocks=tuple(b.to_dict() for b in plan)))
    rng = random.Random(3)
    per_epoch = steps // 3
    peak, warmup = plan[-1].learning_rate, steps // 10
    before = training_now(plan, 0, 0.0)
    for step in range(1, steps + 1):
        epoch = step / per_epoch
        now = training_now(plan, step, epoch)
        started = tuple(b.name for b, was, is_ in zip(plan, before, now, strict=True) if is_ and not was)
        if started:
            count = sum(b.parameters for b, on in zip(with_state(plan, now), now, strict=True) if on)
            page.on_event(ev.BlocksUnfrozen(step=step, epoch=epoch, blocks=started, trainable_parameters=count))
        before = now
        rate = peak * step / warmup if step <= warmup else peak * (steps - step) / (steps - warmup)
        loss = 0.7 * math.exp(-step / 50) + rng.uniform(0, 0.12)
        page.on_event(ev.LossLogged(step=step, epoch=epoch, loss=loss, learning_rate=rate))
        page.on_event(ev.Progress(step=step, total_steps=steps, epoch=epoch, elapsed_s=step * 0.4, eta_s=None))
        if step % (per_epoch // 2) == 0:
            value = 0.92 * (1 - math.exp(-step / 40))
            page.on_event(
                ev.Evaluated(
                    step=step,
                    epoch=epoch,
                    loss=0.5 * math.exp(-step / 60) + 0.12,
                    main=value,
                    scores={"f1": value, "accuracy": value + 0.04},
                )
            )
        if step == steps * 2 // 3:
            break  # mid-run: the lowest blocks still wait
    page.curves.redraw()


def take_method_screens():
    """The Train page's layer map in each mode, a refused setting, a live run's plots, and the Data page's help."""
    form = w.train_page.form
    w.resize(1400, 860)
    w.show_page("Data")
    until(lambda: w.data_page.imbalance.isVisible(), timeout=120)
    shot("Data", "50_data_imbalance_suggestion")

    method_settings(freeze_layers=2)
    map_shows(lambda blocks: [b.state for b in blocks[:4]] == ["frozen", "frozen", "frozen", "trains"])
    shot("Train", "51_methods_frozen_2")

    method_settings(epochs=8.0, unfreeze_every=1, unfreeze_unit="epochs", scheduler="linear", warmup_ratio=0.1)
    form.methods.layers_section.set_expanded(True)
    form.methods.schedule_section.set_expanded(True)
    map_shows(lambda blocks: any(b.state == "unfreezes" for b in blocks))
    shot("Train", "52_methods_gradual_unfreezing")

    method_settings(layer_lr_decay=0.8)
    form.methods.layers_section.set_expanded(True)
    map_shows(lambda blocks: blocks[0].learning_rate < blocks[-1].learning_rate * 0.5)
    shot("Train", "53_methods_layer_decay_0.8")

    method_settings(lora=True, freeze_layers=2)
    form.methods.lora_section.set_expanded(True)
    map_shows(lambda blocks: any(b.state == "lora" for b in blocks))
    shot("Train", "54_methods_lora")

    method_settings(lora=True)
    form.methods.lora_section.set_expanded(True)
    form.methods.lora_rank.lineEdit().selectAll()
    QTest.keyClicks(form.methods.lora_rank, "0")
    spin(0.3)
    w.train_page.train_button.click()
    spin(0.3)
    shot("Train", "55_methods_refused_lora_rank_0")

    method_settings(unfreeze_every=20, unfreeze_unit="steps", unfreeze_start=1, warmup_ratio=0.1, layer_lr_decay=0.9)
    map_shows(lambda blocks: any(b.state == "unfreezes" for b in blocks))
    train_run_from_events()
    spin(0.5)
    shot("Train", "56_methods_run_lr_plot_and_unfreezing")
    page = w.train_page
    page.on_event(ev.Failed(message="Stopped for the screenshot."))
    page.set_running(False)

    # A 12-layer model at the window's default size: the map's 14 rows must fit (or scroll cleanly).
    from tests.conftest import make_tiny_model

    folder = make_tiny_model(Path(os.environ["STUDIO_HOME"]) / "twelve-layers", layers=12)
    w.model_page.source.setEditText(str(folder))
    w.model_page.inspect()
    until(lambda: w.model_page.info is not None and w.model_page.info.num_layers == 12, timeout=120)
    w.resize(1280, 820)
    method_settings(freeze_layers=2, layer_lr_decay=0.9)
    map_shows(lambda blocks: len(blocks) == 14 and blocks[0].state == "frozen")
    shot("Train", "57_methods_12_layers_default_size")
    method_settings(unfreeze_every=2, unfreeze_unit="steps", unfreeze_start=1)
    map_shows(lambda blocks: len(blocks) == 14 and any(b.state == "unfreezes" for b in blocks))
    shot("Train", "58_methods_12_layers_gradual_steps")
    w.resize(1400, 860)


def take_check_screens():
    """The Data page's pre-flight check: sms_spam rows with copies, conflicting labels and validation leaks
    planted; then a finding opened and one of its groups clicked, its rows selected in the preview."""
    source = SHARED / "sms_spam"
    if not (source / "train.csv").is_file():
        print("skipped the pre-flight screens: no sms_spam data", flush=True)
        return
    folder = Path(os.environ["STUDIO_HOME"]) / "check"
    folder.mkdir(parents=True, exist_ok=True)
    train = [(r["text"], r["label"]) for r in rows(source / "train.csv")[:1500]]
    validation = [(r["text"], r["label"]) for r in rows(source / "validation.csv")[:300]]
    words = train[30][0].split()
    train += [
        (train[11][0].upper(), train[11][1]),  # the same words, shouted
        (" ".join([*words[:4], "tomorrow", *words[5:]]), train[30][1]),  # one word changed
        (train[60][0], "spam" if train[60][1] == "ham" else "ham"),  # the same text, the other label
        ("", "ham"),
    ]
    validation += [train[100], (train[200][0].lower(), train[200][1])]
    paths = {}
    for name, data in (("train", train), ("validation", validation)):
        paths[name] = folder / f"sms_{name}.csv"
        with open(paths[name], "w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(["text", "label"])
            writer.writerows(data)
    page = w.data_page
    page.load_validation(str(paths["validation"]))
    page.load_train(str(paths["train"]))
    until(lambda: page.loaded() is not None and str(page.loaded().table.path) == str(paths["train"]), timeout=120)

    def checked():
        report = page.preflight_report()
        return report is not None and report.validation is not None

    until(checked, timeout=300)
    shot("Data", "60_data_preflight")
    tree = page.findings.tree
    for i in range(tree.topLevelItemCount()):
        item = tree.topLevelItem(i)
        if item.text(0).startswith("Duplicate texts"):
            tree.expandItem(item)
            spin(0.2)
            child = item.child(item.childCount() - 1)
            tree.scrollToItem(child)
            QTest.mouseClick(tree.viewport(), Qt.MouseButton.LeftButton, pos=tree.visualItemRect(child).center())
            break
    shot("Data", "61_data_preflight_group_selected")
    w.resize(1280, 820)
    shot("Data", "62_data_preflight_default_size")
    w.resize(1400, 860)


if CHECK_ONLY:
    until(lambda: w.data_page.loaded() is not None, timeout=300)
    take_check_screens()
elif WHY_ONLY:
    from tools.shot_why import take_why_screens

    until(lambda: w.data_page.loaded() is not None, timeout=300)
    take_why_screens(w, shot, until, spin, OUT)
elif METHODS_ONLY:
    until(lambda: w.model_page.info is not None and w.data_page.loaded() is not None, timeout=300)
    take_method_screens()
elif not TASKS_ONLY:
    until(lambda: w.model_page.info is not None and w.data_page.loaded() is not None)
    take_training_run()
    take_task_screens()
else:
    until(lambda: w.data_page.loaded() is not None)
    take_task_screens()
w.close()
