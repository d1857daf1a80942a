"""Run folders: each run's settings, events log, status and checkpoints, readable after a crash."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from studio.core.config import TrainConfig
from studio.core.errors import StudioError
from studio.core.events import Event, Reporter
from studio.core.paths import runs_dir

log = logging.getLogger(__name__)

CONFIG_FILE = "config.json"
EVENTS_FILE = "events.jsonl"
STATUS_FILE = "status.json"
CHECKPOINTS = "checkpoints"
MODEL = "model"
# The layer map and the optimizer's groups as the run set them up (each block's rate, state and weights).
LAYERS_FILE = "layers.json"
# A LoRA run's adapter alone (studio export --adapter-only); MODEL holds the merged model.
ADAPTER = "adapter"


def is_main_process() -> bool:
    """False on the extra ranks of a torchrun launch, which must not write the run's files twice."""
    return int(os.environ.get("RANK", "0")) == 0


def create_run_dir(config: TrainConfig) -> Path:
    """A new folder under the runs folder, named by time and training file; holds config.json at once."""
    stem = Path(config.train_csv).stem[:40] or "run"
    # Every torchrun rank must agree on the folder: name it after the launch, not the clock.
    launch = os.environ.get("TORCHELASTIC_RUN_ID")
    if launch and int(os.environ.get("WORLD_SIZE", "1")) > 1:
        path = runs_dir() / f"{stem}-torchrun-{launch}"
    else:
        base = f"{datetime.now():%Y%m%d-%H%M%S}-{stem}"
        path, n = runs_dir() / base, 1
        while path.exists():
            n += 1
            path = runs_dir() / f"{base}-{n}"
    if is_main_process():
        path.mkdir(parents=True, exist_ok=True)
        config.save(path / CONFIG_FILE)
        write_status(path, "created")
    return path


def write_status(run_dir: Path, status: str, **extra) -> None:
    """Replace status.json atomically so that a crash never leaves it half-written."""
    if not is_main_process():
        return
    data = {"status": status, "pid": os.getpid(), "updated": time.time(), **extra}
    tmp = run_dir / f".{STATUS_FILE}.tmp"
    tmp.write_text(json.dumps(data), encoding="utf-8")
    os.replace(tmp, run_dir / STATUS_FILE)


def write_layers(run_dir: Path, blocks: list[dict], groups: list[dict]) -> None:
    """Keep the layer plan and the optimizer's groups (the per-block learning rates) in the run folder."""
    if not is_main_process():
        return
    tmp = run_dir / f".{LAYERS_FILE}.tmp"
    tmp.write_text(json.dumps({"blocks": blocks, "groups": groups}, indent=1), encoding="utf-8")
    os.replace(tmp, run_dir / LAYERS_FILE)


def read_status(run_dir: Path) -> dict:
    try:
        return json.loads((Path(run_dir) / STATUS_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {"status": "unknown"}


class EventLog:
    """Appends each event to events.jsonl (one JSON object a line) and passes it on to the reporter."""

    def __init__(self, run_dir: Path | None, reporter: Reporter | None = None):
        self.reporter = reporter
        self._file = None
        if run_dir is not None and is_main_process():
            # Open for the run's whole life and closed in close(): not a with-block.
            self._file = open(Path(run_dir) / EVENTS_FILE, "a", encoding="utf-8")  # noqa: SIM115

    def __call__(self, event: Event) -> None:
        if self._file is not None:
            self._file.write(json.dumps(event.to_dict(), default=str) + "\n")
            self._file.flush()  # a killed process keeps every event written so far
        if self.reporter is not None and is_main_process():
            self.reporter(event)

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def read_events(run_dir: Path) -> list[dict]:
    """Every whole line of the events log; a line cut short by a crash is skipped."""
    events = []
    try:
        with open(Path(run_dir) / EVENTS_FILE, encoding="utf-8") as handle:
            for line in handle:
                try:
                    events.append(json.loads(line))
                except ValueError:
                    continue
    except OSError:
        pass
    return events


def last_checkpoint(run_dir: Path) -> Path | None:
    """The newest complete checkpoint of a run, or None."""
    folder = Path(run_dir) / CHECKPOINTS
    if not folder.is_dir():
        return None
    complete = [
        p
        for p in folder.glob("checkpoint-*")
        if p.is_dir() and p.name.split("-")[-1].isdigit() and (p / "trainer_state.json").is_file()
    ]
    return max(complete, key=lambda p: int(p.name.split("-")[-1]), default=None)


@dataclass(frozen=True)
class RunSummary:
    """One line of the runs list."""

    path: Path
    status: str
    config: TrainConfig | None
    metrics: dict | None

    @property
    def resumable(self) -> bool:
        return self.status not in ("finished",) and last_checkpoint(self.path) is not None


def load_run(run_dir: str | Path) -> RunSummary:
    path = Path(run_dir).expanduser()
    if not (path / CONFIG_FILE).is_file():
        raise StudioError(f"{path} is not a training run folder (it has no {CONFIG_FILE}); choose a run folder.")
    status = read_status(path).get("status", "unknown")
    if status in ("running", "created") and not _alive(read_status(path).get("pid")):
        status = "interrupted"
    metrics = None
    with contextlib.suppress(OSError, ValueError):
        metrics = json.loads((path / MODEL / "metrics.json").read_text(encoding="utf-8"))
    try:
        config = TrainConfig.load(path / CONFIG_FILE)
    except StudioError:
        config = None
    return RunSummary(path=path, status=status, config=config, metrics=metrics)


def list_runs() -> list[RunSummary]:
    """Every run, newest first."""
    found = [load_run(p) for p in runs_dir().iterdir() if (p / CONFIG_FILE).is_file()]
    return sorted(found, key=lambda r: r.path.name, reverse=True)


def _alive(pid) -> bool:
    if not isinstance(pid, int):
        return False
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True
    return True
