"""The task runner: a job that needs torch and transformers starts only once they are imported, one thread at a
time (two threads importing transformers at once fail with "cannot import name ..."); other jobs do not wait."""

from __future__ import annotations

import threading


def test_a_job_asking_for_the_libraries_runs_after_their_import_and_others_do_not_wait(qtbot, monkeypatch):
    from studio.ui import warmup
    from studio.ui.tasks import TaskRunner

    importing = threading.Event()
    release = threading.Event()
    order: list[str] = []

    def slow_import() -> None:
        importing.set()
        release.wait(10)
        order.append("imported")

    monkeypatch.setattr(warmup, "ensure_libraries", slow_import)
    tasks = TaskRunner()
    results: list[str] = []
    tasks.submit(lambda: order.append("heavy job") or "heavy", done=results.append, libraries=True)
    assert importing.wait(10)
    tasks.submit(lambda: order.append("light job") or "light", done=results.append)
    qtbot.waitUntil(lambda: results == ["light"], timeout=10_000)
    release.set()
    qtbot.waitUntil(lambda: len(results) == 2, timeout=10_000)
    assert order == ["light job", "imported", "heavy job"]
    tasks.wait(10_000)
