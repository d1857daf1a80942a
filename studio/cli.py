"""The `studio` command: train and predict headless on the same engine as the app; no arguments opens the app."""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import threading
from dataclasses import MISSING, fields
from pathlib import Path

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
    export.add_argument(
        "--adapter-only",
        action="store_true",
        help="write only the LoRA adapter of a run trained with --lora (with its tokenizer and a README on loading "
        "it with peft), not the merged model",
    )
    export.add_argument(
        "--format",
        choices=("hf", "onnx", "onnx-int8"),
        default="hf",
        help="hf: a Hugging Face folder (safetensors); onnx: model.onnx for ONNX Runtime, checked against PyTorch on "
        "the run's validation rows (refused below 99.5%% agreement); onnx-int8: the same with int8 weights, "
        "its agreement and F1 reported (default: hf)",
    )

    runs = commands.add_parser("runs", help="list training runs and their status, or compare runs")
    runs.add_argument(
        "--compare",
        nargs="+",
        metavar="RUN",
        help="compare two or more run folders: their final figures and their settings side by side (* marks the "
        "settings that differ)",
    )
    runs.add_argument(
        "--differences-only", action="store_true", help="with --compare: list only the settings that differ"
    )
    from studio import cli_search

    cli_search.add_parser(commands)
    from studio import cli_check

    cli_check.add_parser(commands)
    from studio import cli_mislabels

    cli_mislabels.add_parser(commands)
    from studio import cli_adapt

    cli_adapt.add_parser(commands)
    from studio import cli_report

    cli_report.add_parser(commands)
    return parser


def add_config_options(
    parser: argparse.ArgumentParser, config_cls: type[TrainConfig] = TrainConfig, exclude: tuple[str, ...] = ()
) -> None:
    """One option per config field whose metadata names a flag: its type, choices, help and default come from the field.

    The default stays out of the parsed namespace (argparse.SUPPRESS), so that only the options actually given
    override a --config file; config_from_args fills in the rest.
    """
    types = field_types(config_cls)
    for f in fields(config_cls):
        flag = f.metadata.get("flag")
        if not flag or f.name in exclude:
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
        from studio import cli_adapt, cli_check, cli_mislabels, cli_report, cli_search

        handlers = {
            "train": _train,
            "predict": _predict,
            "export": _export,
            "runs": _runs,
            "search": cli_search.run,
            "check": cli_check.run,
            "mislabels": cli_mislabels.run,
            "adapt": cli_adapt.run,
            "report": cli_report.run,
        }
        return handlers[args.command](args)
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
    stop_on_ctrl_c(stop)
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
    if result.metrics.get("stop_reason") == "early stopping":
        state = f"done (early stopping: the best step, {result.metrics.get('best_step')}, is the model kept)"
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


def stop_on_ctrl_c(stop: threading.Event) -> None:
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
    from studio.core.onnx_predict import is_onnx_export, load_predictor

    # An ONNX export runs on onnxruntime: neither torch nor transformers is imported for it.
    if not is_onnx_export(args.model):
        quiet_libraries()
    predictor = load_predictor(args.model, device=args.device)
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
    from studio.core.export import export_adapter, export_folder
    from studio.core.runs import MODEL, load_run

    run = load_run(args.run)
    if args.format != "hf":
        return _export_onnx(args, run)
    if args.adapter_only:
        lora = bool(run.config is not None and run.config.lora)
        dest = export_adapter(run.path, args.output, trained_with_lora=lora)
        print(f"exported the adapter to {dest}")
        return 0
    dest = export_folder(run.path / MODEL, args.output)
    print(f"exported to {dest}")
    return 0


def _export_onnx(args, run) -> int:
    from studio.core.errors import StudioError
    from studio.core.onnx_export import export_onnx
    from studio.core.quiet import quiet_libraries

    if args.adapter_only:
        raise StudioError("--adapter-only writes a LoRA adapter for PyTorch; leave it out to export ONNX.")
    quiet_libraries()
    report = export_onnx(run.path, args.output, quantize=args.format == "onnx-int8", progress=_say)
    print(report.sentence())
    print(f"exported to {Path(args.output).expanduser().absolute()}")
    return 0


def _say(text: str) -> None:
    print(f"{text} ...", file=sys.stderr, flush=True)


def _runs(args) -> int:
    from studio.core.runs import list_runs

    if args.compare:
        from studio.core.compare import compare_runs

        print(compare_runs(args.compare).table(only_differences=args.differences_only), end="")
        return 0
    for run in list_runs():
        f1 = summary_line(run.metrics) if run.metrics else ""
        resumable = "resumable" if run.resumable else ""
        print("\t".join(x for x in (run.status, f1, resumable, str(run.path)) if x))
    return 0
