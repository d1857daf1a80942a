"""Frozen entry point of both launchers: `fine-tuning-studio` opens the desktop app, `studio` is the CLI.

The bundle's name for the executable decides (on Linux `studio` is a symlink to `fine-tuning-studio`, so the
libraries and the Python archive are there once; on Windows a console and a windowed executable are needed).
"""

import multiprocessing
import os
import sys

GUI_NAME = "fine-tuning-studio"


def _launched_as_app() -> bool:
    name = os.path.basename(sys.argv[0] if sys.argv and sys.argv[0] else sys.executable).lower()
    return name.removesuffix(".exe") == GUI_NAME


def _give_windowed_process_streams() -> None:
    # A windowed executable on Windows (and an .app started from the Finder) has no console: sys.stdout and
    # sys.stderr are None there, and the first library that prints (tqdm, a warning) would raise.
    for name in ("stdout", "stderr"):
        if getattr(sys, name) is None:
            setattr(sys, name, open(os.devnull, "w", encoding="utf-8"))  # noqa: SIM115 - lives as long as the process


if __name__ == "__main__":
    multiprocessing.freeze_support()  # a frozen child process of multiprocessing runs its task and exits here
    if _launched_as_app():
        _give_windowed_process_streams()
        from studio.launcher import main_gui

        sys.exit(main_gui())
    from studio.launcher import main

    sys.exit(main())
