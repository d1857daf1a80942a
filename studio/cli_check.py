"""`studio check`: the pre-flight data check on the command line; findings are advice, the exit code is 0."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

SHOWN_GROUPS = 5  # groups (or pairs) listed under a finding; --json has them all


def add_parser(commands) -> None:
    """Add the `check` subcommand."""
    check = commands.add_parser(
        "check",
        help="check training data before training: duplicates, leakage, conflicting labels, long texts, rare labels",
        description="Reads the files the way `studio train` does and prints what may hurt the model or flatter its "
        "score, with the 1-based data rows (the header is not a row) each finding points at. Findings are advice: "
        "the exit code is 0 whatever is found, 2 when the files cannot be read.",
    )
    check.add_argument("--train", metavar="CSV", dest="check_train", required=True, help="the training file")
    check.add_argument("--validation", metavar="CSV", dest="check_validation", help="the validation file, if any")
    check.add_argument("--json", metavar="FILE", dest="check_json", help="also write every finding as JSON to FILE")
    check.add_argument("--text-column", metavar="NAME", dest="check_text", help="text column (default: inferred)")
    check.add_argument("--label-column", metavar="NAME", dest="check_label", help="label column (default: inferred)")
    check.add_argument(
        "--pair-column", metavar="NAME", dest="check_pair", help="second-text column of a pair task (default: inferred)"
    )
    check.add_argument(
        "--task",
        metavar="TASK",
        dest="check_task",
        help="single, multi, regression, pair or token (default: detected from the file, as train does)",
    )
    check.add_argument(
        "--model",
        metavar="MODEL",
        dest="check_model",
        help="the model whose tokenizer counts the tokens of each text (default: the built-in model); a hub id is "
        "read from the local cache only",
    )
    check.add_argument(
        "--max-length",
        metavar="N",
        type=int,
        default=128,
        dest="check_max_length",
        help="tokens per text before training cuts it (default: 128, as train)",
    )
    check.add_argument(
        "--no-tokenizer",
        action="store_true",
        dest="check_no_tokenizer",
        help="estimate the lengths from the words instead of loading the tokenizer",
    )


def run(args: argparse.Namespace) -> int:
    """Check the files, print the findings, write --json; 0 when it ran, whatever it found."""
    from studio.core.errors import StudioError
    from studio.core.preflight import check_data

    if args.check_max_length < 8:
        raise StudioError(f"The max length must be at least 8 tokens (got {args.check_max_length}).")
    if args.check_json and Path(args.check_json).is_dir():
        raise StudioError(f"{args.check_json} is a folder; give --json a file name such as check.json.")
    report = check_data(
        args.check_train,
        args.check_validation,
        task=args.check_task,
        text_column=args.check_text,
        label_column=args.check_label,
        pair_column=args.check_pair,
        model=args.check_model,
        max_length=args.check_max_length,
        use_tokenizer=not args.check_no_tokenizer,
    )
    for line in report_lines(report):
        print(line)
    if args.check_json:
        path = Path(args.check_json)
        try:
            path.write_text(json.dumps(report.to_json(), ensure_ascii=False, indent=1), encoding="utf-8")
        except OSError as exc:
            raise StudioError(f"Could not write {path}: {exc.strerror or exc}; choose another --json file.") from exc
        print(f"wrote {path}")
    sys.stdout.flush()
    return 0


def report_lines(report) -> list[str]:
    """The findings as readable lines: a heading, then per finding its severity, message and rows."""
    from studio.core.tasks import get_task

    columns = report.columns
    pair = f", second text {columns.pair!r}" if columns.pair else ""
    files = f"{Path(report.train).name} ({report.train_rows:,} rows)"
    if report.validation:
        files += f" and {Path(report.validation).name} ({report.validation_rows:,} rows)"
    lines = [
        f"checked {files} as {get_task(report.task).title.lower()} (text {columns.text!r}, label "
        f"{columns.label!r}{pair}) in {report.seconds:.1f} s",
    ]
    if not report.findings:
        lines.append("no findings: no duplicates, leakage, conflicting labels, empty or long texts or rare labels")
        return lines
    lines.append(f"{len(report.findings)} findings (advice: training still starts); rows are 1-based data rows")
    for finding in report.findings:
        lines.append("")
        lines.append(f"{finding.severity}: {finding.kind}: {finding.message}")
        for note in finding.notes[:SHOWN_GROUPS]:
            lines.append(f"  {note}")
        if len(finding.notes) > SHOWN_GROUPS:
            lines.append(f"  ... and {len(finding.notes) - SHOWN_GROUPS:,} more (all of them with --json FILE)")
    return lines
