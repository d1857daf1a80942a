"""The app's GUI thread while the built-in model trains, and the time to the first window.

1. Lateness while training. A fresh process opens the real window (studio.ui.main_window.MainWindow) and drives
   it through its object names like a user: the built-in model in modelSource, the CSVs in trainCsv and
   validationCsv (Return pressed), learningRate, epochs, batchSize, maxLength, frozenLayers, then a click on
   trainButton. Once the app has preloaded its libraries (as a user who opens the app and then picks data would
   find it), a 5 ms QTimer (PreciseTimer) on the GUI thread records when each tick fires; a tick's lateness is
   its gap from the previous tick less 5 ms. Reported over the training (Train click -> training thread ended):
   p50, p99 and max, and per phase (startup: click -> RunStarted, i.e. reading the data, loading the model,
   tokenizing; steps: RunStarted -> Finished; finish: the rest), plus the idle window before the click.
   Targets: p99 <= 16 ms, max <= 100 ms.
2. Time to first window. A fresh process runs the app's entry (studio.ui.app.run_app, with MainWindow.show
   wrapped to watch for the first paint) and reports when the first frame has been painted, measured from
   time.time() taken by this script just before starting it (so interpreter start-up and imports count). A bare
   PySide6 QMainWindow process is measured the same way; runs alternate, after one untimed run of each (disk
   cache); the median of each is kept. Targets: <= 1.0 s, and <= 1.5 x the bare window.

3. A big CSV on the Data page. A fresh process opens the real window, waits for the sample data and the
   library preload, starts the same 5 ms probe and types a generated CSV of `--big-rows` rows (ag_news texts
   repeated; 500,000 rows are about 100 MB) into trainCsv (Return). Lateness is reported from Return to the
   page showing the file (summary, preview, columns, label counts), then for loading the same file again (the
   page frees the first table as it takes the second), beside the idle lateness before Return in the same
   process. `--baseline-repo DIR` (e.g. `git archive HEAD | tar -x -C DIR`) runs the same child on another
   checkout's app, for a before/after measured in the same run. Target: max <= 100 ms while the file loads.

QT_QPA_PLATFORM defaults to offscreen (set it to xcb or wayland to measure on a real display).

  python benchmarks/ui_latency.py                    # all sms_spam rows, 1 epoch; 7 first-window runs each
  python benchmarks/ui_latency.py --rows 1000 --epochs 2
  python benchmarks/ui_latency.py --quick
  python benchmarks/ui_latency.py --skip-training --skip-window            # only the big CSV
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import itertools

from benchmarks.common import (
    SHARED_DATA,
    add_training_run_args,
    child_result,
    emit_result,
    machine_info,
    median,
    percentile,
    prepare_dataset,
    print_table,
    ratio,
    run_child,
    setup_environment,
    write_repeated_csv,
)

PROBE_MS = 5


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="128 training rows, max length 64, 3 first-window runs")
    p.add_argument("--out", help="also write the figures to this JSON file")
    add_training_run_args(p)
    p.add_argument("--window-runs", type=int, default=7, help="timed first-window runs of each kind")
    p.add_argument("--skip-training", action="store_true", help="only the first-window part")
    p.add_argument("--skip-window", action="store_true", help="only the training part")
    p.add_argument("--skip-big-csv", action="store_true", help="skip the big-CSV part")
    p.add_argument("--big-rows", type=int, default=500_000, help="rows of the generated big CSV")
    p.add_argument("--baseline-repo", type=Path, help="also run the big-CSV part on this checkout's app")
    p.add_argument("--timeout", type=float, default=1800, help="seconds allowed for the training part")
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--data-dir", type=Path, default=SHARED_DATA)
    # Internal.
    p.add_argument("--child", choices=("latency", "window-app", "window-bare", "big-csv"), help=argparse.SUPPRESS)
    p.add_argument("--repo", type=Path, help=argparse.SUPPRESS)
    p.add_argument("--t0", type=float, help=argparse.SUPPRESS)
    p.add_argument("--train", type=Path, help=argparse.SUPPRESS)
    p.add_argument("--validation", type=Path, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.quick:
        args.rows = min(args.rows or 128, 128)
        args.validation_rows = min(args.validation_rows or 64, 64)
        args.max_length = min(args.max_length, 64)
        args.window_runs = min(args.window_runs, 3)
        args.big_rows = min(args.big_rows, 20_000)
    return args


# Child: lateness while training ------------------------------------------------------------------------------


def _lateness(ticks: list[float], start: float, end: float) -> dict:
    """Lateness (ms) of the ticks that fired in [start, end], each against the tick before it."""
    late = [max(0.0, (b - a) * 1000 - PROBE_MS) for a, b in itertools.pairwise(ticks) if start <= b <= end]
    if not late:
        return {"ticks": 0, "p50_ms": None, "p99_ms": None, "max_ms": None, "over_16ms": 0, "seconds": end - start}
    return {
        "ticks": len(late),
        "p50_ms": percentile(late, 50),
        "p99_ms": percentile(late, 99),
        "max_ms": max(late),
        "over_16ms": sum(x > 16 for x in late),
        "over_100ms": sum(x > 100 for x in late),
        "seconds": end - start,
    }


def child_latency(args) -> dict:
    from PySide6.QtCore import QEventLoop, Qt, QTimer
    from PySide6.QtWidgets import QAbstractSpinBox, QComboBox, QLineEdit, QPushButton, QWidget

    from benchmarks.common import guard_singleton_refcounts
    from studio.ui.app import create_application
    from studio.ui.main_window import MainWindow

    app = create_application([])
    pyside = guard_singleton_refcounts()
    window = MainWindow()
    window.show()

    def find(name: str, kind=QWidget):
        widget = window.findChild(kind, name)
        if widget is None:
            raise RuntimeError(f"the window has no {kind.__name__} named {name!r}")
        return widget

    def wait_until(condition, timeout: float, what: str) -> None:
        deadline = time.perf_counter() + timeout
        while not condition():
            if time.perf_counter() > deadline:
                raise RuntimeError(f"timed out after {timeout:.0f} s waiting for {what}")
            app.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 20)
            time.sleep(0.005)

    def spin(seconds: float) -> None:
        end = time.perf_counter() + seconds
        while time.perf_counter() < end:
            app.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 20)
            time.sleep(0.005)

    # The model: the built-in one (the first entry).
    source = find("modelSource", QComboBox)
    if source.currentIndex() != 0:
        source.setCurrentIndex(0)
        source.activated.emit(0)
    # The data, as typed and confirmed with Return.
    train_edit = find("trainCsv", QLineEdit)
    train_edit.setText(str(args.train))
    train_edit.returnPressed.emit()
    validation_edit = find("validationCsv", QLineEdit)
    validation_edit.setText(str(args.validation))
    validation_edit.returnPressed.emit()
    data_page = getattr(window, "data_page", None)
    if data_page is not None and hasattr(data_page, "loaded"):
        wait_until(
            lambda: data_page.loaded() is not None and str(data_page.loaded().table.path) == str(args.train),
            120,
            "the training CSV to load",
        )
    # The settings.
    values = {
        "learningRate": args.learning_rate,
        "epochs": args.epochs,
        "batchSize": args.batch_size,
        "maxLength": args.max_length,
        "frozenLayers": 0,
    }
    for name, value in values.items():
        box = find(name, QAbstractSpinBox)
        box.setValue(value)
        if abs(box.value() - value) > 1e-12:
            raise RuntimeError(f"{name} took {box.value()} instead of {value}")
    # What a user who opens the app and then picks data finds: the model read and the libraries preloaded.
    model_page = getattr(window, "model_page", None)
    if model_page is not None and hasattr(model_page, "info"):
        wait_until(lambda: model_page.info is not None, 180, "the model page to read the model")
    try:
        from studio.ui import warmup

        wait_until(lambda: warmup._ready, 300, "the libraries to preload")
    except ImportError:
        pass
    spin(0.5)

    ticks: list[float] = []
    probe = QTimer()
    probe.setTimerType(Qt.TimerType.PreciseTimer)
    probe.setInterval(PROBE_MS)
    probe.timeout.connect(lambda: ticks.append(time.perf_counter()))
    marks: dict = {}
    finished: list = []
    training = getattr(window, "training", None)
    if training is not None:
        for signal_name, key in (
            ("run_started", "run_started"),
            ("run_finished", "run_finished"),
            ("run_failed", "run_failed"),
        ):
            signal = getattr(training, signal_name, None)
            if signal is not None:
                signal.connect(
                    lambda *a, key=key: (
                        marks.setdefault(key, time.perf_counter()),
                        finished.extend(a) if key == "run_finished" else None,
                    )
                )
    probe.start()
    idle_start = time.perf_counter()
    spin(1.0)
    train_button = find("trainButton", QPushButton)
    progress = find("progressBar")
    clicked = time.perf_counter()
    refs_before = (sys.getrefcount(True), sys.getrefcount(None))
    train_button.click()
    if train_button.isEnabled():
        raise RuntimeError(
            "the Train button is still enabled after the click: training did not start "
            f"({find('trainStatus').text() if window.findChild(QWidget, 'trainStatus') else '?'})"
        )
    # Until the training thread has ended: the Train button comes back.
    wait_until(lambda: train_button.isEnabled(), args.timeout, "the training to finish")
    ended = time.perf_counter()
    refs_after = (sys.getrefcount(True), sys.getrefcount(None))
    spin(0.3)
    probe.stop()
    if "run_failed" in marks:
        status = window.findChild(QWidget, "trainStatus")
        raise RuntimeError(f"training failed: {status.text() if status is not None else '?'}")

    loss_points = 0
    loss_plot = window.findChild(QWidget, "lossPlot")
    if loss_plot is not None and hasattr(loss_plot, "getPlotItem"):
        items = loss_plot.getPlotItem().listDataItems()
        if items and items[0].xData is not None:
            loss_points = len(items[0].xData)
    started = marks.get("run_started", clicked)
    done = marks.get("run_finished", ended)
    metrics = finished[0].metrics if finished and hasattr(finished[0], "metrics") else {}
    return {
        "pyside": pyside,
        "training": _lateness(ticks, clicked, ended),
        "phases": {
            "startup": _lateness(ticks, clicked, started),
            "steps": _lateness(ticks, started, done),
            "finish": _lateness(ticks, done, ended),
        },
        "idle_before_click": _lateness(ticks, idle_start, clicked),
        "train_seconds": metrics.get("train_seconds"),
        "f1": metrics.get("f1"),
        "precision": metrics.get("precision_mode"),
        "progress_value": progress.value() if hasattr(progress, "value") else None,
        "progress_maximum": progress.maximum() if hasattr(progress, "maximum") else None,
        "loss_points": loss_points,
        # Net change of the counts of True / None over the run, per second (legitimate new references count too).
        "refs_drift_per_second": {
            "true": (refs_after[0] - refs_before[0]) / max(1e-9, ended - clicked),
            "none": (refs_after[1] - refs_before[1]) / max(1e-9, ended - clicked),
        },
    }


# Child: a big CSV on the Data page ---------------------------------------------------------------------------


def child_big_csv(args) -> dict:
    if args.repo is not None:
        sys.path.insert(0, str(args.repo.resolve()))
    from PySide6.QtCore import QEventLoop, Qt, QTimer
    from PySide6.QtWidgets import QLineEdit

    from benchmarks.common import guard_singleton_refcounts
    from studio.ui.app import create_application
    from studio.ui.main_window import MainWindow

    app = create_application([])
    pyside = guard_singleton_refcounts()
    window = MainWindow()
    window.show()
    page = window.data_page

    def wait_until(condition, timeout: float, what: str) -> None:
        deadline = time.perf_counter() + timeout
        while not condition():
            if time.perf_counter() > deadline:
                raise RuntimeError(f"timed out after {timeout:.0f} s waiting for {what}")
            app.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 20)
            time.sleep(0.002)

    def spin(seconds: float) -> None:
        end = time.perf_counter() + seconds
        while time.perf_counter() < end:
            app.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 20)
            time.sleep(0.002)

    wait_until(lambda: page.loaded() is not None, 120, "the sample data")
    try:
        from studio.ui import warmup

        wait_until(lambda: warmup._ready, 300, "the libraries to preload")
    except ImportError:
        pass
    spin(0.5)

    ticks: list[float] = []
    probe = QTimer()
    probe.setTimerType(Qt.TimerType.PreciseTimer)
    probe.setInterval(PROBE_MS)
    probe.timeout.connect(lambda: ticks.append(time.perf_counter()))
    edit = window.findChild(QLineEdit, "trainCsv")
    probe.start()
    idle_start = time.perf_counter()
    spin(1.0)
    loads = []
    for _ in range(2):  # the second load replaces a table as big as itself
        before = page.loaded()
        started = time.perf_counter()
        edit.setText(str(args.train))
        edit.returnPressed.emit()
        wait_until(lambda before=before: page.loaded() is not before, 600, "the big CSV to load")
        shown = time.perf_counter()
        spin(1.0)  # what the page does after: counting, freeing the table it replaced, painting
        loads.append((started, shown, time.perf_counter()))
    probe.stop()
    model = page.model
    total = model.total_rows() if hasattr(model, "total_rows") else model.rowCount()
    return {
        "pyside": pyside,
        "idle_before": _lateness(ticks, idle_start, loads[0][0]),
        "first_load": _lateness(ticks, loads[0][0], loads[0][2]),
        "second_load": _lateness(ticks, loads[1][0], loads[1][2]),
        "first_load_seconds": loads[0][1] - loads[0][0],
        "second_load_seconds": loads[1][1] - loads[1][0],
        "summary": page.summary.text(),
        "preview_rows": model.rowCount(),
        "total_rows": total,
        "labels": len(page.loaded().distribution),
    }


# Children: first window --------------------------------------------------------------------------------------


def _watch_first_frame(app, window, t0: float) -> None:
    """Once the window has painted, note the time (after the paint pass: a 0 ms timer) and end the process."""
    from PySide6.QtCore import QEvent, QObject, QTimer

    def done(first_paint: float) -> None:
        frame = time.time() - t0
        child_result(
            {
                "first_paint_seconds": first_paint,
                "first_frame_seconds": frame,
                "modules": len(sys.modules),
                "heavy_imported": [m for m in ("torch", "transformers", "datasets", "sklearn") if m in sys.modules],
            }
        )
        sys.stdout.flush()
        os._exit(0)  # the frame is up; skip the shutdown, which is not what is measured

    class FirstPaint(QObject):
        seen = False

        def eventFilter(self, obj, event):
            if not self.seen and event.type() == QEvent.Type.Paint and obj.isWidgetType() and obj.window() is window:
                self.seen = True
                painted = time.time() - t0
                QTimer.singleShot(0, lambda: done(painted))
            return False

    watcher = FirstPaint(app)
    app.installEventFilter(watcher)
    window._first_paint_watcher = watcher
    # A window that never paints must not hang the benchmark.
    QTimer.singleShot(
        30_000, lambda: (child_result({"first_paint_seconds": None, "first_frame_seconds": None}), os._exit(3))
    )


def child_window_app(args) -> None:
    from PySide6.QtWidgets import QApplication

    from studio.ui import app as app_module
    from studio.ui import main_window

    original_show = main_window.MainWindow.show

    def show(self):
        _watch_first_frame(QApplication.instance(), self, args.t0)
        original_show(self)

    main_window.MainWindow.show = show
    app_module.run_app([sys.argv[0]])


def child_window_bare(args) -> None:
    from PySide6.QtWidgets import QApplication, QLabel, QMainWindow

    app = QApplication([sys.argv[0]])
    window = QMainWindow()
    window.setWindowTitle("bare")
    window.setCentralWidget(QLabel("bare window"))
    window.resize(1280, 820)
    _watch_first_frame(app, window, args.t0)
    window.show()
    app.exec()


# Parent ------------------------------------------------------------------------------------------------------


def measure_training(args, tmp: Path) -> dict:
    validation_rows = (
        args.validation_rows if args.validation_rows is not None else (1000 if args.dataset == "ag_news" else None)
    )
    train, validation, info = prepare_dataset(
        args.dataset, tmp / "data", args.rows, validation_rows, args.seed, args.data_dir
    )
    argv = [
        str(Path(__file__).resolve()),
        "--child",
        "latency",
        "--train",
        str(train),
        "--validation",
        str(validation),
        "--epochs",
        str(args.epochs),
        "--learning-rate",
        str(args.learning_rate),
        "--batch-size",
        str(args.batch_size),
        "--max-length",
        str(args.max_length),
        "--timeout",
        str(args.timeout),
    ]
    env = {"STUDIO_HOME": str(tmp / "home-latency"), "QT_QPA_PLATFORM": os.environ["QT_QPA_PLATFORM"]}
    print(f"training in the window on {info['train_rows']} {args.dataset} rows ...", file=sys.stderr, flush=True)
    payload = run_child(argv, env=env, timeout=args.timeout + 600, log_path=tmp / "latency.log")
    payload["data"] = info
    return payload


def measure_big_csv(args, tmp: Path) -> dict:
    big = write_repeated_csv(args.data_dir / "ag_news" / "train.csv", args.big_rows, tmp / "big.csv")
    out: dict = {"rows": args.big_rows, "csv_mb": round(big.stat().st_size / 1e6, 1)}
    for name, repo in (("studio", None), ("baseline", args.baseline_repo)):
        if name == "baseline" and repo is None:
            continue
        argv = [str(Path(__file__).resolve()), "--child", "big-csv", "--train", str(big)]
        if repo is not None:
            argv += ["--repo", str(repo)]
        env = {"STUDIO_HOME": str(tmp / f"home-big-{name}"), "QT_QPA_PLATFORM": os.environ["QT_QPA_PLATFORM"]}
        print(f"loading {args.big_rows:,} rows on the Data page ({name}) ...", file=sys.stderr, flush=True)
        out[name] = run_child(argv, env=env, timeout=1200, log_path=tmp / f"big-{name}.log")
    return out


def measure_first_window(args, tmp: Path) -> dict:
    home = tmp / "home-window"
    env = {"STUDIO_HOME": str(home), "QT_QPA_PLATFORM": os.environ["QT_QPA_PLATFORM"]}
    times: dict[str, list[dict]] = {"app": [], "bare": []}
    for run in range(args.window_runs + 1):
        for kind in ("app", "bare") if run % 2 == 0 else ("bare", "app"):
            argv = [str(Path(__file__).resolve()), "--child", f"window-{kind}"]
            t0 = time.time()
            payload = run_child(
                [*argv, "--t0", repr(t0)], env=env, timeout=120, log_path=tmp / f"window-{kind}-{run}.log"
            )
            if run > 0:  # the first run of each only warms the disk cache
                times[kind].append(payload)
    out = {}
    for kind, payloads in times.items():
        frames = [p["first_frame_seconds"] for p in payloads if p.get("first_frame_seconds") is not None]
        paints = [p["first_paint_seconds"] for p in payloads if p.get("first_paint_seconds") is not None]
        out[kind] = {
            "first_frame_seconds_median": median(frames),
            "first_paint_seconds_median": median(paints),
            "first_frame_seconds_all": frames,
            "process_seconds_median": median([p["process_wall_seconds"] for p in payloads]),
            "heavy_imported": payloads[-1].get("heavy_imported") if payloads else None,
        }
    out["ratio_app_to_bare"] = ratio(
        out["app"]["first_frame_seconds_median"], out["bare"]["first_frame_seconds_median"]
    )
    return out


def main(argv=None) -> int:
    args = parse_args(argv)
    setup_environment()
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    if args.child == "latency":
        child_result(child_latency(args))
        return 0
    if args.child == "big-csv":
        child_result(child_big_csv(args))
        return 0
    if args.child == "window-app":
        child_window_app(args)
        return 0
    if args.child == "window-bare":
        child_window_bare(args)
        return 0

    started = time.perf_counter()
    tmp_holder = tempfile.TemporaryDirectory(prefix="studio-bench-ui-")
    tmp = Path(tmp_holder.name)
    result: dict = {
        "benchmark": "ui_latency",
        "quick": args.quick,
        "command": "python benchmarks/ui_latency.py " + " ".join(sys.argv[1:] if argv is None else argv),
        "machine": machine_info(),
        "qt_platform": os.environ["QT_QPA_PLATFORM"],
        "targets": {},
    }
    try:
        if not args.skip_training:
            latency = measure_training(args, tmp)
            result["latency"] = latency
            rows = []
            for label, block in (
                ("idle, before the click", latency["idle_before_click"]),
                ("whole training (click -> done)", latency["training"]),
                ("  startup (data, model, tokens)", latency["phases"]["startup"]),
                ("  training steps", latency["phases"]["steps"]),
                ("  final evaluation, export", latency["phases"]["finish"]),
            ):
                rows.append(
                    [
                        label,
                        block["seconds"],
                        block["ticks"],
                        block["p50_ms"],
                        block["p99_ms"],
                        block["max_ms"],
                        block.get("over_16ms"),
                    ]
                )
            info = latency["data"]
            print_table(
                f"GUI thread lateness of a {PROBE_MS} ms timer while the window trains the built-in model on "
                f"{info['train_rows']:,} {args.dataset} rows ({args.epochs:g} epoch(s), batch "
                f"{args.batch_size}, max length {args.max_length}; precision {latency.get('precision')}, "
                f"train {latency.get('train_seconds')} s, F1 {latency.get('f1')})",
                ["period", "seconds", "ticks", "p50 ms", "p99 ms", "max ms", "ticks > 16 ms"],
                rows,
                digits=2,
            )
            whole = latency["training"]
            result["targets"]["p99_at_most_16ms"] = whole["p99_ms"] is not None and whole["p99_ms"] <= 16
            result["targets"]["max_at_most_100ms"] = whole["max_ms"] is not None and whole["max_ms"] <= 100
            leaks = latency["pyside"]
            if leaks.get("leaking"):
                print(
                    f"warning: this PySide6 loses a reference to True per Signal.emit() "
                    f"({leaks['true_per_emit']:+.0f}) and to None per Python slot or override called from C++ "
                    f"({leaks['none_per_slot_call']:+.0f}); the app aborts when either count reaches zero "
                    "(the benchmark added references to finish)"
                )
        if not args.skip_big_csv:
            big = measure_big_csv(args, tmp)
            result["big_csv"] = big
            rows = []
            for name in ("studio", "baseline"):
                if name not in big:
                    continue
                run = big[name]
                for label, key, seconds in (
                    ("idle, before Return", "idle_before", None),
                    ("load (Return -> shown, +1 s)", "first_load", run["first_load_seconds"]),
                    ("load again, replacing it", "second_load", run["second_load_seconds"]),
                ):
                    block = run[key]
                    rows.append(
                        [f"{name}: {label}", seconds, block["ticks"], block["p50_ms"], block["p99_ms"], block["max_ms"]]
                    )
            print_table(
                f"GUI thread lateness of a {PROBE_MS} ms timer while the Data page loads {big['rows']:,} rows "
                f"({big['csv_mb']} MB); load average {os.getloadavg()[0]:.1f}",
                ["period", "shown after s", "ticks", "p50 ms", "p99 ms", "max ms"],
                rows,
                digits=2,
            )
            ours = big["studio"]
            print(f"  the page says: {ours['summary']} (preview holds {ours['preview_rows']:,} rows so far)")
            worst = max(ours["first_load"]["max_ms"] or 0, ours["second_load"]["max_ms"] or 0)
            result["targets"]["big_csv_max_at_most_100ms"] = worst <= 100
            result["targets"]["big_csv_counts_every_row"] = ours["total_rows"] == big["rows"]
        if not args.skip_window:
            print("timing the first window ...", file=sys.stderr, flush=True)
            window = measure_first_window(args, tmp)
            result["first_window"] = window
            print_table(
                f"Time to first window (from before the process starts to the first painted frame; median of "
                f"{args.window_runs} runs each, alternating)",
                ["window", "first frame s", "first paint s", "process s (to exit)", "vs bare"],
                [
                    [
                        "studio MainWindow (run_app)",
                        window["app"]["first_frame_seconds_median"],
                        window["app"]["first_paint_seconds_median"],
                        window["app"]["process_seconds_median"],
                        window["ratio_app_to_bare"],
                    ],
                    [
                        "bare PySide6 QMainWindow",
                        window["bare"]["first_frame_seconds_median"],
                        window["bare"]["first_paint_seconds_median"],
                        window["bare"]["process_seconds_median"],
                        1.0,
                    ],
                ],
                digits=3,
            )
            app_s = window["app"]["first_frame_seconds_median"]
            result["targets"]["first_window_at_most_1s"] = app_s <= 1.0
            result["targets"]["first_window_at_most_1.5x_bare"] = (window["ratio_app_to_bare"] or 99) <= 1.5
    finally:
        tmp_holder.cleanup()
    if result["targets"]:
        print("targets: " + ", ".join(f"{k} {'PASS' if v else 'FAIL'}" for k, v in result["targets"].items()))
    result["wall_seconds"] = time.perf_counter() - started
    emit_result(result, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
