"""`studio mislabels`: the rows of a run's data most likely mislabelled, ranked, as a CSV."""

from __future__ import annotations

import argparse
import sys
import threading


def add_parser(commands) -> None:
    """Add the `mislabels` subcommand."""
    from studio.core.config import DEVICES

    mislabels = commands.add_parser(
        "mislabels",
        help="rank a run's rows by how likely their label is wrong (confident learning)",
        description="Scores each validation row of a finished run from the run's model, which never trained on it, "
        "with confident learning (cleanlab), and writes the rows ranked, most likely mislabelled first. With "
        "--thorough the training rows are scored too, from k models each trained on the other folds. `row` is "
        "the 1-based data row of the file the row came from (the header not counted); validation rows held out "
        "of the training file carry that file's row numbers.",
    )
    mislabels.add_argument("--run", metavar="FOLDER", required=True, help="a finished run's folder")
    mislabels.add_argument(
        "--output",
        metavar="CSV",
        required=True,
        help="CSV to write the candidates to (columns split, row, text, label, suggested, score, flagged, file; "
        "and text_pair for pairs)",
    )
    mislabels.add_argument(
        "--thorough",
        action="store_true",
        help="also score the training rows, by k-fold: trains --folds models with the run's settings (slow)",
    )
    mislabels.add_argument("--folds", type=int, default=5, metavar="K", help="folds for --thorough (default: 5)")
    mislabels.add_argument(
        "--fold-epochs",
        type=float,
        metavar="N",
        help="epochs of each fold's model with --thorough (default: the run's)",
    )
    mislabels.add_argument(
        "--top", type=int, metavar="N", help="write only the N most likely mislabelled rows (default: every row)"
    )
    mislabels.add_argument("--device", choices=DEVICES, default="auto", help="where to predict and train")


def run(args: argparse.Namespace) -> int:
    """Find the candidates, write them, and print where they went and how many confident learning flags."""
    from studio.core.errors import StudioError
    from studio.core.mislabels import find_mislabels, write_candidates

    if args.top is not None and args.top < 1:
        raise StudioError(f"--top must be 1 or more (got {args.top}).")
    stop = threading.Event()
    last = {"shown": -1}

    def progress(done: float, message: str) -> None:
        # A line when the rounded percentage moves, not one per training step.
        percent = int(done * 100)
        if percent != last["shown"]:
            last["shown"] = percent
            print(f"[{percent:3d}%] {message}", file=sys.stderr, flush=True)

    try:
        report = find_mislabels(
            args.run,
            thorough=args.thorough,
            folds=args.folds,
            fold_epochs=args.fold_epochs,
            progress=progress,
            stop=stop,
            device=args.device,
        )
    except KeyboardInterrupt:
        stop.set()
        raise
    written = write_candidates(report, args.output, args.top)
    for note in report.notes:
        print(note)
    flagged = len(report.flagged)
    print(
        f"wrote {written} ranked rows to {args.output}; confident learning flags {flagged} of "
        f"{len(report.candidates)} as likely mislabelled"
    )
    return 0
