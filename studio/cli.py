"""The `studio` command: train and predict headless on the same engine as the app; no arguments opens the app."""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import threading
from dataclasses import MISSING, fields

from studio import __version__
from studio.core.config import DEVICES, TrainConfig, field_types

log = logging.getLogger("studio.cli")


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage mistake is one line that begins with `error:`."""

    def error(self, message: str):
        self.exit(2, f"error: {message} (see `{self.prog} --help`)\n")


def build_parser(config_cls: type[TrainConfig] = TrainConfig) -> argparse.ArgumentParser:
    """The `studio` command line; `studio train` offers one option for each field of `config_cls` with a flag."""
    parser = _Parser(
        prog="studio",
        description="Fine-Tuning Studio: fine-tune a transformer on your CSV data. "
        "Without a command, opens the desktop app.",
    )
    parser.add_argument("--version", action="version", version=f"studio {__version__}")
    commands = parser.add_subparsers(dest="command", parser_class=_Parser)

    train = commands.add_parser("train", help="fine-tune a model on a CSV file")
    train.add_argument(
        "--config",
        metavar="FILE",
        help="settings saved as JSON or TOML (a run's config.json, or the app's Save settings); "
        "options given here override them",
    )
    add_config_options(train, config_cls)
    train.add_argument("--resume", metavar="FOLDER", help="resume a stopped or crashed run from its folder")
    train.add_argument(
        "--retry-on-oom",
        action="store_true",
        help="if the GPU runs out of memory, retry with half the batch size and twice the accumulation",
    )

    predict = commands.add_parser("predict", help="label texts or a CSV with an exported model")
    predict.add_argument("--model", metavar="DIR", required=True, help="exported model folder")
    predict.add_argument("--text", action="append", metavar="TEXT", help="a text to label (repeatable)")
    predict.add_argument(
        "--text-pair",
        action="append",
        metavar="TEXT",
        help="the second text of a pair, for a model trained on pairs (one per --text, in the same order)",
    )
    predict.add_argument("--input", metavar="CSV", help="CSV of texts to label")
    predict.add_argument("--output", metavar="CSV", help="CSV to write the predictions to")
    predict.add_argument("--text-column", metavar="NAME", help="text column of --input (default: inferred)")
    predict.add_argument(
        "--pair-column", metavar="NAME", help="second-text column of --input, for a model trained on pairs"
    )
    predict.add_argument("--device", choices=DEVICES, default="auto")

    export = commands.add_parser("export", help="export a run's model to a folder")
    export.add_argument("--run", metavar="FOLDER", required=True, help="run folder (printed as `run:` by train)")
    export.add_argument("--output", metavar="DIR", required=True, help="folder to write the model to")

    commands.add_parser("runs", help="list training runs and their status")
    return parser


def add_config_options(parser: argparse.ArgumentParser, config_cls: type[TrainConfig] = TrainConfig) -> None:
    """One option per config field whose metadata names a flag: its type, choices, help and default come from the field.

    The default stays out of the parsed namespace (argparse.SUPPRESS), so that only the options actually given
    override a --config file; config_from_args fills in the rest.
    """
    types = field_types(config_cls)
    for f in fields(config_cls):
        flag = f.metadata.get("flag")
        if not flag:
            continue
        kind, _ = types[f.name]
        default = f.default if f.default is not MISSING else None
        text = f.metadata.get("help", "")
        options: dict = {"dest": f.name, "default": argparse.SUPPRESS}
        if kind is bool:
            # A setting that is on by default needs its --no- form to be turned off.
            options["action"] = argparse.BooleanOptionalAction if default is True else "store_true"
        else:
            options["type"] = kind
            if f.metadata.get("choices"):
                options["choices"] = tuple(f.metadata["choices"])
            else:
                options["metavar"] = f.metadata.get("metavar") or flag.lstrip("-").upper().replace("-", "_")
            if default is not None and default != "" and "(default" not in text:
                text = f"{text} (default: {default})"
        options["help"] = text.replace("%", "%%")
        parser.add_argument(flag, **options)


def config_from_args(args: argparse.Namespace, config_cls: type[TrainConfig] = TrainConfig) -> TrainConfig:
    """The --config file's settings (or the defaults without one), with each option given on the command line on top."""
    base = config_cls.load(args.config) if getattr(args, "config", None) else config_cls()
    given = {f.name: getattr(args, f.name) for f in fields(config_cls) if hasattr(args, f.name)}
    return base.with_changes(**given)


def main(argv: list[str] | None = None) -> int:
    """Run one command; `studio` without one (the app) is studio.launcher's, so that this module never loads Qt."""
    argv = sys.argv[1:] if argv is None else argv
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    from studio.core.errors import StudioError
    from studio.core.logfile import setup_file_logging

    logfile = setup_file_logging()
    try:
        return {"train": _train, "predict": _predict, "export": _export, "runs": _runs}[args.command](args)
    except StudioError as exc:
        log.info("refused: %s", exc)
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        log.exception("unexpected failure")
        print(f"error: unexpected failure ({type(exc).__name__}: {exc}); details are in {logfile}", file=sys.stderr)
        return 1


def _train(args) -> int:
    from studio.core.errors import StudioError
    from studio.core.quiet import quiet_libraries

    config = None
    if args.resume:
        if args.config:
            raise StudioError("Give either --resume FOLDER or --config FILE: a resumed run keeps its own settings.")
    else:
        config = config_from_args(args)
        if not config.train_csv:
            raise StudioError("Give the training file with --train CSV (or --resume FOLDER to resume a run).")
        if not config.output_dir:
            raise StudioError("Give the folder to export the model to with --output DIR.")
    stop = threading.Event()
    _stop_on_ctrl_c(stop)
    quiet_libraries()
    from studio.cli_progress import TerminalReporter
    from studio.core.training import resume_training

    reporter = TerminalReporter()
    try:
        if config is None:
            result = resume_training(args.resume, reporter, stop, output_dir=getattr(args, "output_dir", None))
        else:
            result = _train_retrying(config, reporter, stop, args.retry_on_oom)
    finally:
        reporter.close()
    from studio.core.runs import is_main_process

    if not is_main_process():
        return 0  # the other torchrun ranks stay quiet; rank 0 reports
    state = "stopped early; resume it with --resume" if result.stopped else "done"
    print(f"{state}: {summary_line(result.metrics)}, {result.metrics['train_seconds']:.1f} s of training")
    if result.export_error:
        print(f"error: {result.export_error}", file=sys.stderr)
        return 2
    print(f"model: {result.output_dir or result.model_dir}")
    return 0


def _train_retrying(config, reporter, stop, retry_on_oom: bool):
    from studio.core.errors import OutOfMemoryError
    from studio.core.training import run_training

    while True:
        try:
            return run_training(config, reporter, stop)
        except OutOfMemoryError as exc:
            if not retry_on_oom or exc.retry_config is None:
                raise OutOfMemoryError(
                    f"{exc} (--retry-on-oom does this for you)" if exc.retry_config else str(exc)
                ) from exc
            config = exc.retry_config
            print(
                f"warning: {exc}; retrying with batch size {config.batch_size} and gradient accumulation "
                f"{config.gradient_accumulation}",
                file=sys.stderr,
            )


def _stop_on_ctrl_c(stop: threading.Event) -> None:
    # The first Ctrl-C stops after the current step, keeping the best checkpoint; a second one aborts.
    if threading.current_thread() is not threading.main_thread():
        return

    def handler(signum, frame):
        if stop.is_set():
            raise KeyboardInterrupt
        stop.set()
        print("\nstopping after this step (Ctrl-C again to abort)...", file=sys.stderr)

    signal.signal(signal.SIGINT, handler)


def _predict(args) -> int:
    from studio.core.errors import StudioError
    from studio.core.quiet import quiet_libraries

    if bool(args.text) == bool(args.input):
        raise StudioError("Give either --text TEXT (one or more) or --input CSV with --output CSV.")
    if args.input and not args.output:
        raise StudioError("Give the file to write the predictions to with --output CSV.")
    quiet_libraries()
    from studio.core.inference import Predictor

    predictor = Predictor(args.model, device=args.device)
    if args.text:
        if args.text_pair is not None and len(args.text_pair) != len(args.text):
            raise StudioError(
                f"Give one --text-pair for each --text ({len(args.text)} texts, {len(args.text_pair)} pairs)."
            )
        for text, pred in zip(args.text, predictor.predict(args.text, args.text_pair), strict=False):
            print(json.dumps({"text": text, **prediction_fields(pred)}, ensure_ascii=False))
        return 0
    rows = predictor.predict_csv(args.input, args.output, text_column=args.text_column, pair_column=args.pair_column)
    print(f"wrote {rows} predictions to {args.output}")
    return 0


def prediction_fields(pred) -> dict:
    """A prediction as JSON fields: the label and score, and what the task adds (labels, value, entities)."""
    fields_: dict = {"label": pred.label, "score": round(pred.score, 6)}
    if pred.probabilities:
        fields_["probabilities"] = {k: round(v, 6) for k, v in pred.probabilities.items()}
    if pred.chosen:
        fields_["labels"] = list(pred.chosen)
    if pred.value is not None:
        fields_["value"] = pred.value
    if pred.entities:
        fields_["entities"] = list(pred.entities)
    return fields_


def summary_line(metrics: dict) -> str:
    """The task's figures, headline first: `f1 0.9123, accuracy 0.9500, loss 0.2100`."""
    from studio.core.tasks import get_task

    task = get_task(str(metrics.get("task", "single")))
    keys = dict.fromkeys([task.main_metric, *task.shown_scalars, "loss"])
    return ", ".join(f"{k} {metrics[k]:.4f}" for k in keys if isinstance(metrics.get(k), (int, float)))


def _export(args) -> int:
    from studio.core.export import export_folder
    from studio.core.runs import MODEL, load_run

    run = load_run(args.run)
    dest = export_folder(run.path / MODEL, args.output)
    print(f"exported to {dest}")
    return 0


def _runs(args) -> int:
    from studio.core.runs import list_runs

    for run in list_runs():
        f1 = summary_line(run.metrics) if run.metrics else ""
        resumable = "resumable" if run.resumable else ""
        print("\t".join(x for x in (run.status, f1, resumable, str(run.path)) if x))
    return 0
