"""Test helper: the events of one type that a training controller (or worker) emits, as they come."""

from __future__ import annotations


def collect(source, kind: type) -> list:
    """A list that fills with each event of `kind` (a class from studio.core.events) that `source` emits."""
    found: list = []

    def keep(event) -> None:
        if isinstance(event, kind):
            found.append(event)

    source.event.connect(keep)
    return found
