"""The CLI's reporter: `run: FOLDER` first, a tqdm progress bar with ETA on a terminal, plain lines otherwise."""

from __future__ import annotations

import sys

from studio.core.events import Evaluated, Failed, LossLogged, Message, Progress, RunCreated, RunStarted


class TerminalReporter:
    """Turns engine events into terminal output; the bar goes to stderr so stdout stays parseable."""

    def __init__(self, stream=None, out=None):
        self.stream = stream or sys.stderr
        self.out = out or sys.stdout
        self.interactive = hasattr(self.stream, "isatty") and self.stream.isatty()
        self.bar = None
        self.loss = None

    def __call__(self, event) -> None:
        if isinstance(event, RunCreated):
            print(f"run: {event.run_dir}", file=self.out, flush=True)
        elif isinstance(event, Message):
            self._line(("warning: " if event.level == "warning" else "") + event.text)
        elif isinstance(event, RunStarted):
            self._line(f"training on {event.device} ({event.precision}), {event.total_steps} steps")
            if self.interactive:
                from tqdm import tqdm

                self.bar = tqdm(
                    total=event.total_steps,
                    initial=event.resumed_from_step,
                    file=self.stream,
                    unit="step",
                    dynamic_ncols=True,
                    desc="training",
                )
        elif isinstance(event, Progress):
            if self.bar is not None:
                self.bar.update(event.step - self.bar.n)
                if self.loss is not None:
                    self.bar.set_postfix(loss=f"{self.loss:.4f}", refresh=False)
        elif isinstance(event, LossLogged):
            self.loss = event.loss
        elif isinstance(event, Evaluated):
            self._line(
                f"step {event.step} (epoch {event.epoch:.2f}): validation loss {event.loss:.4f}, "
                f"f1 {event.f1:.4f}, accuracy {event.accuracy:.4f}"
            )
        elif isinstance(event, Failed):
            self.close()

    def _line(self, text: str) -> None:
        if self.bar is not None:
            self.bar.write(text, file=self.stream)
        else:
            print(text, file=self.stream, flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None
