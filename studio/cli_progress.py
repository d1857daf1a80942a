"""The CLI's reporter: `run: FOLDER` first, a tqdm progress bar with ETA on a terminal, plain lines otherwise."""

from __future__ import annotations

import sys
from collections.abc import Callable

from studio.core import events as ev


class TerminalReporter:
    """Turns engine events into terminal output; the bar goes to stderr so stdout stays parseable."""

    def __init__(self, stream=None, out=None):
        self.stream = stream or sys.stderr
        self.out = out or sys.stdout
        self.interactive = hasattr(self.stream, "isatty") and self.stream.isatty()
        self.bar = None
        self.loss: float | None = None
        # What each event does on the terminal; an event missing here is not shown.
        self._handlers: dict[type[ev.Event], Callable] = {
            ev.RunCreated: self._on_run_created,
            ev.Message: self._on_message,
            ev.RunStarted: self._on_run_started,
            ev.Progress: self._on_progress,
            ev.LossLogged: self._on_loss_logged,
            ev.Evaluated: self._on_evaluated,
            ev.Failed: self._on_failed,
        }

    def on(self, kind: type[ev.Event], handler: Callable) -> None:
        """Show events of `kind` with `handler` (a command's own events, such as studio adapt's perplexity)."""
        self._handlers[kind] = handler

    def __call__(self, event: ev.Event) -> None:
        handler = self._handlers.get(type(event))
        if handler is not None:
            handler(event)

    def _on_run_created(self, event: ev.RunCreated) -> None:
        print(f"run: {event.run_dir}", file=self.out, flush=True)

    def _on_message(self, event: ev.Message) -> None:
        self.line(("warning: " if event.level == "warning" else "") + event.text)

    def _on_run_started(self, event: ev.RunStarted) -> None:
        self.line(f"training on {event.device} ({event.precision}), {event.total_steps} steps")
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

    def _on_progress(self, event: ev.Progress) -> None:
        if self.bar is not None:
            self.bar.update(event.step - self.bar.n)
            if self.loss is not None:
                self.bar.set_postfix(loss=f"{self.loss:.4f}", refresh=False)

    def _on_loss_logged(self, event: ev.LossLogged) -> None:
        self.loss = event.loss

    def _on_evaluated(self, event: ev.Evaluated) -> None:
        from studio.core.tasks import get_task

        task = get_task(event.task)
        keys = dict.fromkeys([task.main_metric, *task.shown_scalars])
        figures = ", ".join(f"{k} {event.scores[k]:.4f}" for k in keys if k in event.scores)
        self.line(f"step {event.step} (epoch {event.epoch:.2f}): validation loss {event.loss:.4f}, {figures}")

    def _on_failed(self, event: ev.Failed) -> None:
        self.close()

    def line(self, text: str) -> None:
        """Print a line above the bar (or plainly, without one)."""
        if self.bar is not None:
            self.bar.write(text, file=self.stream)
        else:
            print(text, file=self.stream, flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None
