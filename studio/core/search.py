"""Hyperparameter search: each trial a normal run, in an Optuna study kept in the search's folder; grid, random, TPE.

The study lives in an Optuna storage (SQLite in the folder by default, or any URL the user gives), so a search
survives a crash and several processes or machines can share one. The budget counts finished trials (complete or
pruned); a trial whose process died is marked failed and its settings are run again, from its run's checkpoint.
"""

from __future__ import annotations

import json
import logging
import math
import os
import socket
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from studio.core.config import TrainConfig
from studio.core.errors import ConfigError, StudioError
from studio.core.events import Evaluated, Message, Progress, Reporter, RunCreated, StopToken, TrialUpdated
from studio.core.search_space import METHODS, Dimension, default_point, grid_size, parse_space

log = logging.getLogger(__name__)

SETTINGS_FILE = "search_settings.json"
SEARCH_FILE = "search.json"
BEST = "best"
STUDY_NAME = "studio-search"
# A running trial on another machine that has not said it is alive for this long is taken for dead.
STALE_SECONDS = 15 * 60
HEARTBEAT_SECONDS = 30
POLL_SECONDS = 2.0
HOST = socket.gethostname()


@dataclass(frozen=True)
class SearchSettings:
    """What a search runs: the fixed settings, the space, the method, the budget, and where the study is kept."""

    base: TrainConfig
    space: tuple[str, ...]
    method: str = "tpe"
    trials: int = 12
    prune: bool = False
    storage: str | None = None
    seed: int = 42

    def to_dict(self) -> dict:
        data = asdict(self)
        data["base"] = self.base.to_dict()
        return data

    @classmethod
    def from_dict(cls, data: dict) -> SearchSettings:
        values = dict(data)
        values["base"] = TrainConfig.from_dict(values.get("base") or {})
        values["space"] = tuple(values.get("space") or ())
        return cls(**values)


@dataclass(frozen=True)
class SearchResult:
    folder: Path
    trials: list[dict]
    best: dict | None
    finished: bool


def main_metric_of(settings: SearchSettings) -> tuple[str, str]:
    """(key, title) of the figure the search maximises: the task's main one."""
    from studio.core.tasks import get_task

    task = get_task(settings.base.task or "single")
    return task.main_metric, task.main_metric_title


def prepare_search(settings: SearchSettings, folder: str | Path) -> SearchSettings:
    """Check everything, then create the folder, its settings file and the study; a sentence for what cannot work.

    The data is read once here (with the task and columns it gives kept), so that a bad file stops the search
    before any trial, and every trial reads it the same way.
    """
    folder = Path(folder).expanduser().absolute()
    base = settings.base.with_changes(output_dir=None)
    if not base.train_csv:
        raise ConfigError("Give the training file with --train CSV.")
    problems = base.problems()
    if problems:
        raise ConfigError(next(iter(problems.values())))
    dims = parse_space(list(settings.space))
    if settings.method not in METHODS:
        raise ConfigError(f"The search method must be one of {', '.join(METHODS)} (got {settings.method!r}).")
    if not isinstance(settings.trials, int) or settings.trials < 1:
        raise ConfigError(f"The number of trials must be a whole number of at least 1 (got {settings.trials}).")
    if settings.method == "grid":
        points = grid_size(dims)
        if points > settings.trials:
            raise ConfigError(
                f"The grid has {points} points ({' x '.join(str(len(d.grid_values() or [])) for d in dims)}) but "
                f"--trials is {settings.trials}; raise --trials to {points}, list fewer values, or use random or tpe."
            )
        if points < settings.trials:
            settings = SearchSettings(**{**_fields(settings), "trials": points})
    if folder.exists() and (not folder.is_dir() or (any(folder.iterdir()) and not (folder / SETTINGS_FILE).is_file())):
        raise ConfigError(f"{folder} already holds other files; choose an empty folder or a new name for the search.")
    from studio.core.data import load_examples

    examples = load_examples(
        base.train_csv,
        base.validation_csv,
        base.text_column,
        base.label_column,
        base.validation_share,
        base.seed,
        task=base.task,
        pair_column=base.pair_column,
    )
    base = base.with_changes(
        task=examples.task,
        text_column=examples.columns.text,
        label_column=examples.columns.label,
        pair_column=examples.columns.pair or "",
    )
    settings = SearchSettings(**{**_fields(settings), "base": base})
    created = not folder.exists()
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"Could not create the search folder {folder}: {exc.strerror or exc}.") from exc
    if settings.storage is None:
        settings = SearchSettings(**{**_fields(settings), "storage": f"sqlite:///{folder / 'study.db'}"})
    try:
        study = _open_study(settings, dims)  # creates it, or says why the storage cannot be reached
        _try_defaults_first(study, settings, dims)
        _write_json(folder / SETTINGS_FILE, settings.to_dict())
    except (StudioError, OSError) as exc:
        if created:
            import shutil

            shutil.rmtree(folder, ignore_errors=True)  # a refused search leaves nothing behind
        if isinstance(exc, OSError):
            raise ConfigError(f"Could not write to the search folder {folder}: {exc.strerror or exc}.") from exc
        raise
    return settings


def _try_defaults_first(study, settings: SearchSettings, dims: list[Dimension]) -> None:
    """Queue the settings a plain run would use as a new study's first trial, when the space holds them.

    The best trial is then at least as good as training with the defaults, by construction. A grid needs no queue:
    its first point is the defaults' (see _sampler). The queued trial is one of the budget's trials.
    """
    if settings.method == "grid" or study.get_trials(deepcopy=False):
        return  # a grid walks them first anyway; a study with trials has had its first
    point = default_point(settings.base, dims)
    if point is not None:
        study.enqueue_trial(point, user_attrs={"defaults": True})


def load_search(folder: str | Path) -> SearchSettings:
    """The settings of the search in `folder` (for --resume), or a sentence when there is none."""
    path = Path(folder).expanduser().absolute() / SETTINGS_FILE
    try:
        return SearchSettings.from_dict(json.loads(path.read_text(encoding="utf-8")))
    except FileNotFoundError:
        raise ConfigError(
            f"There is no search in {path.parent} (no {SETTINGS_FILE}); give the search's folder."
        ) from None
    except (OSError, ValueError, TypeError) as exc:
        raise ConfigError(f"The search settings in {path} cannot be read ({exc}).") from exc


def _fields(settings: SearchSettings) -> dict:
    return {k: getattr(settings, k) for k in SearchSettings.__dataclass_fields__}


def _write_json(path: Path, data: Any) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data, indent=2, default=str), encoding="utf-8")
    os.replace(tmp, path)


def _storage(url: str):
    import optuna

    try:
        if url.startswith("journal:"):
            from optuna.storages.journal import JournalFileBackend, JournalStorage

            return JournalStorage(JournalFileBackend(url[len("journal:") :]))
        # SQLite: wait for another process's write instead of failing with "database is locked".
        kwargs = {"connect_args": {"timeout": 60}} if url.startswith("sqlite") else {}
        return optuna.storages.RDBStorage(url, engine_kwargs=kwargs)
    except Exception as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ConfigError(
            f"Could not open the study storage {url} ({first}); check the address, that the database server is "
            "running and reachable, and the user and password."
        ) from exc


def _sampler(settings: SearchSettings, dims: list[Dimension], offset: int = 0):
    import optuna

    seed = settings.seed + offset
    if settings.method == "grid":
        point = default_point(settings.base, dims)

        class Grid(optuna.samplers.GridSampler):
            """The grid without its end-of-grid study.stop(), which only works inside study.optimize(); the
            search's own loop ends at its budget, which a grid's size caps."""

            def __init__(self, search_space, seed):
                super().__init__(search_space, seed=seed)
                if point is not None:
                    # The default settings are the first point (trial 0's): the best is then at least a plain run.
                    first = tuple(point[name] for name in self._param_names)
                    at = self._all_grids.index(first)
                    self._all_grids[0], self._all_grids[at] = self._all_grids[at], self._all_grids[0]

            def after_trial(self, study, trial, state, values) -> None:
                return None

        # The same seed in every process and on --resume: trials take grid points by number, and a number must
        # name the same point in all of them (each process's own shuffle would repeat some points, miss others).
        return Grid({d.name: d.grid_values() or [] for d in dims}, seed=settings.seed)
    if settings.method == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    return optuna.samplers.TPESampler(seed=seed, n_startup_trials=min(5, max(2, settings.trials // 3)))


def _pruner(settings: SearchSettings):
    import optuna

    if not settings.prune:
        return optuna.pruners.NopPruner()
    # Compared at the same evaluation of each run; the first trials run whole to set the median.
    return optuna.pruners.MedianPruner(n_startup_trials=min(3, max(1, settings.trials // 4)), n_warmup_steps=1)


def _open_study(settings: SearchSettings, dims: list[Dimension], offset: int = 0):
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    storage = _storage(settings.storage or "")
    try:
        return optuna.create_study(
            storage=storage,
            sampler=_sampler(settings, dims, offset),
            pruner=_pruner(settings),
            study_name=STUDY_NAME,
            direction="maximize",
            load_if_exists=True,
        )
    except Exception as exc:
        raise ConfigError(f"Could not open the study in {settings.storage} ({exc}).") from exc


class _Either:
    """Stop when the user asks, or when the pruner does."""

    def __init__(self, *tokens):
        self.tokens = tokens

    def is_set(self) -> bool:
        return any(t is not None and t.is_set() for t in self.tokens)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _fail_stale(study, emit) -> None:
    """Mark failed the running trials whose process died, and queue their settings to run again."""
    from optuna.trial import TrialState

    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        attrs = trial.user_attrs
        if attrs.get("surplus"):
            continue
        pid, host = attrs.get("pid"), attrs.get("host")
        alive = float(attrs.get("alive") or (trial.datetime_start.timestamp() if trial.datetime_start else time.time()))
        dead = (host == HOST and isinstance(pid, int) and not _pid_alive(pid)) or (
            host != HOST and time.time() - alive > STALE_SECONDS
        )
        if not dead:
            continue
        try:
            study.tell(trial.number, state=TrialState.FAIL)
        except Exception:
            continue  # another process marked it first, and queued its retry
        retry = {"retry_of": trial.number}
        if attrs.get("run"):
            retry["resume_run"] = attrs["run"]
        study.enqueue_trial(trial.params, user_attrs=retry)
        emit(Message(f"Trial {trial.number} ended without finishing (its process stopped); its settings run again."))


def _counts(study) -> tuple[int, list[int]]:
    """(finished trials, numbers of the running trials that count) in the study."""
    from optuna.trial import TrialState

    trials = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED, TrialState.RUNNING))
    done = sum(1 for t in trials if t.state != TrialState.RUNNING)
    running = sorted(t.number for t in trials if t.state == TrialState.RUNNING and not t.user_attrs.get("surplus"))
    return done, running


def run_search(
    folder: str | Path,
    reporter: Reporter | None = None,
    stop: StopToken | None = None,
    worker: int = 0,
    export_best: bool = True,
) -> SearchResult:
    """Run trials until the study has its budget of finished trials (other processes may be running some).

    `worker` numbers the processes of one search so that their samplers draw different settings.
    """
    folder = Path(folder).expanduser().absolute()
    settings = load_search(folder)
    dims = parse_space(list(settings.space))
    emit: Reporter = reporter or (lambda event: None)
    study = _open_study(settings, dims)
    # A resumed search, or another worker, draws on from where the study stands, not from the first draw again.
    # (The study is opened once; only its sampler is made again, with a seed past the draws already made.)
    study.sampler = _sampler(settings, dims, offset=len(study.get_trials(deepcopy=False)) + 1000 * worker)
    distributions = {d.name: d.distribution(grid=settings.method == "grid") for d in dims}
    failures = 0
    while not (stop is not None and stop.is_set()):
        _fail_stale(study, emit)
        done, running = _counts(study)
        if done >= settings.trials:
            break
        if done + len(running) >= settings.trials:
            time.sleep(POLL_SECONDS)  # the last trials run in other processes
            continue
        if failures > settings.trials + 2:
            raise StudioError(
                f"The search stopped: {failures} trials in a row failed; the last said: {_last_error(study)}"
            )
        trial = study.ask(distributions)
        trial.set_user_attr("pid", os.getpid())
        trial.set_user_attr("host", HOST)
        trial.set_user_attr("alive", time.time())
        done, running = _counts(study)
        if trial.number not in running[: max(0, settings.trials - done)]:
            # Another process took the last place at the same moment: this one gives way.
            trial.set_user_attr("surplus", True)
            study.tell(trial, state=_state("FAIL"))
            continue
        state = _run_trial(study, trial, settings, emit, stop)
        failures = failures + 1 if state == "failed" else 0
        write_summary(folder, study, settings)
        if state == "stopped":
            break
    result = write_summary(folder, study, settings)
    if export_best and result.finished and result.best:
        result = _export_best(folder, study, settings, emit)
    return result


def _state(name: str):
    from optuna.trial import TrialState

    return getattr(TrialState, name)


def _last_error(study) -> str:
    failed = [t for t in study.get_trials(deepcopy=False) if t.user_attrs.get("error")]
    return failed[-1].user_attrs["error"] if failed else "no reason was recorded"


def _run_trial(study, trial, settings: SearchSettings, emit: Reporter, stop: StopToken | None) -> str:
    """Train one trial's run; tell the study how it ended: complete, pruned, failed, or stopped (by the user)."""
    from studio.core.training import resume_training, run_training

    params = dict(trial.params)
    key, title = main_metric_of(settings)
    config = settings.base.with_changes(**params, output_dir=None)
    problems = config.problems()
    if problems:
        message = next(iter(problems.values()))
        trial.set_user_attr("error", message)
        study.tell(trial, state=_state("FAIL"))
        emit(TrialUpdated(number=trial.number, state="failed", settings=params, message=message))
        return "failed"
    defaults = params == default_point(settings.base, parse_space(list(settings.space)))
    emit(
        TrialUpdated(
            number=trial.number, state="running", settings=params, message="the default settings" if defaults else None
        )
    )
    pruned = threading.Event()
    evaluations = [0]
    last: list[float] = []
    beat = [time.monotonic()]

    def relay(event) -> None:
        if isinstance(event, RunCreated):
            trial.set_user_attr("run", event.run_dir)
        elif isinstance(event, Evaluated) and math.isfinite(event.main):
            # By evaluation, not by step: trials with other batch sizes reach the same point at other steps.
            evaluations[0] += 1
            last.append(float(event.main))
            trial.report(float(event.main), evaluations[0])
            if settings.prune and trial.should_prune():
                pruned.set()
        elif isinstance(event, Progress) and time.monotonic() - beat[0] > HEARTBEAT_SECONDS:
            beat[0] = time.monotonic()
            trial.set_user_attr("alive", time.time())
        emit(event)

    either = _Either(stop, pruned)
    resume_run = trial.user_attrs.get("resume_run")
    try:
        if resume_run and Path(resume_run).is_dir():
            emit(Message(f"Trial {trial.number} carries on the run of trial {trial.user_attrs.get('retry_of')}"))
            trial.set_user_attr("run", resume_run)
            result = resume_training(resume_run, relay, either)
        else:
            result = run_training(config, relay, either)
    except StudioError as exc:
        trial.set_user_attr("error", str(exc))
        study.tell(trial, state=_state("FAIL"))
        emit(TrialUpdated(number=trial.number, state="failed", settings=params, message=str(exc)))
        return "failed"
    run = str(result.run_dir)
    trial.set_user_attr("run", run)
    if pruned.is_set():
        value = last[-1] if last else None
        trial.set_user_attr("metric", value)
        study.tell(trial, state=_state("PRUNED"))
        emit(TrialUpdated(number=trial.number, state="pruned", settings=params, metric=value, run=run))
        return "pruned"
    if result.stopped:
        # Stopped by the user: the run is resumable, and --resume carries it on as this trial's retry.
        study.tell(trial, state=_state("FAIL"))
        study.enqueue_trial(params, user_attrs={"retry_of": trial.number, "resume_run": run})
        emit(TrialUpdated(number=trial.number, state="failed", settings=params, run=run, message="stopped"))
        return "stopped"
    value = float(result.metrics.get(key, math.nan))
    trial.set_user_attr("metric", value)
    if not math.isfinite(value):
        trial.set_user_attr("error", f"The run gave no {title}.")
        study.tell(trial, state=_state("FAIL"))
        emit(TrialUpdated(number=trial.number, state="failed", settings=params, run=run, message="no figure"))
        return "failed"
    study.tell(trial, value)
    emit(TrialUpdated(number=trial.number, state="complete", settings=params, metric=value, run=run))
    return "complete"


_STATE_NAMES = {"COMPLETE": "complete", "PRUNED": "pruned", "FAIL": "failed", "RUNNING": "running"}


def write_summary(folder: Path, study, settings: SearchSettings) -> SearchResult:
    """search.json: every trial (number, settings, state, metric, run) and the best; rewritten after each trial."""
    key, _title = main_metric_of(settings)
    defaults = default_point(settings.base, parse_space(list(settings.space)))
    trials = []
    for t in study.get_trials(deepcopy=False):
        state = _STATE_NAMES.get(t.state.name)
        if state is None or t.user_attrs.get("surplus"):
            continue  # queued retries not started yet, and places given way
        metric = t.value if t.state.name == "COMPLETE" else t.user_attrs.get("metric")
        entry = {
            "number": t.number,
            "settings": dict(t.params),
            "state": state,
            "metric": metric,
            "run": t.user_attrs.get("run"),
        }
        if t.user_attrs.get("error"):
            entry["error"] = t.user_attrs["error"]
        if t.params == defaults:
            entry["defaults"] = True  # the settings a plain run uses: the best is compared with this trial
        if t.user_attrs.get("retry_of") is not None:
            entry["retry_of"] = t.user_attrs["retry_of"]
        trials.append(entry)
    complete = [t for t in trials if t["state"] == "complete" and t["metric"] is not None]
    best = dict(max(complete, key=lambda t: t["metric"])) if complete else None
    finished = sum(1 for t in trials if t["state"] in ("complete", "pruned")) >= settings.trials
    data: dict[str, Any] = {
        "method": settings.method,
        "metric": key,
        "trials_budget": settings.trials,
        "prune": settings.prune,
        "space": list(settings.space),
        "storage": settings.storage,
        "finished": finished,
        "trials": trials,
        "best": best,
    }
    previous = _read_summary(folder)
    if best and previous.get("best", {}) and previous["best"].get("number") == best["number"]:
        best["model"] = previous["best"].get("model")
    try:
        _write_json(folder / SEARCH_FILE, data)
    except OSError as exc:
        log.warning("Could not write %s: %s", folder / SEARCH_FILE, exc)
    return SearchResult(folder=folder, trials=trials, best=best, finished=finished)


def _read_summary(folder: Path) -> dict:
    try:
        data = json.loads((folder / SEARCH_FILE).read_text(encoding="utf-8"))
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}


def _export_best(folder: Path, study, settings: SearchSettings, emit: Reporter) -> SearchResult:
    """Copy the best trial's model to DIR/best (atomically), and say so in search.json."""
    from studio.core.export import export_folder
    from studio.core.runs import MODEL

    result = write_summary(folder, study, settings)
    best = result.best
    if not best or not best.get("run"):
        return result
    export_folder(Path(best["run"]) / MODEL, folder / BEST)
    data = _read_summary(folder)
    if data.get("best"):
        data["best"]["model"] = str(folder / BEST)
        _write_json(folder / SEARCH_FILE, data)
    emit(Message(f"The best trial, {best['number']}, is exported to {folder / BEST}"))
    return SearchResult(folder=folder, trials=result.trials, best=data.get("best"), finished=result.finished)
