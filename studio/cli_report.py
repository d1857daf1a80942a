"""`studio report`: write one self-contained HTML report of a run, to read in any browser or send on."""

from __future__ import annotations

import argparse


def add_parser(commands) -> None:
    """Add the `report` subcommand."""
    report = commands.add_parser(
        "report",
        help="write a run's report as one self-contained HTML file",
        description="Writes one HTML file with everything inline (no links to fetch): the run's final figures, its "
        "loss and score curves as images, the confusion matrix, the per-class table, a summary of the data with "
        "the pre-flight check's findings, the settings, and the rows most likely mislabelled (from mislabels.csv "
        "in the run folder if `studio mislabels` wrote one there, else ranked with the run's model).",
    )
    report.add_argument("--run", metavar="FOLDER", required=True, dest="report_run", help="the run folder")
    report.add_argument("--output", metavar="FILE.html", required=True, dest="report_output", help="file to write")
    report.add_argument(
        "--no-check", action="store_true", help="leave out the pre-flight check of the run's data files (faster)"
    )
    report.add_argument(
        "--no-mislabels",
        action="store_true",
        help="do not rank the validation rows with the run's model when the run folder has no mislabels.csv",
    )


def run(args: argparse.Namespace) -> int:
    """Write the report and print where it went."""
    from studio.core.quiet import quiet_libraries
    from studio.core.report import write_report

    if not (args.no_check and args.no_mislabels):
        quiet_libraries()  # the tokenizer and the model load only for these sections
    path = write_report(
        args.report_run, args.report_output, check_data=not args.no_check, find_mislabels=not args.no_mislabels
    )
    print(f"wrote the report to {path}")
    return 0
