"""The engine and the CLI must never pull in Qt: they run headless, on servers and under torchrun."""

import subprocess
import sys


def test_core_and_cli_import_without_qt():
    code = (
        "import sys, studio.core, studio.cli, studio.core.training, studio.core.inference, studio.core.export, "
        "studio.core.callback, studio.cli_progress\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in ('PySide6', 'pyqtgraph', 'shiboken6') "
        "or m.startswith('studio.ui')]\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "", f"Qt modules imported by the core: {out.stdout}"


def test_importing_core_stays_light():
    # torch and transformers load inside the functions that need them, not at import time.
    code = "import sys, studio.core, studio.core.config, studio.core.data; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
