"""The small frozen records the engine reports while it trains; numbers only, never tensors."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field


@dataclass(frozen=True)
class Event:
    """Base of every event; `kind` names it in the events log."""

    def to_dict(self) -> dict:
        return {"kind": type(self).__name__, **asdict(self)}


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
    step: int
    epoch: float
    loss: float
    accuracy: float
    f1: float
    precision: float
    recall: float
    labels: tuple[str, ...] = ()
    per_class: dict = field(default_factory=dict)
    confusion: tuple[tuple[int, ...], ...] = ()


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
    message: str
    run_dir: str | None = None
