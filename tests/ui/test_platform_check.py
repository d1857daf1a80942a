"""The check before Qt starts: missing X11 libraries are named with the packages and commands that install them."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from studio.ui import app as app_module
from studio.ui.platform_check import (
    PACKAGES,
    SystemLibraries,
    missing_libraries,
    needed_libraries,
    platform_problem,
    qt_folder,
    uses_x11,
)
from tests.ui.conftest import launch_app

QT = qt_folder()
XCB_PLUGIN = QT / "plugins" / "platforms" / "libqxcb.so" if QT else None
NEWCOMER_MISSING = {"libxcb-cursor.so.0", "libxcb-icccm.so.4", "libxcb-keysyms.so.1"}
linux_wheel = pytest.mark.skipif(
    not sys.platform.startswith("linux") or XCB_PLUGIN is None or not XCB_PLUGIN.is_file(),
    reason="PySide6's Linux wheel has the xcb plugin",
)


def all_but(*absent: str):
    return lambda name: name not in absent


@pytest.mark.parametrize(
    ("environ", "x11"),
    [
        ({"DISPLAY": ":0"}, True),
        ({"DISPLAY": ":0", "QT_QPA_PLATFORM": "xcb"}, True),
        ({"QT_QPA_PLATFORM": "xcb:nograb"}, True),
        ({"DISPLAY": ":0", "QT_QPA_PLATFORM": "offscreen"}, False),
        ({"DISPLAY": ":0", "QT_QPA_PLATFORM": "wayland"}, False),
        ({"DISPLAY": ":0", "WAYLAND_DISPLAY": "wayland-0"}, False),
        ({"DISPLAY": ":0", "XDG_SESSION_TYPE": "wayland"}, False),
        ({}, False),
    ],
)
def test_the_x11_plugin_is_checked_only_when_qt_will_use_it(environ, x11):
    assert uses_x11(environ) is x11


@linux_wheel
def test_the_newcomer_s_missing_libraries_are_named_with_their_packages():
    problem = platform_problem({"DISPLAY": ":0"}, platform="linux", found=all_but(*NEWCOMER_MISSING))
    assert problem is not None
    for name in NEWCOMER_MISSING:
        assert name in problem
    assert "`sudo apt install libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1`" in problem
    assert "`sudo dnf install xcb-util-cursor xcb-util-wm xcb-util-keysyms`" in problem
    assert problem.endswith(").") and ". " not in problem  # one sentence


@linux_wheel
def test_a_library_without_a_known_package_is_still_named():
    problem = platform_problem({"DISPLAY": ":0"}, platform="linux", found=all_but("libxcb-cursor.so.0", "libX11.so.6"))
    assert "libxcb-cursor0 libx11-6" in problem and "xcb-util-cursor libX11" in problem
    # Every library the plugin needs from the system has a package in the table.
    needed = missing_libraries([XCB_PLUGIN], found=lambda name: False)
    libc = {"libc.so.6", "libm.so.6", "libstdc++.so.6", "libgcc_s.so.1", "libdl.so.2", "libpthread.so.0", "librt.so.1"}
    unmapped = {name for name in needed if name not in libc and not name.startswith("ld-linux")} - set(PACKAGES)
    assert not unmapped
    assert set(needed) >= NEWCOMER_MISSING
    unknown = platform_problem({"DISPLAY": ":0"}, platform="linux", found=all_but("libc.so.6"))
    assert "libc.so.6" in unknown and "package manager" in unknown


@linux_wheel
def test_without_x11_only_qts_own_libraries_count():
    assert (
        platform_problem({"QT_QPA_PLATFORM": "offscreen"}, platform="linux", found=all_but(*NEWCOMER_MISSING)) is None
    )
    problem = platform_problem({"QT_QPA_PLATFORM": "offscreen"}, platform="linux", found=all_but("libEGL.so.1"))
    assert "`sudo apt install libegl1`" in problem and "X11" not in problem


def test_a_session_without_a_display_is_one_sentence_before_any_library():
    problem = platform_problem({"HOME": "/root"}, platform="linux", found=lambda name: False)
    assert problem is not None and "needs a display" in problem and "xvfb-run studio" in problem
    assert "libxcb" not in problem and problem.endswith(").") and ". " not in problem
    assert "display" not in (platform_problem({"DISPLAY": ":0"}, platform="linux", found=lambda name: True) or "")
    assert platform_problem({"WAYLAND_DISPLAY": "wayland-0"}, platform="linux", found=lambda name: True) is None


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the display check is Linux's")
def test_the_app_started_without_a_display_says_so_and_exits(tmp_path):
    """`studio` with no display: one line on stderr and exit status 2, not Qt's abort."""
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    env["STUDIO_HOME"] = str(tmp_path)
    done = launch_app(env)
    assert done.returncode == 2
    assert done.stderr.startswith("error: the desktop app needs a display") and done.stderr.count("\n") == 1


def test_other_systems_are_not_checked():
    assert platform_problem({"DISPLAY": ":0"}, platform="win32", found=lambda name: False) is None
    assert platform_problem({"DISPLAY": ":0"}, platform="darwin", found=lambda name: False) is None


@linux_wheel
def test_the_plugin_s_needs_are_read_from_its_elf_header():
    needed, folders = needed_libraries(XCB_PLUGIN)
    assert "libQt6XcbQpa.so.6" in needed and "libxcb.so.1" in needed
    assert any((Path(folder) / "libQt6XcbQpa.so.6").is_file() for folder in folders)
    with pytest.raises(ValueError, match="not an ELF file"):
        needed_libraries(Path(__file__))


@linux_wheel
@pytest.mark.skipif(shutil.which("ldd") is None, reason="ldd is the reference")
def test_on_this_machine_the_check_agrees_with_ldd():
    # ldd runs the real dynamic loader: what it cannot find, the check must report, and nothing else.
    out = subprocess.run(["ldd", str(XCB_PLUGIN)], capture_output=True, text=True, timeout=60, check=False).stdout
    not_found = {line.split("=>")[0].strip() for line in out.splitlines() if "not found" in line}
    ours = set(missing_libraries([XCB_PLUGIN], SystemLibraries({})))
    assert ours <= not_found and bool(ours) == bool(not_found), (ours, not_found)
    assert (platform_problem({"DISPLAY": ":0"}) is None) == (not not_found)


def test_the_app_stops_with_the_sentence_before_creating_the_application(monkeypatch, capsys):
    created = []
    monkeypatch.setattr(app_module, "create_application", lambda *a, **k: created.append(1))
    monkeypatch.setattr(
        "studio.ui.platform_check.platform_problem", lambda: "the desktop app cannot start: libx is missing."
    )
    assert app_module.run_app([]) == 2
    assert created == []
    assert capsys.readouterr().err == "error: the desktop app cannot start: libx is missing.\n"
