"""The tasks the studio trains, one module each; found here by name and detected from a table."""

from __future__ import annotations

import importlib
import pkgutil
from functools import cache
from typing import TYPE_CHECKING

from studio.core.errors import DataError
from studio.core.tasks.base import Columns, Detection, Task

if TYPE_CHECKING:
    from studio.core.csvio import Table

# The order the app's task menu and the CLI's --task choices list them in.
TASK_NAMES = ("single", "multi", "regression", "pair", "token")


@cache
def _registry() -> dict[str, Task]:
    # Every module of this package that defines a Task subclass with a name is a task: adding one is one file.
    found: dict[str, Task] = {}
    for info in pkgutil.iter_modules(__path__):
        if info.name == "base":
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        for value in vars(module).values():
            is_task = isinstance(value, type) and issubclass(value, Task) and value.__module__ == module.__name__
            if is_task and getattr(value, "name", None) and value.name not in found:
                found[value.name] = value()
    return found


def available_tasks() -> list[Task]:
    """The tasks this version has, in TASK_NAMES order."""
    registry = _registry()
    return [registry[n] for n in TASK_NAMES if n in registry] + [t for n, t in registry.items() if n not in TASK_NAMES]


def get_task(name: str) -> Task:
    """The task called `name`, or DataError listing those there are."""
    registry = _registry()
    if name not in registry:
        raise DataError(f"There is no task {name!r}; choose one of {', '.join(t.name for t in available_tasks())}.")
    return registry[name]


def detect_task(table: Table, text: str | None = None, label: str | None = None, pair: str | None = None) -> Detection:
    """The task a table looks like, with its columns and the reason; columns given by the user are kept."""
    from studio.core.data import check_column

    check_column(table, text, "text")
    check_column(table, label, "label")
    check_column(table, pair, "second-text")
    ordered = sorted(_registry().values(), key=lambda t: t.detect_priority)
    refusal: DataError | None = None
    for task in ordered:
        try:
            detection = task.detect(table, text, label, pair)
        except DataError as exc:
            # The user's columns do not fit this task (a pair column named for a task without pairs...).
            refusal = exc
            continue
        if detection is not None:
            return detection
    if refusal is not None:
        raise refusal
    raise DataError(f"{table.path.name} does not look like training data for any task; choose the task and columns.")


__all__ = ["TASK_NAMES", "Columns", "Detection", "Task", "available_tasks", "detect_task", "get_task"]
