"""Live plots: memory growth (RSS) over 100,000 logged loss points, through the app's own path, offscreen.

The Train page (studio.ui.pages.train_page.TrainPage with its LiveCurves: lossPlot and f1Plot) is shown in an
offscreen window. A Python thread plays the training thread: it hands LossLogged events (and an Evaluated one
every --evaluate-every points) to a TrainingWorker's reporter, whose signals reach the page's slots queued, on
the GUI thread, as in the app; the page appends the points and the curves' own timer redraws them. The GUI thread
runs its event loop the whole time.

RSS (psutil, else /proc/self/status VmRSS) is read after the empty curves are up (before), after the first
1,000 points, at the end (after everything is drawn and a gc.collect), and every 50 ms for the peak.
Target: growth under 30 MB.

  python benchmarks/plot_memory.py                  # 100,000 points
  python benchmarks/plot_memory.py --quick          # 20,000 points
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import (
    emit_result,
    guard_singleton_refcounts,
    machine_info,
    median,
    print_table,
    rss_mb,
    setup_environment,
)


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="20,000 points")
    p.add_argument("--out", help="also write the figures to this JSON file")
    p.add_argument("--points", type=int, default=100_000)
    p.add_argument("--evaluate-every", type=int, default=1000, help="an Evaluated event every N loss points")
    p.add_argument("--chunk", type=int, default=500, help="events the feeding thread sends between pauses")
    p.add_argument("--pause-ms", type=float, default=20.0, help="the feeding thread's pause between chunks")
    args = p.parse_args(argv)
    if args.quick:
        args.points = min(args.points, 20_000)
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    setup_environment()
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    tmp_holder = tempfile.TemporaryDirectory(prefix="studio-bench-plots-")
    os.environ["STUDIO_HOME"] = tmp_holder.name
    started = time.perf_counter()

    from PySide6.QtCore import QEventLoop, QTimer
    from PySide6.QtWidgets import QApplication

    from studio.core import events as ev
    from studio.core.config import TrainConfig
    from studio.ui.app import create_application
    from studio.ui.pages.train_page import TrainPage
    from studio.ui.settings import Settings
    from studio.ui.tasks import TaskRunner
    from studio.ui.worker import TrainingWorker

    app = create_application([])
    # Before the baseline: the ballast (if any) is not plot memory.
    pyside = guard_singleton_refcounts()
    tasks = TaskRunner()
    page = TrainPage(tasks, Settings())
    page.resize(1280, 820)
    page.show()
    curves = page.curves

    # The app's path: worker reporter (training thread) -> the worker's event signal -> the page (GUI thread).
    worker = TrainingWorker(config=TrainConfig(train_csv="benchmark.csv"))
    worker.event.connect(page.on_event)

    redraw_ms: list[float] = []
    original_redraw = curves.redraw

    def timed_redraw():
        t = time.perf_counter()
        original_redraw()
        redraw_ms.append((time.perf_counter() - t) * 1000)

    curves.redraw = timed_redraw  # the timer's slot calls self.redraw()

    def spin(seconds: float) -> None:
        end = time.perf_counter() + seconds
        while time.perf_counter() < end:
            app.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 20)
            time.sleep(0.005)

    total_steps = args.points
    worker.report(ev.RunCreated(run_dir=str(Path(tmp_holder.name) / "run")))
    worker.report(
        ev.RunStarted(
            run_dir=str(Path(tmp_holder.name) / "run"),
            total_steps=total_steps,
            train_rows=total_steps * 32,
            validation_rows=1000,
            labels=("ham", "spam"),
            device="cpu",
            precision="fp32",
            trainable_parameters=1,
            total_parameters=1,
        )
    )
    spin(0.5)
    gc.collect()
    rss_before = rss_mb()
    peak = [rss_before]
    sampler = QTimer()
    sampler.setInterval(50)
    sampler.timeout.connect(lambda: peak.append(rss_mb()))
    sampler.start()

    marks: dict = {}
    first_thousand = threading.Event()

    def feed() -> None:
        import math

        for step in range(1, args.points + 1):
            loss = 0.7 * math.exp(-step / (args.points / 3)) + 0.05 * math.sin(step / 7.0) ** 2
            worker.report(ev.LossLogged(step=step, epoch=step / total_steps, loss=loss, learning_rate=5e-5))
            if args.evaluate_every and step % args.evaluate_every == 0:
                worker.report(
                    ev.Evaluated(
                        step=step,
                        epoch=step / total_steps,
                        loss=loss,
                        accuracy=0.9,
                        f1=0.85,
                        precision=0.86,
                        recall=0.84,
                        labels=("ham", "spam"),
                    )
                )
                worker.report(
                    ev.Progress(step=step, total_steps=total_steps, epoch=step / total_steps, elapsed_s=1.0, eta_s=1.0)
                )
            if step == 1000:
                first_thousand.set()
            if step % args.chunk == 0:
                time.sleep(args.pause_ms / 1000)
        marks["fed"] = time.perf_counter()

    feeder = threading.Thread(target=feed, name="fake-training", daemon=True)
    feed_start = time.perf_counter()
    feeder.start()
    rss_1k = None
    while feeder.is_alive():
        app.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 20)
        if rss_1k is None and first_thousand.is_set() and len(curves.train_loss.series) >= 1000:
            spin(0.3)  # let the timer draw the first thousand
            gc.collect()
            rss_1k = rss_mb()
        time.sleep(0.002)
    feeder.join()
    # Drain the queued events, then let the timer draw the last points.
    deadline = time.perf_counter() + 60
    while len(curves.train_loss.series) < args.points and time.perf_counter() < deadline:
        app.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 50)
    spin(0.5)
    feed_seconds = time.perf_counter() - feed_start
    item = curves.train_loss.item
    points_in_item = 0 if item.xData is None else len(item.xData)
    shown = item.getData()[0]  # clipped to the view and peak-downsampled: what is drawn
    points_drawn = 0 if shown is None else len(shown)
    gc.collect()
    spin(0.2)
    rss_after = rss_mb()
    sampler.stop()
    peak_rss = max([*peak, rss_after])
    points = len(curves.train_loss.series)

    growth = rss_after - rss_before
    figures = {
        "points": points,
        "points_in_curve_item": points_in_item,
        "points_drawn_after_downsampling": points_drawn,
        "evaluations": len(curves.f1.series),
        "rss_before_mb": rss_before,
        "rss_after_1000_mb": rss_1k,
        "rss_after_mb": rss_after,
        "rss_peak_mb": peak_rss,
        "growth_mb": growth,
        "growth_since_1000_points_mb": None if rss_1k is None else rss_after - rss_1k,
        "peak_growth_mb": peak_rss - rss_before,
        "redraws": len(redraw_ms),
        "redraw_ms_median": median(redraw_ms),
        "redraw_ms_max": max(redraw_ms) if redraw_ms else None,
        "feed_seconds": feed_seconds,
    }
    print_table(
        f"Live plots: {points:,} loss points ({figures['evaluations']} evaluations) through the Train "
        f"page's path, offscreen, {len(redraw_ms)} timer redraws",
        ["figure", "value"],
        [
            ["RSS before (MB)", rss_before],
            ["RSS after 1,000 points (MB)", rss_1k],
            ["RSS after (MB)", rss_after],
            ["RSS peak (MB)", peak_rss],
            ["growth (MB)", growth],
            ["growth since 1,000 points (MB)", figures["growth_since_1000_points_mb"]],
            ["peak growth (MB)", figures["peak_growth_mb"]],
            ["redraw median (ms)", figures["redraw_ms_median"]],
            ["redraw max (ms)", figures["redraw_ms_max"]],
            ["feeding time (s)", feed_seconds],
        ],
        digits=2,
    )
    target = growth < 30
    print(f"target (growth < 30 MB over {points:,} points): {'PASS' if target else 'FAIL'}")
    if points != args.points:
        print(f"warning: {points} of {args.points} points reached the curves", file=sys.stderr)
    result = {
        "benchmark": "plot_memory",
        "quick": args.quick,
        "command": "python benchmarks/plot_memory.py " + " ".join(sys.argv[1:] if argv is None else argv),
        "machine": machine_info(),
        "qt_platform": QApplication.platformName(),
        "pyside": pyside,
        **figures,
        "targets": {"growth_under_30_mb": target},
        "wall_seconds": time.perf_counter() - started,
    }
    page.close()
    tasks_wait = getattr(tasks, "wait", None)
    if tasks_wait is not None:
        tasks_wait()
    emit_result(result, args.out)
    tmp_holder.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
