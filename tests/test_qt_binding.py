"""Guard against Qt bindings that leak references to Python's singletons (PySide6 6.12.0 on Python 3.11).

That bug aborted the app (`Fatal Python error: none_dealloc`) after a few minutes of live plotting; a wrong
pin in pyproject.toml or constraints.txt would bring it back.
"""

import subprocess
import sys

_CHECK = """
import sys
from PySide6.QtCore import QCoreApplication, QObject, Signal

app = QCoreApplication([])

class Probe(QObject):
    fired = Signal(int)

    def __init__(self):
        super().__init__()
        self.calls = 0
        self.fired.connect(self.on_fired)
        self.objectNameChanged.connect(self.on_fired)

    def on_fired(self, *args):
        self.calls += 1

probe = Probe()
true_refs, none_refs = sys.getrefcount(True), sys.getrefcount(None)
for i in range(3000):
    probe.fired.emit(i)
    probe.setObjectName(f"n{i}")
print(sys.getrefcount(True) - true_refs, sys.getrefcount(None) - none_refs, probe.calls)
"""


def test_signals_and_slots_keep_reference_counts():
    # In a subprocess: with the bug, the interpreter aborts instead of failing an assertion.
    done = subprocess.run([sys.executable, "-c", _CHECK], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    true_drift, none_drift, calls = map(int, done.stdout.split())
    assert calls == 6000
    assert abs(true_drift) < 50 and abs(none_drift) < 50, (true_drift, none_drift)
