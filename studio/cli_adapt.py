"""`studio adapt`: continue masked-language-model pre-training of an encoder on the user's own text."""

from __future__ import annotations

import argparse
import threading


def add_parser(commands) -> None:
    """Add the `adapt` subcommand; its defaults are AdaptConfig's."""
    from studio.core.config import DEVICES, PRECISIONS

    adapt = commands.add_parser(
        "adapt",
        help="adapt a model to your domain's text (masked-language-model pre-training) before training it",
        description="Continue the pre-training of an encoder on unlabelled text of your domain, the way BERT was "
        "pre-trained (mask some words, predict them), then fine-tune the result with `studio train --model DIR`. "
        "Short passages are packed into full blocks, so no compute is spent on padding; the held-out perplexity "
        "is measured before and after.",
    )
    adapt.add_argument(
        "--corpus",
        metavar="FILE",
        help="a plain text file (one passage a line) or a CSV file (its text column: inferred, or --text-column)",
    )
    adapt.add_argument("--text-column", metavar="NAME", help="the CSV column holding the text (default: inferred)")
    adapt.add_argument("--model", metavar="MODEL", help="hub id or model folder (default: the built-in model)")
    length = adapt.add_mutually_exclusive_group()
    length.add_argument(
        "--epochs",
        type=float,
        metavar="E",
        help="passes over the text (default: 3, or more on a small corpus, so that at least 150 steps run; at most 20)",
    )
    length.add_argument("--steps", type=int, metavar="N", help="optimizer steps, instead of --epochs")
    adapt.add_argument(
        "--mlm-probability",
        type=float,
        metavar="P",
        help="share of the tokens (or words) masked and predicted (default: 0.15)",
    )
    adapt.add_argument(
        "--whole-word",
        action="store_true",
        default=None,
        help="mask every piece of a chosen word together, not single word pieces",
    )
    adapt.add_argument("--max-length", type=int, metavar="N", help="tokens per packed block (default: 128)")
    adapt.add_argument("--lr", type=float, dest="learning_rate", metavar="LR", help="learning rate (default: 1e-4)")
    adapt.add_argument("--batch-size", type=int, metavar="N", help="blocks per batch (default: 16)")
    adapt.add_argument("--gradient-accumulation", type=int, metavar="N", help="batches per optimizer step")
    adapt.add_argument("--seed", type=int, help="random seed, also of the held-out split and its masks (default: 42)")
    adapt.add_argument(
        "--validation-share",
        type=float,
        metavar="S",
        help="share of the passages held out to measure the perplexity (default: 0.1, at most 1,000 passages)",
    )
    adapt.add_argument("--device", choices=DEVICES, help="where to train (default: auto, a GPU when there is one)")
    adapt.add_argument("--precision", choices=PRECISIONS, help="number format (default: auto)")
    adapt.add_argument("--allow-pickle", action="store_true", default=None, help=argparse.SUPPRESS)
    adapt.add_argument("--trust-remote-code", action="store_true", default=None, help=argparse.SUPPRESS)
    adapt.add_argument(
        "--output",
        dest="output_dir",
        metavar="DIR",
        help="folder to write the adapted model to (with adapt_metrics.json)",
    )
    adapt.add_argument("--resume", metavar="RUN", help="resume a stopped or crashed adaptation from its run folder")


_OPTIONS = (
    "corpus",
    "text_column",
    "model",
    "epochs",
    "steps",
    "mlm_probability",
    "whole_word",
    "max_length",
    "learning_rate",
    "batch_size",
    "gradient_accumulation",
    "seed",
    "validation_share",
    "device",
    "precision",
    "allow_pickle",
    "trust_remote_code",
    "output_dir",
)


def run(args) -> int:
    """Adapt (or resume an adaptation), print the perplexity before and after and where the model is."""
    from studio.cli import stop_on_ctrl_c
    from studio.core.errors import StudioError
    from studio.core.quiet import quiet_libraries

    given = {name: getattr(args, name) for name in _OPTIONS if getattr(args, name, None) is not None}
    if args.resume:
        if set(given) - {"output_dir"}:
            raise StudioError("A resumed adaptation keeps its own settings; give only --resume RUN (and --output).")
    else:
        if not given.get("corpus"):
            raise StudioError("Give the text to adapt on with --corpus FILE (or --resume RUN to resume a run).")
        if not given.get("output_dir"):
            raise StudioError("Give the folder to write the adapted model to with --output DIR.")
    stop = threading.Event()
    stop_on_ctrl_c(stop)
    quiet_libraries()
    from studio.core.adapt import AdaptConfig, resume_adapt, run_adapt

    reporter = _reporter()
    try:
        if args.resume:
            result = resume_adapt(args.resume, reporter, stop, output_dir=given.get("output_dir"))
        else:
            result = run_adapt(AdaptConfig(**given), reporter, stop)
    finally:
        reporter.close()
    m = result.metrics
    state = "stopped early; resume it with --resume" if result.stopped else "done"
    print(
        f"{state}: held-out perplexity {m['perplexity_before']:,.2f} -> {m['perplexity_after']:,.2f} on "
        f"{m['heldout_tokens']:,} tokens, {m['seconds']:.1f} s of training ({m['tokens_per_second']:,.0f} tokens/s)"
    )
    print(f"model: {result.output_dir or result.model_dir}")
    return 0


def _reporter():
    """The train command's terminal reporter, which also shows each held-out perplexity."""
    from studio.cli_progress import TerminalReporter
    from studio.core.events import PerplexityEvaluated

    reporter = TerminalReporter()

    def evaluated(event: PerplexityEvaluated) -> None:
        if event.phase == "before":
            return  # the engine says it in a message of its own
        reporter.line(
            f"step {event.step} (epoch {event.epoch:.2f}): held-out loss {event.loss:.4f}, "
            f"perplexity {event.perplexity:,.2f}"
        )

    reporter.on(PerplexityEvaluated, evaluated)
    return reporter
