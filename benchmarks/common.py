"""Shared helpers of the benchmarks: environment, data subsets, timing, tables, JSON output, child processes,
and the reference script's Trainer (the way the HF text-classification example runs)."""

from __future__ import annotations

import csv
import json
import math
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"
CHILD_MARK = "BENCH_CHILD_RESULT "

# The datasets the benchmarks know: (train file, validation file) under SHARED_DATA.
DATASETS = {
    "sms_spam": ("sms_spam/train.csv", "sms_spam/validation.csv"),
    # ag_news has no validation split: a stratified slice of its test file serves (the training rows stay whole).
    "ag_news": ("ag_news/train.csv", "ag_news/test.csv"),
}


def setup_environment() -> None:
    """No network, no tokenizer thread pools fighting torch's, no stray prompts. Call before heavy imports."""
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
    if str(REPO) not in sys.path:
        sys.path.insert(0, str(REPO))


# Data ----------------------------------------------------------------------------------------------------


def scratch_home(name: str) -> tuple[tempfile.TemporaryDirectory, Path]:
    """A temporary folder for the benchmark (cleaned up with the returned holder), with STUDIO_HOME inside it, set
    before studio.core.paths is used: runs and caches never touch the user's."""
    holder = tempfile.TemporaryDirectory(prefix=f"studio-bench-{name}-")
    tmp = Path(holder.name)
    os.environ["STUDIO_HOME"] = str(tmp / "studio-home")
    return holder, tmp


def read_rows(path: str | Path) -> tuple[list[str], list[str]]:
    """(texts, labels) of a `text,label` CSV."""
    with open(path, newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        texts, labels = [], []
        for row in reader:
            texts.append(row["text"])
            labels.append(row["label"])
    return texts, labels


def write_rows(path: str | Path, texts: list[str], labels: list[str]) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["text", "label"])
        writer.writerows(zip(texts, labels, strict=False))
    return path


def write_repeated_csv(source: str | Path, rows: int, dest: str | Path) -> Path:
    """A large CSV as a user's big file would be: the rows of `source` repeated until there are `rows`."""
    with open(source, newline="", encoding="utf-8") as handle:
        reader = csv.reader(handle)
        header = next(reader)
        body = list(reader)
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    with open(dest, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        for i in range(rows):
            writer.writerow(body[i % len(body)])
    return dest


def stratified_subsample(texts: list[str], labels: list[str], n: int | None, seed: int) -> tuple[list, list]:
    """n rows with the label shares of the whole (each label at least once), seeded, in the file's order."""
    if n is None or n >= len(texts):
        return list(texts), list(labels)
    by_label: dict[str, list[int]] = {}
    for i, label in enumerate(labels):
        by_label.setdefault(label, []).append(i)
    quotas = {label: max(1, math.floor(n * len(idx) / len(texts))) for label, idx in by_label.items()}
    # Hand the rows lost to rounding to the largest labels.
    for label in sorted(by_label, key=lambda k: -len(by_label[k])):
        if sum(quotas.values()) >= n:
            break
        quotas[label] = min(len(by_label[label]), quotas[label] + 1)
    while sum(quotas.values()) > n:
        label = max(quotas, key=quotas.get)
        quotas[label] -= 1
    rng = random.Random(seed)
    chosen = sorted(i for label, idx in by_label.items() for i in rng.sample(idx, quotas[label]))
    return [texts[i] for i in chosen], [labels[i] for i in chosen]


def prepare_dataset(
    name: str,
    folder: Path,
    train_rows: int | None,
    validation_rows: int | None,
    seed: int = 42,
    data_dir: Path = SHARED_DATA,
) -> tuple[Path, Path, dict]:
    """Write the (subsampled) train and validation CSVs of a dataset under folder; return their paths and sizes."""
    train_file, validation_file = DATASETS[name]
    texts, labels = read_rows(data_dir / train_file)
    texts, labels = stratified_subsample(texts, labels, train_rows, seed)
    v_texts, v_labels = read_rows(data_dir / validation_file)
    v_texts, v_labels = stratified_subsample(v_texts, v_labels, validation_rows, seed)
    train = write_rows(folder / name / "train.csv", texts, labels)
    validation = write_rows(folder / name / "validation.csv", v_texts, v_labels)
    info = {
        "dataset": name,
        "train_rows": len(texts),
        "validation_rows": len(v_texts),
        "labels": sorted(set(labels)),
        "train_source": train_file,
        "validation_source": validation_file,
    }
    return train, validation, info


# Timing and statistics ----------------------------------------------------------------------------------


class Stopwatch:
    """with Stopwatch() as sw: ...; sw.seconds"""

    def __enter__(self):
        self.start = time.perf_counter()
        self.seconds = 0.0
        return self

    def __exit__(self, *exc):
        self.seconds = time.perf_counter() - self.start
        return False


def add_training_run_args(p) -> None:
    """The options of a benchmark that trains the engine on one dataset: which rows, and the hyperparameters."""
    p.add_argument("--dataset", choices=("sms_spam", "ag_news"), default="sms_spam")
    p.add_argument("--rows", type=int, default=None, help="training rows (stratified, seeded); default all")
    p.add_argument("--validation-rows", type=int, default=None, help="default: all (sms_spam), 1,000 (ag_news)")
    p.add_argument("--epochs", type=float, default=1.0)
    p.add_argument("--learning-rate", type=float, default=5e-5)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--max-length", type=int, default=128)


def percentile(values, q: float) -> float:
    """Linear-interpolated percentile (q in 0..100) of a non-empty sequence."""
    data = sorted(values)
    if not data:
        return float("nan")
    k = (len(data) - 1) * q / 100
    lo, hi = math.floor(k), math.ceil(k)
    return float(data[lo] + (data[hi] - data[lo]) * (k - lo))


def median(values) -> float:
    return float(statistics.median(values)) if values else float("nan")


def ratio(a: float | None, b: float | None) -> float | None:
    if a is None or b is None or not b or (isinstance(a, float) and math.isnan(a)):
        return None
    return a / b


def rss_mb() -> float:
    """Resident memory of this process in MB (psutil when installed, else /proc/self/status)."""
    try:
        import psutil

        return psutil.Process().memory_info().rss / 2**20
    except ImportError:
        with open("/proc/self/status", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    return float("nan")


def machine_info() -> dict:
    info = {"python": sys.version.split()[0], "cpus": os.cpu_count(), "platform": sys.platform}
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("model name"):
                    info["cpu"] = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return info


# Output ---------------------------------------------------------------------------------------------------


def fmt(value, digits: int = 2) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if value != 0 and abs(value) < 10**-digits:
            return f"{value:.2e}"
        return f"{value:,.{digits}f}"
    return str(value)


def print_table(title: str, headers: list[str], rows: list[list], digits: int = 2, file=None) -> None:
    """A plain aligned table: text columns left, numbers right."""
    file = file or sys.stdout
    cells = [[fmt(v, digits) for v in row] for row in rows]
    widths = [max(len(str(h)), *(len(r[i]) for r in cells)) if cells else len(str(h)) for i, h in enumerate(headers)]
    numeric = [all(isinstance(row[i], (int, float)) or row[i] is None for row in rows) for i in range(len(headers))]

    def line(values):
        return "  ".join(v.rjust(w) if num else v.ljust(w) for v, w, num in zip(values, widths, numeric, strict=False))

    print(f"\n{title}", file=file)
    print(line([str(h) for h in headers]), file=file)
    print("  ".join("-" * w for w in widths), file=file)
    for row in cells:
        print(line(row), file=file)
    file.flush()


def emit_result(result: dict, out: str | None = None) -> None:
    """Write the figures to --out (indented) and print them as the last line of stdout (one json.dumps line)."""
    if out:
        Path(out).parent.mkdir(parents=True, exist_ok=True)
        Path(out).write_text(json.dumps(result, indent=2, default=_jsonable) + "\n", encoding="utf-8")
    sys.stdout.flush()
    print(json.dumps(result, default=_jsonable), flush=True)


def _jsonable(value):
    if isinstance(value, Path):
        return str(value)
    if hasattr(value, "item"):
        return value.item()
    return str(value)


# Child processes ------------------------------------------------------------------------------------------


def child_result(payload: dict) -> None:
    """In a child: hand the figures back to the parent (see run_child)."""
    print(CHILD_MARK + json.dumps(payload, default=_jsonable), flush=True)


def run_child(
    argv: list[str],
    env: dict | None = None,
    timeout: float | None = None,
    log_path: Path | None = None,
    verbose: bool = False,
) -> dict:
    """Run a Python child, return the payload of its last child_result line plus its whole-process wall time."""
    full_env = {**os.environ, **(env or {})}
    started = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, *argv], env=full_env, capture_output=True, text=True, timeout=timeout, cwd=str(REPO)
    )
    wall = time.perf_counter() - started
    if log_path is not None:
        log_path.parent.mkdir(parents=True, exist_ok=True)
        log_path.write_text(
            f"$ {' '.join(argv)}\n--- stdout ---\n{proc.stdout}\n--- stderr ---\n{proc.stderr}", encoding="utf-8"
        )
    if verbose:
        sys.stderr.write(proc.stderr[-4000:])
    payload = None
    for line in proc.stdout.splitlines():
        if line.startswith(CHILD_MARK):
            payload = json.loads(line[len(CHILD_MARK) :])
    if proc.returncode != 0 or payload is None:
        tail = "\n".join((proc.stdout + "\n" + proc.stderr).strip().splitlines()[-30:])
        raise RuntimeError(f"child {' '.join(argv[:3])} failed (exit {proc.returncode}):\n{tail}")
    payload["process_wall_seconds"] = wall
    return payload


# The reference script ---------------------------------------------------------------------------------------


def build_reference_trainer(
    train_csv: Path,
    validation_csv: Path,
    output_dir: Path,
    padding: str = "max_length",
    learning_rate: float = 5e-5,
    epochs: float = 1.0,
    batch_size: int = 32,
    max_length: int = 128,
    seed: int = 42,
    model_path: str | Path | None = None,
    callbacks: list | None = None,
    timings: dict | None = None,
):
    """The reference text-classification script's Trainer on our CSVs.

    As the HF example (run_classification / run_glue) runs: set_seed, AutoModelForSequenceClassification with
    the label maps, datasets.map tokenization with truncation to max_length; padding="max_length" pads every
    example to max_length and batches go through default_data_collator, padding="batch" (pad_to_max_length off)
    pads each batch with DataCollatorWithPadding. TrainingArguments keep their defaults except the learning
    rate, epochs, batch size and seed, with no evaluation, no checkpoints and no reporting during training.
    Returns (trainer, validation dataset, label names).
    """
    from datasets import Dataset
    from transformers import (
        AutoModelForSequenceClassification,
        AutoTokenizer,
        DataCollatorWithPadding,
        Trainer,
        TrainingArguments,
        default_data_collator,
        set_seed,
    )

    if padding not in ("max_length", "batch"):
        raise ValueError("padding is 'max_length' or 'batch'")
    timings = timings if timings is not None else {}
    if model_path is None:
        from studio.core.modeling import builtin_model_path

        model_path = builtin_model_path()
    texts, labels = read_rows(train_csv)
    v_texts, v_labels = read_rows(validation_csv)
    label_list = sorted(set(labels))
    label_to_id = {label: i for i, label in enumerate(label_list)}

    set_seed(seed)
    with Stopwatch() as sw:
        tokenizer = AutoTokenizer.from_pretrained(model_path)
        model = AutoModelForSequenceClassification.from_pretrained(
            model_path,
            num_labels=len(label_list),
            label2id=label_to_id,
            id2label={i: label for label, i in label_to_id.items()},
        )
    timings["load_seconds"] = sw.seconds

    pad = "max_length" if padding == "max_length" else False

    def preprocess(batch):
        result = tokenizer(batch["sentence"], padding=pad, max_length=max_length, truncation=True)
        result["label"] = [label_to_id[label] for label in batch["label"]]
        return result

    with Stopwatch() as sw:
        train_ds = Dataset.from_dict({"sentence": texts, "label": labels}).map(
            preprocess, batched=True, remove_columns=["sentence", "label"], desc="Running tokenizer on dataset"
        )
        val_ds = Dataset.from_dict({"sentence": v_texts, "label": v_labels}).map(
            preprocess, batched=True, remove_columns=["sentence", "label"], desc="Running tokenizer on dataset"
        )
    timings["tokenize_seconds"] = sw.seconds

    args = TrainingArguments(
        output_dir=str(output_dir),
        learning_rate=learning_rate,
        num_train_epochs=epochs,
        per_device_train_batch_size=batch_size,
        seed=seed,
        eval_strategy="no",
        save_strategy="no",
        report_to="none",
    )
    collator = default_data_collator if padding == "max_length" else DataCollatorWithPadding(tokenizer)
    trainer = Trainer(
        model=model,
        args=args,
        train_dataset=train_ds,
        eval_dataset=val_ds,
        processing_class=tokenizer,
        data_collator=collator,
        callbacks=callbacks,
    )
    return trainer, val_ds, label_list


def macro_f1(trainer, dataset) -> float:
    """Evaluate once: predictions on the dataset, macro F1 with scikit-learn (as the example's metric)."""
    import numpy as np
    from sklearn.metrics import f1_score

    output = trainer.predict(dataset)
    predictions = np.argmax(output.predictions, axis=-1)
    return float(f1_score(output.label_ids, predictions, average="macro"))


def step_clock_callback():
    """A TrainerCallback that notes the time of train begin and of the last step end (step-only time)."""
    from transformers import TrainerCallback

    class StepClock(TrainerCallback):
        def __init__(self):
            self.begin = self.last_step = None
            self.steps = 0

        def on_train_begin(self, args, state, control, **kwargs):
            self.begin = time.monotonic()

        def on_step_end(self, args, state, control, **kwargs):
            self.last_step = time.monotonic()
            self.steps += 1

        @property
        def seconds(self) -> float | None:
            return None if self.begin is None or self.last_step is None else self.last_step - self.begin

    return StepClock()


# A PySide6 defect the benchmarks must survive ----------------------------------------------------------------


def singleton_refcount_leaks(calls: int = 200) -> dict:
    """References lost per call, on this PySide6: to True per Signal.emit() from Python, and to None per
    Python slot called by a C++ signal (0 when healthy).

    PySide6 6.12.0 on Python 3.11 loses both (6.11.3 loses neither); Python overrides of C++ virtuals that
    return None (paintEvent, pyqtgraph's paint) lose a reference to None too: one update of the live loss plot
    costs about 200. Once either count reaches zero the interpreter aborts ("bool_dealloc: deallocating True or
    False", "none_dealloc: deallocating None"). Python 3.12+ makes True and None immortal, so the lost
    references are harmless there.
    """
    from PySide6.QtCore import QObject, Signal, Slot

    class _Probe(QObject):
        fired = Signal(object)

        @Slot(str)
        def on_name_changed(self, name):
            pass

    probe = _Probe()
    before = sys.getrefcount(True)
    for i in range(calls):
        probe.fired.emit(i)
    true_delta = (sys.getrefcount(True) - before) / calls
    probe.objectNameChanged.connect(probe.on_name_changed)  # a C++ signal calling a Python slot
    before = sys.getrefcount(None)
    for i in range(calls):
        probe.setObjectName(f"probe{i}")
    none_delta = (sys.getrefcount(None) - before) / calls
    return {"true_per_emit": true_delta, "none_per_slot_call": none_delta}


def guard_singleton_refcounts() -> dict:
    """Where PySide6 loses references to True/None, add a billion to their counts (never given back), so that a
    benchmark measures what it is for instead of aborting. Reported in the result; the app needs a real fix."""
    import ctypes

    leaks = singleton_refcount_leaks()
    leaking = sys.version_info < (3, 12) and (leaks["true_per_emit"] < -0.5 or leaks["none_per_slot_call"] < -0.5)
    if leaking:
        for singleton in (True, False, None):
            ctypes.c_ssize_t.from_address(id(singleton)).value += 10**9
        import PySide6

        print(
            f"warning: PySide6 {PySide6.__version__} on Python {sys.version.split()[0]} loses a reference to True "
            f"per Signal.emit() ({leaks['true_per_emit']:+.2f}) and to None per Python slot called from C++ "
            f"({leaks['none_per_slot_call']:+.2f}); the app aborts once either count reaches zero. References "
            "added so that this benchmark can finish.",
            file=sys.stderr,
        )
    return {**leaks, "leaking": leaking}
