"""The engine and the CLI must never pull in Qt: they run headless, on servers and under torchrun.

The import contract in pyproject.toml (lint-imports) sees imports inside functions too; this test checks what
actually gets loaded when every core module is imported.
"""

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_core_and_cli_import_without_qt():
    code = (
        "import sys, pkgutil, importlib, studio.core, studio.cli, studio.cli_progress\n"
        "names = [m.name for m in pkgutil.walk_packages(studio.core.__path__, 'studio.core.')]\n"
        "for name in names: importlib.import_module(name)\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in ('PySide6', 'pyqtgraph', 'shiboken6') "
        "or m.startswith('studio.ui')]\n"
        "print(len(names), ','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    count, _, bad = out.stdout.strip().partition(" ")
    # A subpackage (studio.core.tasks) counts once, as its __init__.py; studio.core itself is not walked.
    core = REPO / "studio" / "core"
    on_disk = [p for p in core.rglob("*.py") if p != core / "__init__.py"]
    assert int(count) == len(on_disk), f"{count} core modules imported, {len(on_disk)} on disk"
    assert bad == "", f"Qt modules imported by the core: {bad}"


def test_importing_core_stays_light():
    # torch and transformers load inside the functions that need them, not at import time.
    code = "import sys, studio.core, studio.core.config, studio.core.data; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
