"""The `studio` command: train and predict headless on the same engine as the app; no arguments opens the app."""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import threading

from studio import __version__

log = logging.getLogger("studio.cli")


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage mistake is one line that begins with `error:`."""

    def error(self, message: str):
        self.exit(2, f"error: {message} (see `{self.prog} --help`)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="studio",
        description="Fine-Tuning Studio: fine-tune a transformer on your CSV data. "
        "Without a command, opens the desktop app.",
    )
    parser.add_argument("--version", action="version", version=f"studio {__version__}")
    commands = parser.add_subparsers(dest="command", parser_class=_Parser)

    train = commands.add_parser("train", help="fine-tune a model on a CSV file")
    train.add_argument("--train", metavar="CSV", help="training CSV file")
    train.add_argument("--validation", metavar="CSV", help="validation CSV (default: hold out --validation-share)")
    train.add_argument("--model", metavar="MODEL", help="hub id or model folder (default: the built-in model)")
    train.add_argument("--text-column", metavar="NAME", help="column holding the text (default: inferred)")
    train.add_argument("--label-column", metavar="NAME", help="column holding the label (default: inferred)")
    train.add_argument("--lr", type=float, default=5e-5, help="learning rate (default: 5e-5)")
    train.add_argument("--epochs", type=float, default=3.0, help="epochs (default: 3)")
    train.add_argument("--batch-size", type=int, default=32, help="batch size (default: 32)")
    train.add_argument("--max-length", type=int, default=128, help="maximum tokens per text (default: 128)")
    train.add_argument("--freeze-layers", type=int, default=0, help="freeze embeddings and the bottom N layers")
    train.add_argument("--seed", type=int, default=42, help="random seed (default: 42)")
    train.add_argument("--validation-share", type=float, default=0.1, help="share held out when no validation file")
    train.add_argument("--gradient-accumulation", type=int, default=1, help="batches per optimizer step")
    train.add_argument("--weight-decay", type=float, default=0.01, help="AdamW weight decay (default: 0.01)")
    train.add_argument("--warmup-ratio", type=float, default=0.0, help="share of steps for learning-rate warm-up")
    train.add_argument("--evaluations-per-epoch", type=int, default=1, help="validation passes per epoch")
    train.add_argument(
        "--checkpoint-minutes",
        type=float,
        default=5.0,
        help="minutes between checkpoints to resume from after a crash (default: 5)",
    )
    train.add_argument("--device", choices=("auto", "cpu", "cuda", "mps"), default="auto")
    train.add_argument("--precision", choices=("auto", "fp32", "bf16", "fp16"), default="auto")
    train.add_argument("--allow-pickle", action="store_true", help="allow pickle weights (only from sources you trust)")
    train.add_argument("--trust-remote-code", action="store_true", help="run the model repository's own code")
    train.add_argument("--output", metavar="DIR", help="folder to export the trained model to")
    train.add_argument("--resume", metavar="FOLDER", help="resume a stopped or crashed run from its folder")
    train.add_argument(
        "--retry-on-oom",
        action="store_true",
        help="if the GPU runs out of memory, retry with half the batch size and twice the accumulation",
    )

    predict = commands.add_parser("predict", help="label texts or a CSV with an exported model")
    predict.add_argument("--model", metavar="DIR", required=True, help="exported model folder")
    predict.add_argument("--text", action="append", metavar="TEXT", help="a text to label (repeatable)")
    predict.add_argument("--input", metavar="CSV", help="CSV of texts to label")
    predict.add_argument("--output", metavar="CSV", help="CSV to write the predictions to")
    predict.add_argument("--text-column", metavar="NAME", help="text column of --input (default: inferred)")
    predict.add_argument("--device", choices=("auto", "cpu", "cuda", "mps"), default="auto")

    export = commands.add_parser("export", help="export a run's model to a folder")
    export.add_argument("--run", metavar="FOLDER", required=True, help="run folder (printed as `run:` by train)")
    export.add_argument("--output", metavar="DIR", required=True, help="folder to write the model to")

    commands.add_parser("runs", help="list training runs and their status")
    return parser


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
    from studio.core.config import BUILTIN_MODEL, TrainConfig
    from studio.core.errors import StudioError
    from studio.core.quiet import quiet_libraries

    if not args.resume and not args.train:
        raise StudioError("Give the training file with --train CSV (or --resume FOLDER to resume a run).")
    if not args.resume and not args.output:
        raise StudioError("Give the folder to export the model to with --output DIR.")
    stop = threading.Event()
    _stop_on_ctrl_c(stop)
    quiet_libraries()
    from studio.cli_progress import TerminalReporter
    from studio.core.training import resume_training

    reporter = TerminalReporter()
    try:
        if args.resume:
            result = resume_training(args.resume, reporter, stop, output_dir=args.output)
        else:
            config = TrainConfig(
                train_csv=args.train,
                validation_csv=args.validation,
                model=args.model or BUILTIN_MODEL,
                text_column=args.text_column,
                label_column=args.label_column,
                learning_rate=args.lr,
                epochs=args.epochs,
                batch_size=args.batch_size,
                max_length=args.max_length,
                freeze_layers=args.freeze_layers,
                seed=args.seed,
                validation_share=args.validation_share,
                gradient_accumulation=args.gradient_accumulation,
                weight_decay=args.weight_decay,
                warmup_ratio=args.warmup_ratio,
                evaluations_per_epoch=args.evaluations_per_epoch,
                checkpoint_minutes=args.checkpoint_minutes,
                device=args.device,
                precision=args.precision,
                allow_pickle=args.allow_pickle,
                trust_remote_code=args.trust_remote_code,
                output_dir=args.output,
            )
            result = _train_retrying(config, reporter, stop, args.retry_on_oom)
    finally:
        reporter.close()
    from studio.core.runs import is_main_process

    if not is_main_process():
        return 0  # the other torchrun ranks stay quiet; rank 0 reports
    m = result.metrics
    state = "stopped early; resume it with --resume" if result.stopped else "done"
    print(
        f"{state}: f1 {m['f1']:.4f}, accuracy {m['accuracy']:.4f}, loss {m['loss']:.4f}, "
        f"{m['train_seconds']:.1f} s of training"
    )
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
        for text, pred in zip(args.text, predictor.predict(args.text), strict=False):
            print(
                json.dumps(
                    {
                        "text": text,
                        "label": pred.label,
                        "score": round(pred.score, 6),
                        "probabilities": {k: round(v, 6) for k, v in pred.probabilities.items()},
                    },
                    ensure_ascii=False,
                )
            )
        return 0
    rows = predictor.predict_csv(args.input, args.output, text_column=args.text_column)
    print(f"wrote {rows} predictions to {args.output}")
    return 0


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
        f1 = f"f1 {run.metrics['f1']:.4f}" if run.metrics else ""
        resumable = "resumable" if run.resumable else ""
        print("\t".join(x for x in (run.status, f1, resumable, str(run.path)) if x))
    return 0
