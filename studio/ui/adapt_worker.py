"""AdaptWorker and AdaptController: a domain adaptation (core.adapt.run_adapt) in the training QThread."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from studio.ui.training_controller import TrainingController
from studio.ui.worker import TrainingWorker

if TYPE_CHECKING:
    from studio.core.adapt import AdaptConfig


class AdaptWorker(TrainingWorker):
    """Adapts (a new AdaptConfig, or an adaptation run folder to resume) with the training worker's event stream,
    failure sentences and thread handling; only the engine call differs."""

    def __init__(
        self,
        config: AdaptConfig | None = None,
        resume_dir: str | None = None,
        output_dir: str | None = None,
        stop: threading.Event | None = None,
    ):
        if (config is None) == (resume_dir is None):
            raise ValueError("give either an adaptation config or a run folder to resume")
        # The base class checks the same either-or; a placeholder run folder stands in for a config.
        super().__init__(resume_dir=resume_dir or "", stop=stop)
        self.adapt_config = config
        self.output_dir = output_dir

    def _train(self) -> None:
        from studio.core.adapt import resume_adapt, run_adapt
        from studio.core.quiet import quiet_libraries
        from studio.ui.warmup import ensure_libraries

        ensure_libraries()  # see TrainingWorker._train
        quiet_libraries()
        if self.adapt_config is not None:
            run_adapt(self.adapt_config, self.report, self.stop)
        else:
            resume_adapt(self.resume_dir or "", self.report, self.stop, output_dir=self.output_dir)


class AdaptController(TrainingController):
    """One adaptation at a time, in a QThread, with the training controller's start, stop, wait and shutdown."""

    def start_adapt(self, config: AdaptConfig) -> None:
        self._launch(AdaptWorker(config=config, stop=threading.Event()))

    def resume_adapt(self, run_dir: str, output_dir: str | None = None) -> None:
        self._launch(AdaptWorker(resume_dir=str(run_dir), output_dir=output_dir, stop=threading.Event()))
