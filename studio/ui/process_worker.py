"""ProcessTrainingWorker: trains in a child process (torchrun for several GPUs) and follows its events log."""

from __future__ import annotations

import collections
import contextlib
import json
import logging
import os
import queue
import signal
import subprocess
import tempfile
import threading
import time
from pathlib import Path

from studio.core import events as ev
from studio.core.config import TrainConfig
from studio.core.launch import Launch, child_command, child_environment
from studio.ui.worker import TrainingWorker

log = logging.getLogger(__name__)

POLL_S = 0.1  # how often the events log is read: the same pace as the plots' redraw
STDERR_LINES = 200  # the child's last lines, logged when it fails


class ProcessTrainingWorker(TrainingWorker):
    """The same `event` stream as TrainingWorker, read back from the events log of a run in a child process.

    Lives in its own QThread like its base, whose `run` calls `_train`: here it waits on the child. Stop sends
    SIGINT to rank 0 (the pid in the run's status.json), which stops every rank after the current step.
    """

    def __init__(
        self,
        launch: Launch,
        config: TrainConfig | None = None,
        resume_dir: str | None = None,
        stop: threading.Event | None = None,
    ):
        super().__init__(config=config, resume_dir=resume_dir, stop=stop)
        self.launch = launch

    def _train(self) -> None:
        """Start the child, pass on its events as they are written, and say why it failed if it did."""
        from studio.core.logfile import log_file
        from studio.core.paths import runs_dir

        with tempfile.TemporaryDirectory(prefix="studio-launch-") as scratch:
            if self.config is not None:
                config_file = Path(scratch) / "config.json"
                self.config.save(config_file)
                command = child_command(self.launch, config_file=config_file)
            else:
                command = child_command(self.launch, resume_dir=Path(str(self.resume_dir)))
            runs_dir()  # created here, so that the ranks never race to create it
            launched = time.time()
            log.info("Training in a child process: %s", " ".join(command))
            child = subprocess.Popen(
                command,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                stdin=subprocess.DEVNULL,
                env=child_environment(self.launch),
                text=True,
                # Its own session: a Ctrl-C in the app's terminal is not a Stop for the child.
                start_new_session=True,
            )
            lines: queue.Queue[str] = queue.Queue()
            errors: collections.deque[str] = collections.deque(maxlen=STDERR_LINES)
            readers = [
                threading.Thread(target=_pump, args=(child.stdout, lines.put), daemon=True),
                threading.Thread(target=_pump, args=(child.stderr, errors.append), daemon=True),
            ]
            for reader in readers:
                reader.start()
            tail = _EventsTail()
            retry: TrainConfig | None = None
            signalled = False
            while True:
                ended = child.poll() is not None
                if ended:
                    for reader in readers:
                        reader.join(timeout=5)
                while not lines.empty():
                    line = lines.get_nowait().rstrip("\n")
                    if line.startswith("run: ") and tail.run_dir is None:
                        tail.run_dir = Path(line[len("run: ") :])
                    elif line.startswith("retry: "):
                        retry = TrainConfig.from_dict(json.loads(line[len("retry: ") :]))
                for event in tail.read():
                    self.report(event)
                if ended:
                    break
                if self.stop.is_set() and not signalled:
                    signalled = _signal_rank_zero(tail.run_dir, launched)
                time.sleep(POLL_S)
        code = child.returncode
        if code == 0:
            return
        if code == 2 and (self._engine_failure is not None or _last_error(errors)):
            # A refusal with its sentence (a bad file, no memory): shown as it is.
            self._fail(self._engine_failure.message if self._engine_failure else str(_last_error(errors)))
            if retry is not None:
                self.event.emit(ev.RetrySuggested(config=retry))
            return
        log.error("The training process ended with exit code %s; its last output:\n%s", code, "".join(errors))
        said = self._engine_failure.message if self._engine_failure else f"the process ended with exit code {code}"
        self._fail(f"Training failed unexpectedly ({said.rstrip('.')}); the details are in {log_file()}.")


class _EventsTail:
    """The events log of a run in a child process, read from this run's RunCreated on, whole lines only."""

    def __init__(self) -> None:
        self.run_dir: Path | None = None
        self._offset = 0
        self._started = False

    def read(self) -> list[ev.Event]:
        from studio.core.runs import EVENTS_FILE

        if self.run_dir is None:
            return []
        try:
            with open(self.run_dir / EVENTS_FILE, "rb") as handle:
                handle.seek(self._offset)
                chunk = handle.read()
        except OSError:
            return []
        complete = chunk[: chunk.rfind(b"\n") + 1]  # a line still being written waits for the next read
        self._offset += len(complete)
        records = []
        for line in complete.decode("utf-8").splitlines():
            try:
                records.append(json.loads(line))
            except ValueError:
                continue
        if not self._started:
            # A resumed run's log holds its earlier lives first; the child printed `run:` after this life's
            # RunCreated was written, so the last one read now is where this run begins.
            starts = [i for i, r in enumerate(records) if r.get("kind") == "RunCreated"]
            if not starts:
                self._offset = 0  # not written yet: read it all again next time
                return []
            records = records[starts[-1] :]
            self._started = True
        return [e for e in (ev.event_from_dict(r) for r in records) if e is not None]


def _pump(stream, put) -> None:
    for line in stream:
        put(line)
    stream.close()


def _signal_rank_zero(run_dir: Path | None, launched: float) -> bool:
    """SIGINT to the process that writes the run's status (rank 0), once it has: True when it was sent."""
    from studio.core.runs import read_status

    if run_dir is None:
        return False
    status = read_status(run_dir)
    pid = status.get("pid")
    # A resumed run's status.json may still be the last process's until this one writes it.
    if not isinstance(pid, int) or status.get("updated", 0) < launched:
        return False
    with contextlib.suppress(ProcessLookupError):  # already gone: it ends by itself
        os.kill(pid, signal.SIGINT)
    return True


def _last_error(lines) -> str | None:
    for line in reversed(lines):
        if line.startswith("error: "):
            return line[len("error: ") :].strip()
    return None
