"""The `studio` and `fine-tuning-studio` commands: a subcommand runs the CLI; no arguments open the desktop app."""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    """`studio`: the app without arguments, else the command line (which never imports Qt)."""
    argv = sys.argv[1:] if argv is None else argv
    if not argv:
        return open_app()
    from studio.cli import main as cli_main

    return cli_main(argv)


def main_gui() -> int:
    """Entry point of the windowed launcher."""
    return open_app()


def open_app() -> int:
    """Start the desktop app; a missing Qt is one sentence, not a traceback."""
    try:
        from studio.ui.app import run_app
    except ImportError as exc:
        # PySide6 itself may be there with a system library missing (libEGL, libfontconfig): name the package.
        from studio.ui.platform_check import platform_problem

        problem = platform_problem() or (
            f"the desktop app cannot start ({exc}); install PySide6 with `pip install pyside6-essentials`."
        )
        print(f"error: {problem}", file=sys.stderr)
        return 2
    return run_app()
