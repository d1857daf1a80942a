"""Run comparison: several runs' curves, their settings side by side with the differences marked, their figures."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from studio.core.errors import StudioError
from studio.core.runs import load_run, read_events

# Figures where lower is better; every other figure counts higher as better.
LOWER_IS_BETTER = frozenset({"loss", "mse", "mae", "rmse", "train_seconds"})
# Figures of metrics.json worth a row beside the task's own scalars, in this order, with their titles.
EXTRA_FIGURES = (
    ("loss", "validation loss"),
    ("threshold", "decision threshold"),
    ("f1_at_threshold", "F1 at the threshold"),
    ("f1_at_0.5", "F1 at 0.5"),
    ("best_step", "best step"),
    ("epochs_completed", "epochs completed"),
    ("train_seconds", "training seconds"),
    ("trainable_parameters", "trainable parameters"),
)
TITLES = {
    "f1": "F1 (macro)",
    "f1_micro": "F1 (micro)",
    "accuracy": "accuracy",
    "precision": "precision",
    "recall": "recall",
    "pearson": "Pearson",
    "spearman": "Spearman",
    "mse": "MSE",
    "mae": "MAE",
}
# Settings that name where a run's files are, rather than how it trained.
PLACE_SETTINGS = frozenset({"output_dir"})


@dataclass(frozen=True)
class Curve:
    """Points (step, value) in step order; a step logged twice (a resumed run) keeps its last value."""

    steps: tuple[float, ...] = ()
    values: tuple[float, ...] = ()

    def __len__(self) -> int:
        return len(self.steps)


@dataclass(frozen=True)
class RunCurves:
    """A run's curves from its events log: training loss, validation loss and the task's main figure."""

    loss: Curve
    validation_loss: Curve
    metric: Curve
    metric_key: str
    metric_title: str


@dataclass(frozen=True)
class ComparedRun:
    name: str
    path: Path
    status: str
    task: str
    settings: dict[str, Any]
    metrics: dict[str, Any]
    curves: RunCurves


@dataclass(frozen=True)
class SettingRow:
    """One setting across the runs, as shown, and whether the runs differ in it."""

    name: str
    values: tuple[str, ...]
    differs: bool


@dataclass(frozen=True)
class FigureRow:
    """One final figure across the runs (None where a run lacks it), and the index of the best run, if any."""

    key: str
    title: str
    values: tuple[float | None, ...]
    best: int | None = None


@dataclass(frozen=True)
class Comparison:
    runs: tuple[ComparedRun, ...]
    settings: tuple[SettingRow, ...]
    figures: tuple[FigureRow, ...]
    notes: tuple[str, ...] = field(default=())

    @property
    def differing(self) -> list[str]:
        """The names of the settings in which the runs differ."""
        return [row.name for row in self.settings if row.differs]

    def table(self, only_differences: bool = False) -> str:
        """The comparison as plain text: the final figures, then the settings (a `*` marks a difference)."""
        names = [run.name for run in self.runs]
        lines = ["Final figures (best marked <)"]
        rows = [
            [row.title, *(figure_text(row.key, v) + (" <" if i == row.best else "") for i, v in enumerate(row.values))]
            for row in self.figures
        ]
        lines += _columns(["", *names], rows)
        lines += ["", "Settings (* differs)"]
        shown = [row for row in self.settings if row.differs or not only_differences]
        lines += _columns(
            ["", *names], [[("* " if r.differs else "  ") + r.name, *r.values] for r in shown] or [["(none differ)"]]
        )
        lines += [""] + [f"note: {n}" for n in self.notes] if self.notes else []
        return "\n".join(lines).rstrip() + "\n"


def load_curves(run_dir: str | Path) -> RunCurves:
    """The run's training loss per step, and its validation loss and main figure per evaluation."""
    loss: dict[float, float] = {}
    validation: dict[float, float] = {}
    metric: dict[float, float] = {}
    task = "single"
    for event in read_events(Path(run_dir)):
        kind = event.get("kind")
        if kind == "LossLogged":
            _put(loss, event.get("step"), event.get("loss"))
        elif kind == "Evaluated":
            _put(validation, event.get("step"), event.get("loss"))
            _put(metric, event.get("step"), event.get("main"))
            task = str(event.get("task") or task)
        elif kind == "RunStarted":
            task = str(event.get("task") or task)
    key, title = _main_metric(task)
    return RunCurves(_curve(loss), _curve(validation), _curve(metric), key, title)


def compare_runs(run_dirs: Sequence[str | Path]) -> Comparison:
    """Load the runs and line them up; StudioError when fewer than two are given or one is not a run folder."""
    if len(run_dirs) < 2:
        raise StudioError("Choose two or more runs to compare.")
    runs, notes = [], []
    for run_dir in run_dirs:
        run, said = load_compared(run_dir)
        runs.append(run)
        notes += said
    return Comparison(tuple(runs), _setting_rows(runs), figure_rows(runs), tuple(notes))


def load_compared(run_dir: str | Path) -> tuple[ComparedRun, list[str]]:
    """One run's settings, figures and curves, with a sentence for each part that could not be read."""
    summary = load_run(run_dir)
    notes = []
    settings = summary.config.to_dict() if summary.config is not None else {}
    settings.pop("schema_version", None)
    if summary.config is None:
        notes.append(f"The settings of {summary.path.name} cannot be read; its column is empty.")
    else:
        # The rate the run used: a task's default shows as its number, so that it compares with a typed one.
        settings["learning_rate"] = summary.config.effective_learning_rate
    metrics = dict(summary.metrics or {}) or _last_evaluation(summary.path)
    if not summary.metrics:
        notes.append(f"{summary.path.name} has no final figures ({summary.status}); its last evaluation is shown.")
    task = str(metrics.get("task") or (summary.config.task if summary.config else None) or "single")
    run = ComparedRun(
        summary.path.name, summary.path, summary.status, task, settings, metrics, load_curves(summary.path)
    )
    return run, notes


def _setting_rows(runs: list[ComparedRun]) -> tuple[SettingRow, ...]:
    names: list[str] = []
    for run in runs:
        names += [n for n in run.settings if n not in names]
    rows = []
    for name in names:
        raw = [run.settings.get(name, _MISSING) for run in runs]
        differs = any(value != raw[0] for value in raw[1:]) and name not in PLACE_SETTINGS
        rows.append(SettingRow(name, tuple(_setting_text(name, v) for v in raw), differs))
    # The differences first, so that a long list still shows what matters at the top.
    return tuple(sorted(rows, key=lambda r: not r.differs))


def figure_rows(runs: Sequence[ComparedRun]) -> tuple[FigureRow, ...]:
    keys: list[tuple[str, str]] = []
    for run in runs:
        main, title = _main_metric(run.task)
        for key, shown in ((main, title), *[(k, TITLES.get(k, k)) for k in _scalars(run.task)]):
            if key not in [k for k, _ in keys]:
                keys.append((key, shown))
    keys += [(k, t) for k, t in EXTRA_FIGURES if k not in [k2 for k2, _ in keys]]
    rows = []
    for key, title in keys:
        values = tuple(_number(run.metrics.get(key)) for run in runs)
        if all(v is None for v in values):
            continue
        rows.append(FigureRow(key, title, values, _best(key, values)))
    return tuple(rows)


def _best(key: str, values: tuple[float | None, ...]) -> int | None:
    if key in ("best_step", "epochs_completed", "trainable_parameters", "threshold"):
        return None  # neither better nor worse
    known = [(v, i) for i, v in enumerate(values) if v is not None]
    if len(known) < 2 or len({v for v, _ in known}) == 1:
        return None
    pick = min if key in LOWER_IS_BETTER else max
    return pick(known)[1]


def _main_metric(task: str) -> tuple[str, str]:
    from studio.core.tasks import get_task

    try:
        chosen = get_task(task)
    except StudioError:
        return "f1", "F1"
    return chosen.main_metric, chosen.main_metric_title


def _scalars(task: str) -> tuple[str, ...]:
    from studio.core.tasks import get_task

    try:
        chosen = get_task(task)
    except StudioError:
        return ()
    return tuple(getattr(chosen, "shown_scalars", ()))


def _last_evaluation(run_dir: Path) -> dict[str, Any]:
    last: dict[str, Any] = {}
    for event in read_events(run_dir):
        if event.get("kind") == "Evaluated":
            last = {"task": event.get("task"), "loss": event.get("loss"), **(event.get("scores") or {})}
    return last


_MISSING = object()


def _setting_text(name: str, value: Any) -> str:
    if value is _MISSING:
        return "-"
    if value is None:
        return "default" if name not in ("validation_csv", "output_dir") else "-"
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, float):
        return f"{value:g}"
    if name in ("train_csv", "validation_csv", "model") and isinstance(value, str) and ("/" in value or "\\" in value):
        return Path(value).name
    return str(value)


def figure_text(key: str, value: float | None) -> str:
    """A final figure as the tables show it: 0.9123, 1,234 (a count), 12.3 (seconds)."""
    if value is None:
        return "-"
    if key == "train_seconds":
        return f"{value:.1f}"
    if float(value).is_integer() and abs(value) >= 1:
        return f"{int(value):,}"
    return f"{value:.4f}"


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    return float(value)


def _put(into: dict[float, float], step: Any, value: Any) -> None:
    number = _number(value)
    if number is not None and _number(step) is not None:
        into[float(step)] = number


def _curve(points: dict[float, float]) -> Curve:
    steps = sorted(points)
    return Curve(tuple(steps), tuple(points[s] for s in steps))


def _columns(header: list[str], rows: list[list[str]]) -> list[str]:
    widths = [max(len(str(r[i])) if i < len(r) else 0 for r in [header, *rows]) for i in range(len(header))]
    return ["  ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=False)).rstrip() for r in [header, *rows]]
