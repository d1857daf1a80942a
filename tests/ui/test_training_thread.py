"""Training threads come and go without deadlocking the GUI thread."""

import os
import subprocess
import sys

from tests.conftest import REPO


def test_thousands_of_runs_end_without_a_deadlock():
    # The worker used to be destroyed on its own thread (deleteLater), where ~QObject waits for the GIL while
    # holding a pooled Qt mutex that the GUI thread could want: that hung within about 500 to 1,600 runs here.
    runs = 2500
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    try:
        result = subprocess.run(
            [sys.executable, "-m", "tests.ui.churn_training_threads", str(runs)],
            check=False,
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
    except subprocess.TimeoutExpired:
        raise AssertionError("starting and ending training threads deadlocked the GUI thread") from None
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.split() == ["done", str(runs)]
