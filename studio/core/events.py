"""The small frozen records the engine reports while it trains; numbers only, never tensors."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

if TYPE_CHECKING:
    from studio.core.config import TrainConfig


@dataclass(frozen=True)
class Event:
    """Base of every event; `kind` names it in the events log. A subclass is all a new event needs."""

    _kinds: ClassVar[dict[str, type[Event]]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        Event._kinds[cls.__name__] = cls

    def to_dict(self) -> dict:
        return {"kind": type(self).__name__, **asdict(self)}


# What the engine reports to, and what it asks whether to stop: the whole seam between it and its callers.
Reporter = Callable[[Event], None]


class StopToken(Protocol):
    def is_set(self) -> bool: ...


def event_from_dict(data: dict) -> Event | None:
    """The event a line of the events log holds, or None for a kind this version does not know."""
    cls = Event._kinds.get(str(data.get("kind")))
    if cls is None:
        return None
    values = {}
    for f in fields(cls):
        if f.name in data:
            value = data[f.name]
            # JSON has no tuples: the events' tuples (labels, the confusion matrix) come back as lists.
            if isinstance(value, list):
                value = tuple(tuple(v) if isinstance(v, list) else v for v in value)
            values[f.name] = value
    try:
        return cls(**values)
    except TypeError:  # a line written by another version, missing a field this one needs
        return None


@dataclass(frozen=True)
class Message(Event):
    """A line for the log view: what the engine is doing, or a warning about the data."""

    text: str
    level: str = "info"


@dataclass(frozen=True)
class RunCreated(Event):
    """The first event of every run: where its folder is, to resume it if the process dies."""

    run_dir: str
    resumed: bool = False


@dataclass(frozen=True)
class RunStarted(Event):
    run_dir: str
    total_steps: int
    train_rows: int
    validation_rows: int
    labels: tuple[str, ...]
    device: str
    precision: str
    trainable_parameters: int
    total_parameters: int
    resumed_from_step: int = 0
    task: str = "single"


@dataclass(frozen=True)
class LayersPlanned(Event):
    """The layer map at the start of training: one dict per block (layer_plan.Block.to_dict), bottom to top.

    `groups` lists the optimizer's parameter groups as set up: block, peak learning rate, weight decay, parameters.
    """

    blocks: tuple[dict, ...]
    groups: tuple[dict, ...] = ()


@dataclass(frozen=True)
class BlocksUnfrozen(Event):
    """Gradual unfreezing: these blocks (by name) train from this step on."""

    step: int
    epoch: float
    blocks: tuple[str, ...]
    trainable_parameters: int


@dataclass(frozen=True)
class PerplexityEvaluated(Event):
    """One held-out evaluation of an adaptation: the mean masked-LM loss and its perplexity.

    `phase` is "before" (the model as loaded), "during" or "after" (the adapted model).
    """

    step: int
    epoch: float
    loss: float
    perplexity: float
    phase: str = "during"


@dataclass(frozen=True)
class TrialUpdated(Event):
    """A search's trial started or ended: its settings, its state (running, complete, pruned, failed), its figure."""

    number: int
    state: str
    settings: dict
    metric: float | None = None
    run: str | None = None
    message: str | None = None


@dataclass(frozen=True)
class Progress(Event):
    step: int
    total_steps: int
    epoch: float
    elapsed_s: float
    eta_s: float | None


@dataclass(frozen=True)
class LossLogged(Event):
    step: int
    epoch: float
    loss: float
    learning_rate: float


@dataclass(frozen=True)
class Evaluated(Event):
    """One evaluation on the validation data: the task's main figure, its scalars and its report.

    `scores` holds the task's scalars (single: accuracy, precision, recall, f1; regression: pearson...), `main` the
    one the best checkpoint is chosen on, `report` the per-label tables and the confusion matrix.
    """

    step: int
    epoch: float
    loss: float
    task: str = "single"
    main: float = math.nan
    scores: dict = field(default_factory=dict)
    labels: tuple[str, ...] = ()
    report: dict = field(default_factory=dict)

    @property
    def f1(self) -> float:
        return float(self.scores.get("f1", math.nan))

    @property
    def accuracy(self) -> float:
        return float(self.scores.get("accuracy", math.nan))

    @property
    def precision(self) -> float:
        return float(self.scores.get("precision", math.nan))

    @property
    def recall(self) -> float:
        return float(self.scores.get("recall", math.nan))

    @property
    def per_class(self) -> dict:
        return self.report.get("per_class", {})

    @property
    def confusion(self) -> tuple[tuple[int, ...], ...]:
        return tuple(tuple(row) for row in self.report.get("confusion", ()))


@dataclass(frozen=True)
class Finished(Event):
    run_dir: str
    model_dir: str
    metrics: dict
    stopped: bool = False
    # Set when the copy to the chosen output folder failed; the model is still in model_dir.
    export_error: str | None = None


@dataclass(frozen=True)
class Failed(Event):
    """The run ended in an error; `message` is the sentence to show."""

    message: str
    run_dir: str | None = None


@dataclass(frozen=True)
class RetrySuggested(Event):
    """After running out of memory: settings with the same effective batch that would fit."""

    config: TrainConfig
