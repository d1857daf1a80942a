"""Helper for test_training_thread: starts many short training runs while the GUI thread keeps connecting signals.

Run as a script (a deadlock must end in a timeout of its process, not hang the test run); prints `done N`.
"""

import sys

from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtWidgets import QApplication

from studio.ui.training_controller import TrainingController


class _Sender(QObject):
    fired = Signal()


def main(runs: int) -> None:
    app = QApplication([])
    controller = TrainingController()
    started = 0

    def churn():
        # Every connect takes one of Qt's pooled signal-slot mutexes, as pyqtgraph's items do when the
        # Evaluate page draws; many fresh objects reach many of the pool's mutexes.
        for _ in range(200):
            sender = _Sender()
            sender.fired.connect(app.quit)
            sender.fired.disconnect(app.quit)

    def next_run():
        nonlocal started
        if started == runs:
            print(f"done {runs}", flush=True)
            app.quit()
            return
        started += 1
        controller.resume("/nonexistent/run")  # fails at once, on the training thread

    controller.idle.connect(lambda: QTimer.singleShot(0, next_run))
    timer = QTimer()
    timer.timeout.connect(churn)
    timer.start(0)
    QTimer.singleShot(0, next_run)
    app.exec()


if __name__ == "__main__":
    main(int(sys.argv[1]))
