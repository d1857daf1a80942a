"""Python's cyclic garbage collector, run on the GUI thread only while the window is open.

Left to itself, the collector runs in whichever thread happens to allocate: a background job (detecting a file's
task, labelling a CSV) or the training thread. A window, page or widget waiting in a reference cycle (bound
methods in a handler table are enough) is then destroyed there, off the GUI thread, and Qt crashes later on the
dangling widget (caught in the UI tests: a closed window collected while a new one read its first file). So while
a window holds it, automatic collection is off and a timer on the GUI thread collects as the thresholds say, as
pyqtgraph's GarbageCollector does. Explicit gc.collect() calls (the HF Trainer makes them) still run where they
are made: TrainingController collects first on the GUI thread, so there is nothing of the window's left to find.
"""

from __future__ import annotations

import gc

from PySide6.QtCore import QCoreApplication, QObject, QTimer, Slot

INTERVAL_MS = 500


class GuiThreadCollector(QObject):
    """Collects garbage from a timer on the GUI thread while at least one window holds it (see the module)."""

    _instance: GuiThreadCollector | None = None

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self._holders = 0
        self._was_enabled = True
        self._timer = QTimer(self)
        self._timer.setInterval(INTERVAL_MS)
        self._timer.timeout.connect(self._on_timer_timeout)

    @classmethod
    def hold(cls) -> None:
        """Collect on the GUI thread only, until the matching release(); call on the GUI thread."""
        if cls._instance is None:
            cls._instance = cls(QCoreApplication.instance())
        self = cls._instance
        if self._holders == 0:
            self._was_enabled = gc.isenabled()
            gc.disable()
            self._timer.start()
        self._holders += 1

    @classmethod
    def release(cls) -> None:
        """One holder fewer; the last one collects what is left, here, and gives collection back to Python."""
        self = cls._instance
        if self is None or self._holders == 0:
            return
        self._holders -= 1
        if self._holders == 0:
            self._timer.stop()
            gc.collect()
            if self._was_enabled:
                gc.enable()

    @Slot()
    def _on_timer_timeout(self) -> None:
        # What Python's own trigger would do: the youngest generation past its threshold, and the older ones
        # when their counts (collections of the younger) pass theirs.
        counts, thresholds = gc.get_count(), gc.get_threshold()
        if counts[0] <= thresholds[0]:
            return
        generation = 0
        if counts[1] > thresholds[1]:
            generation = 2 if counts[2] > thresholds[2] else 1
        gc.collect(generation)
