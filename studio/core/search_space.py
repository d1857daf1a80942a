"""A search space: `NAME=LOW:HIGH[:log]` ranges and `NAME=A,B,C` lists over TrainConfig's settings, checked."""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import Any

from studio.core.config import TrainConfig, field_types
from studio.core.errors import ConfigError

# The most values an integer range may have to be walked as a grid.
GRID_RANGE_LIMIT = 64
METHODS = ("grid", "random", "tpe")
# Settings a search must not vary: where the data and the model come from, and where the model goes.
_FIXED = {"train_csv", "validation_csv", "model", "output_dir", "text_column", "label_column", "task", "pair_column"}


@dataclass(frozen=True)
class Dimension:
    """One setting to search: a range (low, high, on a log scale or not) or a list of values."""

    name: str  # a TrainConfig field
    kind: type
    low: float | None = None
    high: float | None = None
    log: bool = False
    values: tuple | None = None

    def grid_values(self) -> list | None:
        """Every value a grid walks: the list, or each whole number of an integer range (None: not walkable)."""
        if self.values is not None:
            return list(self.values)
        if self.kind is int and self.low is not None and self.high is not None:
            count = int(self.high) - int(self.low) + 1
            return list(range(int(self.low), int(self.high) + 1)) if count <= GRID_RANGE_LIMIT else None
        return None

    def distribution(self, grid: bool = False):
        """The Optuna distribution of this setting (a list of values for a grid)."""
        from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

        if grid or self.values is not None:
            return CategoricalDistribution(self.grid_values() or [])
        if self.kind is int:
            return IntDistribution(int(self.low or 0), int(self.high or 0), log=self.log)
        return FloatDistribution(float(self.low or 0), float(self.high or 0), log=self.log)

    def describe(self) -> str:
        if self.values is not None:
            return f"{self.name} in {', '.join(_show(v) for v in self.values)}"
        return f"{self.name} from {_show(self.low)} to {_show(self.high)}{' (log scale)' if self.log else ''}"


def _show(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def _aliases() -> dict[str, str]:
    """Each setting by its field name and by its option name without dashes (lr, batch-size, batch_size)."""
    names: dict[str, str] = {}
    for f in fields(TrainConfig):
        names[f.name] = f.name
        names[f.name.replace("_", "-")] = f.name
        flag = f.metadata.get("flag")
        if flag:
            names[flag.lstrip("-")] = f.name
            names[flag.lstrip("-").replace("-", "_")] = f.name
    return names


def _value(text: str, kind: type, optional: bool, name: str) -> Any:
    text = text.strip()
    if optional and text.lower() in ("none", ""):
        return None
    try:
        if kind is bool:
            if text.lower() not in ("true", "false", "yes", "no", "on", "off", "1", "0"):
                raise ValueError
            return text.lower() in ("true", "yes", "on", "1")
        if kind is int:
            number = float(text)
            if not number.is_integer():
                raise ValueError
            return int(number)
        if kind is float:
            return float(text)
    except ValueError:
        words = {bool: "true or false", int: "whole numbers", float: "numbers"}[kind]
        raise ConfigError(f"The search space for {name} must hold {words} (got {text!r}).") from None
    return text


def _check_value(name: str, value: Any) -> None:
    problem = TrainConfig(train_csv="x", **{name: value}).problems().get(name)
    if problem:
        raise ConfigError(f"In the search space for {name}: {problem[0].lower()}{problem[1:]}")


def parse_dimension(spec: str) -> Dimension:
    """`NAME=LOW:HIGH[:log]` or `NAME=A,B,C`, or a sentence saying what is wrong with it."""
    name_text, sep, rest = spec.partition("=")
    if not sep or not name_text.strip() or not rest.strip():
        raise ConfigError(
            f"A search space is NAME=LOW:HIGH (a range, :log for a log scale) or NAME=A,B,C (a list), such as "
            f"lr=1e-5:1e-3:log or batch_size=16,32 (got {spec!r})."
        )
    known = _aliases()
    name = known.get(name_text.strip())
    if name is None or name in _FIXED:
        searchable = sorted({v for v in known.values() if v not in _FIXED})
        raise ConfigError(
            f"There is no setting {name_text.strip()!r} to search; the settings are: {', '.join(searchable)}."
        )
    kind, optional = field_types(TrainConfig)[name]
    rest = rest.strip()
    parts = rest.split(":")
    is_range = ":" in rest and "," not in rest and kind in (int, float)
    if is_range:
        log = len(parts) == 3 and parts[2].strip().lower() == "log"
        if len(parts) not in (2, 3) or (len(parts) == 3 and not log):
            raise ConfigError(f"A range is LOW:HIGH or LOW:HIGH:log (got {rest!r} for {name}).")
        low, high = (_value(p, kind, False, name) for p in parts[:2])
        if not (math.isfinite(low) and math.isfinite(high)) or low >= high:
            raise ConfigError(
                f"The range for {name} is empty: {_show(low)} is not below {_show(high)}; give LOW:HIGH with LOW "
                "below HIGH."
            )
        if log and low <= 0:
            raise ConfigError(f"A log-scale range must start above 0 (got {_show(low)} for {name}).")
        _check_value(name, low)
        _check_value(name, high)
        return Dimension(name=name, kind=kind, low=low, high=high, log=log)
    values = tuple(_value(p, kind, optional, name) for p in rest.split(","))
    if len(set(values)) != len(values):
        raise ConfigError(f"The values for {name} repeat one another ({rest}); list each once.")
    for v in values:
        _check_value(name, v)
    return Dimension(name=name, kind=kind, values=values)


def parse_space(specs: list[str]) -> list[Dimension]:
    """The dimensions of a search, each setting once."""
    if not specs:
        raise ConfigError("Give at least one setting to search with --space, such as --space lr=1e-5:1e-3:log.")
    dims = [parse_dimension(s) for s in specs]
    names = [d.name for d in dims]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise ConfigError(f"The search space names {', '.join(twice)} more than once; give each setting once.")
    return dims


def contains(dim: Dimension, value: Any) -> bool:
    """Whether `value` is one of the settings `dim` can take (a listed value, or inside its range)."""
    if dim.values is not None:
        return value in dim.values
    if not isinstance(value, (int, float)) or isinstance(value, bool) or dim.low is None or dim.high is None:
        return False
    if dim.kind is int and not float(value).is_integer():
        return False
    return dim.low <= value <= dim.high


def default_space(base: TrainConfig, method: str) -> tuple[str, ...]:
    """The space searched when none is given: around the settings a plain run would use, those included.

    The learning rate matters most (from a quarter to four times the task's default, on a log scale), then the
    batch size (the default and half of it) and the warm-up share. A grid gets three learning rates instead of a
    range, so that it has 3 x 2 points to walk.
    """
    rate = base.effective_learning_rate
    batch = int(base.batch_size)
    batches = sorted({max(1, batch // 2), batch})
    if method == "grid":
        rates = [_show(rate / 2), repr(float(rate)), _show(rate * 2)]  # the rate itself exactly, to be found again
        return (f"learning_rate={','.join(rates)}", f"batch_size={','.join(map(str, batches))}")
    space = (f"learning_rate={_show(rate / 4)}:{_show(rate * 4)}:log", f"batch_size={','.join(map(str, batches))}")
    if base.warmup_steps:
        return space  # warm-up steps replace the share: varying it would change nothing
    return (*space, f"warmup_ratio=0:{max(float(base.warmup_ratio), 0.1)!r}")


def default_point(base: TrainConfig, dims: list[Dimension]) -> dict[str, Any] | None:
    """The settings a plain run with `base` would use, as a point of the space; None when the space leaves it out."""
    point = {}
    for d in dims:
        value = base.effective_learning_rate if d.name == "learning_rate" else getattr(base, d.name)
        if d.values is None and d.kind is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if not contains(d, value):
            return None
        point[d.name] = value
    return point


def grid_size(dims: list[Dimension]) -> int:
    """How many settings a grid over these dimensions walks; a sentence when one of them cannot be walked."""
    size = 1
    for d in dims:
        values = d.grid_values()
        if values is None:
            raise ConfigError(
                f"A grid needs the values of {d.name} listed (such as {d.name}=A,B,C); {d.describe()} is a range, "
                "which random or tpe search can sample."
            )
        size *= len(values)
    return size
