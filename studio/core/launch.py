"""How a run is launched: in the calling process, or in a child process (under torchrun for several GPUs)."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path

# The module a child process runs; it prints `run: FOLDER` first, like `studio train`.
CHILD_MODULE = "studio.train_process"


@dataclass(frozen=True)
class Launch:
    """Where the engine runs: `processes` 0 is this process, 1 a child, N > 1 torchrun with N ranks."""

    processes: int = 0
    # CUDA_VISIBLE_DEVICES for the child: the HF Trainer always trains on the first GPU it sees.
    visible_devices: str | None = None

    @property
    def in_process(self) -> bool:
        return self.processes == 0


IN_PROCESS = Launch()


def child_command(launch: Launch, *, config_file: Path | None = None, resume_dir: Path | None = None) -> list[str]:
    """The command line of the child process that trains the saved config, or resumes the run folder."""
    if (config_file is None) == (resume_dir is None):
        raise ValueError("give either a config file or a run folder to resume")
    target = ["--config", str(config_file)] if config_file is not None else ["--resume", str(resume_dir)]
    if launch.processes > 1:
        # --standalone picks a free port and a fresh rendezvous id, which also names the run folder.
        runner = ["-m", "torch.distributed.run", "--standalone", "--nproc_per_node", str(launch.processes)]
        return [sys.executable, *runner, "-m", CHILD_MODULE, *target]
    return [sys.executable, "-m", CHILD_MODULE, *target]


def child_environment(launch: Launch) -> dict[str, str]:
    env = dict(os.environ)
    if launch.visible_devices is not None:
        env["CUDA_VISIBLE_DEVICES"] = launch.visible_devices
    # The child's output is read line by line as it comes, not when a buffer fills.
    env["PYTHONUNBUFFERED"] = "1"
    return env
