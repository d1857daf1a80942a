"""A run's report as one self-contained HTML file: data, pre-flight findings, settings, curves, figures, errors."""

from __future__ import annotations

import csv
import logging
import os
from collections.abc import Callable
from dataclasses import fields
from datetime import datetime
from html import escape
from pathlib import Path
from typing import Any

from studio.core.compare import ComparedRun, figure_rows, figure_text, load_compared
from studio.core.errors import StudioError
from studio.core.report_svg import Series, line_chart
from studio.core.runs import read_events

log = logging.getLogger(__name__)

TOP_MISLABELS = 20
SHOWN_ROWS = 12
# What `studio mislabels --output` is told to write into the run folder, for the report to pick up.
MISLABELS_CSV = "mislabels.csv"
DATA_FILES = frozenset({"train_csv", "validation_csv", "output_dir"})
NO_MISLABELS = (
    "No mislabel candidates for this run yet: run studio mislabels first "
    "(`studio mislabels --run RUN --output RUN/mislabels.csv`, or the Evaluate page), then save the report again."
)

STYLE = """
body { font-family: -apple-system, "Segoe UI", Roboto, Helvetica, Arial, sans-serif; color: #1f2933;
       margin: 24px auto; max-width: 1140px; padding: 0 16px; line-height: 1.4; }
h1 { font-size: 22px; margin-bottom: 2px; } h2 { font-size: 17px; margin-top: 28px; border-bottom: 1px solid #ddd; }
.sub { color: #52606d; margin-top: 0; }
table { border-collapse: collapse; margin: 8px 0; font-size: 13px; }
th, td { border: 1px solid #d9dee3; padding: 3px 8px; text-align: left; vertical-align: top; }
th { background: #f3f5f7; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
tr.changed td { font-weight: 600; } .muted { color: #7b8794; }
.finding { margin: 6px 0 10px; } .warning { color: #a04b00; } .info { color: #0b5394; }
.charts { display: flex; flex-wrap: wrap; gap: 12px; } .chart { border: 1px solid #e4e7eb; }
td.cell { text-align: center; min-width: 44px; }
.note { color: #52606d; font-style: italic; }
"""


def write_report(run_dir: str | Path, output: str | Path, check_data: bool = True, find_mislabels: bool = True) -> Path:
    """Write the run's report to `output` (atomically) and return its path; StudioError with a sentence if it cannot."""
    output = Path(output).expanduser()
    if output.is_dir():
        raise StudioError(f"{output} is a folder; give the report a file name such as {output / 'report.html'}.")
    page = build_report(run_dir, check_data=check_data, find_mislabels=find_mislabels)
    tmp = output.with_name(f".{output.name}.partial")
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_text(page, encoding="utf-8")
        os.replace(tmp, output)
    except OSError as exc:
        raise StudioError(f"Could not write the report to {output}: {exc.strerror or exc}.") from exc
    finally:
        tmp.unlink(missing_ok=True)
    return output


def build_report(run_dir: str | Path, check_data: bool = True, find_mislabels: bool = True) -> str:
    """The report's HTML. `check_data` runs the pre-flight check on the run's files; `find_mislabels` ranks the
    validation rows with the run's model when the run folder holds no mislabels.csv."""
    run, notes = load_compared(run_dir)
    events = read_events(run.path)
    started = next((e for e in events if e.get("kind") == "RunStarted"), {})
    sections = [
        _figures(run),
        _curves(run),
        _confusion(run.metrics),
        _per_class(run.metrics),
        _data(run, started, check_data),
        _settings(run),
        _mislabels(run, find_mislabels),
    ]
    title = f"Training report: {run.name}"
    subtitle = " · ".join(
        x
        for x in (
            _task_title(run.task),
            f"model {_short(run.settings.get('model', '?'))}",
            f"status {run.status}",
            f"written {datetime.now():%Y-%m-%d %H:%M}",
        )
        if x
    )
    note_html = "".join(f'<p class="note">{escape(n)}</p>' for n in notes)
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{escape(title)}</title><style>{STYLE}</style></head><body>"
        f"<h1>{escape(title)}</h1><p class='sub'>{escape(subtitle)}</p>"
        f"<p class='sub muted'>{escape(str(run.path))}</p>{note_html}" + "".join(sections) + "</body></html>\n"
    )


def _figures(run: ComparedRun) -> str:
    rows = figure_rows([run])
    if not rows:
        return "<h2>Final figures</h2><p class='note'>This run has no figures yet.</p>"
    body = "".join(
        f"<tr><td>{escape(r.title)}</td><td class='num'>{figure_text(r.key, r.values[0])}</td></tr>" for r in rows
    )
    return f"<h2 id='figures'>Final figures</h2><table class='figures'>{body}</table>"


def _curves(run: ComparedRun) -> str:
    c = run.curves
    loss = line_chart(
        [
            Series("training loss", c.loss.steps, c.loss.values),
            Series("validation loss", c.validation_loss.steps, c.validation_loss.values, markers=True),
        ],
        "Loss",
        "loss",
    )
    metric = line_chart(
        [Series(f"validation {c.metric_title}", c.metric.steps, c.metric.values, colour="#009E73", markers=True)],
        c.metric_title,
        c.metric_title,
    )
    return f"<h2 id='curves'>Curves</h2><div class='charts'>{loss}{metric}</div>"


def _confusion(metrics: dict[str, Any]) -> str:
    matrix = metrics.get("confusion") or []
    labels = [str(x) for x in metrics.get("labels") or []]
    if not matrix or len(labels) != len(matrix):
        return ""
    head = "".join(f"<th>{escape(label)}</th>" for label in labels)
    rows = []
    for i, row in enumerate(matrix):
        total = sum(row) or 1
        cells = []
        for j, count in enumerate(row):
            share = count / total
            # Right answers in green, mistakes in red, deeper with the row's share.
            rgb = (0, 158, 115) if i == j else (213, 94, 0)
            colour = f"rgba({rgb[0]},{rgb[1]},{rgb[2]},{0.08 + 0.6 * share:.2f})" if count else "#fff"
            cells.append(f"<td class='cell' style='background:{colour}'>{int(count):,}</td>")
        rows.append(f"<tr><th>{escape(labels[i])}</th>{''.join(cells)}</tr>")
    return (
        "<h2 id='confusion'>Confusion matrix</h2><p class='sub'>Rows: the true label; columns: the predicted one "
        f"(validation rows).</p><table class='confusion'><tr><th></th>{head}</tr>{''.join(rows)}</table>"
    )


def _per_class(metrics: dict[str, Any]) -> str:
    tables = (("per_class", "Per class"), ("per_label", "Per label"), ("per_entity", "Per entity type"))
    found = next(((metrics[k], t) for k, t in tables if isinstance(metrics.get(k), dict) and metrics[k]), None)
    if found is None:
        return ""
    table, title = found
    columns: list[str] = []
    for scores in table.values():
        columns += [c for c in (scores or {}) if c not in columns and isinstance(scores[c], (int, float))]
    head = "".join(f"<th>{escape(c)}</th>" for c in columns)
    body = "".join(
        f"<tr><td>{escape(str(name))}</td>"
        + "".join(f"<td class='num'>{_cell(scores.get(c))}</td>" for c in columns)
        + "</tr>"
        for name, scores in table.items()
    )
    return f"<h2 id='per-class'>{title}</h2><table class='per-class'><tr><th></th>{head}</tr>{body}</table>"


def _data(run: ComparedRun, started: dict[str, Any], check: bool) -> str:
    s = run.settings
    rows = [
        ("training file", s.get("train_csv") or "-"),
        ("validation file", s.get("validation_csv") or f"held out of the training file ({s.get('validation_share')})"),
        ("training rows", _count(started.get("train_rows"))),
        ("validation rows", _count(started.get("validation_rows"))),
        ("labels", ", ".join(str(x) for x in started.get("labels") or run.metrics.get("labels") or []) or "-"),
    ]
    parts = ["<h2 id='data'>Data</h2>", _pairs(rows)]
    if not check:
        return "".join(parts)
    try:
        report = _preflight(run.settings)
    except StudioError as exc:
        parts.append(f"<p class='note'>The pre-flight check could not run: {escape(str(exc))}</p>")
        return "".join(parts)
    except Exception as exc:  # the report is still worth having without this section
        log.warning("pre-flight check for the report failed", exc_info=True)
        parts.append(f"<p class='note'>The pre-flight check failed ({escape(type(exc).__name__)}).</p>")
        return "".join(parts)
    counts = report.values.get("label_counts") or {}
    if counts:
        parts.append("<p>Rows per label in the training file:</p>")
        parts.append(_pairs([(str(k), _count(v)) for k, v in counts.items()], "label-counts"))
    parts.append("<h2 id='preflight'>Pre-flight findings</h2>")
    if not report.findings:
        parts.append("<p>The pre-flight check found nothing to point out.</p>")
    for f in report.findings:
        shown = ", ".join(f"{r:,}" for r in f.rows[:SHOWN_ROWS]) + (" …" if len(f.rows) > SHOWN_ROWS else "")
        where = f" (rows of the {escape(f.file)} file: {shown})" if f.rows else ""
        parts.append(
            f"<div class='finding'><b class='{escape(f.severity)}'>{escape(f.title)}</b>: "
            f"{escape(f.message)}<span class='muted'>{where}</span></div>"
        )
    return "".join(parts)


def _preflight(settings: dict[str, Any]):
    from studio.core.preflight import check_data

    if not settings.get("train_csv"):
        raise StudioError("the run's settings name no training file.")
    return check_data(
        settings["train_csv"],
        settings.get("validation_csv") or None,
        task=settings.get("task"),
        text_column=settings.get("text_column"),
        label_column=settings.get("label_column"),
        pair_column=settings.get("pair_column"),
        model=settings.get("model"),
        max_length=int(settings.get("max_length") or 128),
    )


def _settings(run: ComparedRun) -> str:
    from studio.core.config import TrainConfig

    defaults = {f.name: f.default for f in fields(TrainConfig)}
    # A default of None is "decided for the run" (columns and task inferred, the task's learning rate), so the
    # value config.json holds is not the user's change; the files are the data, not settings with a default.
    decided = {name for name, default in defaults.items() if default is None} | DATA_FILES
    task_rate = TrainConfig(task=run.settings.get("task"), lora=run.settings.get("lora") is True)
    rows = []
    for name, value in run.settings.items():
        if name == "learning_rate":
            changed = value is not None and value != task_rate.effective_learning_rate
        else:
            changed = name in defaults and name not in decided and value != defaults[name]
        shown = "-" if value is None and name.endswith(("_csv", "_dir", "_column")) else _value(value)
        rows.append(f"<tr class='{'changed' if changed else ''}'><td>{escape(name)}</td><td>{escape(shown)}</td></tr>")
    return (
        "<h2 id='settings'>Settings</h2><p class='sub'>In bold: the settings changed from their defaults.</p>"
        f"<table class='settings'>{''.join(rows)}</table>"
    )


def _mislabels(run: ComparedRun, find: bool) -> str:
    head = "<h2 id='mislabels'>Top mislabel candidates</h2>"
    try:
        rows, source = _mislabel_rows(run, find)
    except StudioError as exc:
        return f"{head}<p class='note'>{escape(str(exc))}</p><p class='note'>{escape(NO_MISLABELS)}</p>"
    except Exception as exc:
        log.warning("finding mislabel candidates for the report failed", exc_info=True)
        return f"{head}<p class='note'>Finding them failed ({escape(type(exc).__name__)}). {escape(NO_MISLABELS)}</p>"
    if rows is None:
        return f"{head}<p class='note'>{escape(NO_MISLABELS)}</p>"
    columns = ("split", "row", "text", "label", "suggested", "score")
    body = "".join(
        "<tr>" + "".join(f"<td>{escape(_short(str(r.get(c, '')), 160))}</td>" for c in columns) + "</tr>"
        for r in rows[:TOP_MISLABELS]
    )
    return (
        f"{head}<p class='sub'>The rows most likely mislabelled, highest score first ({escape(source)}).</p>"
        f"<table class='mislabels'><tr>{''.join(f'<th>{c}</th>' for c in columns)}</tr>{body}</table>"
    )


def _mislabel_rows(run: ComparedRun, find: bool) -> tuple[list[dict[str, str]] | None, str]:
    path = run.path / MISLABELS_CSV
    found = [path] if path.is_file() else sorted(run.path.glob("*mislabel*.csv"))
    if found:
        with open(found[0], encoding="utf-8", newline="") as handle:
            return list(csv.DictReader(handle))[:TOP_MISLABELS], found[0].name
    finder = _finder()
    if not find or finder is None or not (run.path / "model" / "config.json").is_file():
        return None, ""
    report = finder(run.path)
    rows = [
        {
            "split": c.split,
            "row": str(c.row),
            "text": c.text,
            "label": c.label,
            "suggested": c.suggested,
            "score": f"{c.score:.3f}",
        }
        for c in report.candidates[:TOP_MISLABELS]
    ]
    return rows, "confident learning on the validation rows with the run's model"


def _finder() -> Callable[..., Any] | None:
    try:
        from studio.core.mislabels import find_mislabels
    except ImportError:
        return None
    return find_mislabels


def _pairs(rows: list[tuple[str, str]], css: str = "summary") -> str:
    body = "".join(f"<tr><th>{escape(k)}</th><td>{escape(str(v))}</td></tr>" for k, v in rows)
    return f"<table class='{css}'>{body}</table>"


def _task_title(task: str) -> str:
    from studio.core.tasks import get_task

    try:
        return str(get_task(task).title)
    except StudioError:
        return task


def _value(value: Any) -> str:
    if value is None:
        return "default"
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def _cell(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return "-"
    return f"{value:,}" if isinstance(value, int) else f"{value:.4f}"


def _count(value: Any) -> str:
    return f"{value:,}" if isinstance(value, int) else "-"


def _short(text: Any, limit: int = 80) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
