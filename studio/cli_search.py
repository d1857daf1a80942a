"""`studio search`: grid, random or TPE search over training settings, each trial a run; resumable and shareable."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import threading


def add_parser(commands) -> None:
    """Add the `search` subcommand: every `studio train` option fixes a setting, --space varies one."""
    from studio.cli import add_config_options
    from studio.core.search_space import METHODS

    search = commands.add_parser(
        "search",
        help="search for the best training settings (grid, random or Optuna's TPE)",
        description="Each trial is a normal run with its own folder. The study is kept in the search's folder "
        "(or --storage), so a search survives a crash and several processes can share it.",
    )
    search.add_argument(
        "--space",
        action="append",
        metavar="SPEC",
        help="a setting to search: NAME=LOW:HIGH (a range), NAME=LOW:HIGH:log (a log-scale range) or NAME=A,B,C "
        "(a list), such as lr=1e-5:1e-3:log or batch_size=16,32; repeat for several settings (default: the "
        "learning rate from a quarter to 4 times the task's, the batch size and half of it, warm-up 0 to 0.1). "
        "When the space holds the settings a plain `studio train` would use, they are the first trial",
    )
    search.add_argument("--method", choices=METHODS, default="tpe", help="how settings are drawn (default: tpe)")
    search.add_argument("--trials", type=int, metavar="N", help="finished trials (complete or pruned) to run")
    search.add_argument(
        "--prune",
        action="store_true",
        help="stop trials that fall behind the median of earlier ones at the same evaluation (runs evaluate 4 "
        "times an epoch unless --evaluations-per-epoch says otherwise)",
    )
    search.add_argument(
        "--workers", type=int, default=1, metavar="N", help="trials run side by side on this machine (one per GPU)"
    )
    search.add_argument(
        "--storage",
        metavar="URL",
        help="an Optuna storage URL shared by several processes or machines, such as postgresql://user@host/db, "
        "sqlite:///path/study.db or journal:/path/study.log (default: SQLite in the search's folder)",
    )
    search.add_argument("--output", metavar="DIR", dest="search_output", help="the search's folder")
    search.add_argument("--resume", metavar="DIR", help="carry on the search in this folder")
    search.add_argument("--worker", type=int, default=0, help=argparse.SUPPRESS)
    search.add_argument(
        "--config",
        metavar="FILE",
        help="fixed settings saved as JSON or TOML (options given here override them)",
    )
    add_config_options(search, exclude=("output_dir",))


def run(args) -> int:
    """Prepare (or reload) the search, run its trials with `args.workers` processes, print the best."""
    from studio.cli import config_from_args
    from studio.core.errors import StudioError
    from studio.core.quiet import quiet_libraries
    from studio.core.search import SearchSettings, load_search, prepare_search, run_search

    if args.workers < 1:
        raise StudioError(f"The number of workers must be at least 1 (got {args.workers}).")
    if args.resume:
        folder = args.resume
        settings = load_search(folder)
    else:
        if not args.search_output:
            raise StudioError("Give the folder for the search with --output DIR (or --resume DIR to carry one on).")
        if args.trials is None:
            raise StudioError("Give the number of trials with --trials N.")
        base = config_from_args(args)
        space = tuple(args.space or ())
        if not space:
            from studio.core.search_space import default_space

            space = default_space(base, args.method)
            print(f"space: {' '.join(space)} (the default: no --space given)", flush=True)
        if args.prune and not hasattr(args, "evaluations_per_epoch"):
            base = base.with_changes(evaluations_per_epoch=4)  # the pruner needs figures within a run
        folder = args.search_output
        settings = prepare_search(
            SearchSettings(
                base=base,
                space=space,
                method=args.method,
                trials=args.trials,
                prune=args.prune,
                storage=args.storage,
                seed=base.seed,
            ),
            folder,
        )
    print(f"search: {os.path.abspath(folder)}", flush=True)
    if args.worker == 0:
        print(f"study: {settings.storage}", flush=True)
    quiet_libraries()
    stop = threading.Event()
    helpers = [_start_worker(folder, n, args.workers) for n in range(1, args.workers)] if args.worker == 0 else []
    try:
        result = run_search(folder, _printer(), stop, worker=args.worker, export_best=args.worker == 0)
    except KeyboardInterrupt:
        stop.set()
        for helper in helpers:
            helper.terminate()
        raise
    for helper in helpers:
        helper.wait()
    if args.worker:
        return 0
    if result.best:
        settings_text = ", ".join(f"{k}={v}" for k, v in result.best["settings"].items())
        print(f"best: trial {result.best['number']}, {result.best['metric']:.4f} ({settings_text})")
        if result.best.get("model"):
            print(f"model: {result.best['model']}")
    if not result.finished:
        print(f"stopped: resume the search with studio search --resume {folder}", file=sys.stderr)
        return 1
    return 0


def _start_worker(folder, number: int, workers: int) -> subprocess.Popen:
    """Another process on the same study: its own GPU where there are several, its share of the CPU threads."""
    env = dict(os.environ)
    gpus = _gpu_count()
    if gpus > 1:
        env["CUDA_VISIBLE_DEVICES"] = str(number % gpus)
    elif gpus == 0:
        env.setdefault("OMP_NUM_THREADS", str(max(1, (os.cpu_count() or 1) // workers)))
    command = [sys.executable, "-m", "studio", "search", "--resume", str(folder), "--worker", str(number)]
    return subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL)


def _gpu_count() -> int:
    try:
        import torch

        return torch.cuda.device_count() if torch.cuda.is_available() else 0
    except Exception:
        return 0


def _printer():
    """One line per trial as it starts and ends."""
    from studio.core.events import Message, TrialUpdated

    def show(event) -> None:
        if isinstance(event, TrialUpdated):
            settings = ", ".join(f"{k}={_short(v)}" for k, v in event.settings.items())
            figure = f" {event.metric:.4f}" if isinstance(event.metric, float) else ""
            why = f" ({event.message})" if event.message else ""
            print(f"trial {event.number} {event.state}{figure}: {settings}{why}", flush=True)
        elif isinstance(event, Message) and event.level == "warning":
            print(f"warning: {event.text}", file=sys.stderr, flush=True)

    return show


def _short(value) -> str:
    return f"{value:.3g}" if isinstance(value, float) else str(value)
