"""Before Qt starts on Linux: are the system libraries of Qt and its X11 plugin there, and if not, what to install."""

from __future__ import annotations

import importlib.util
import os
import struct
import sys
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

# The libraries Qt's X11 plugin and QtGui load from the system, with the package that has each:
# (Debian and Ubuntu, Fedora). Found with readelf -d on PySide6 6.x's libqxcb.so, libQt6XcbQpa and libQt6Gui.
PACKAGES: dict[str, tuple[str, str]] = {
    "libxcb-cursor.so.0": ("libxcb-cursor0", "xcb-util-cursor"),
    "libxcb-icccm.so.4": ("libxcb-icccm4", "xcb-util-wm"),
    "libxcb-keysyms.so.1": ("libxcb-keysyms1", "xcb-util-keysyms"),
    "libxcb-image.so.0": ("libxcb-image0", "xcb-util-image"),
    "libxcb-render-util.so.0": ("libxcb-render-util0", "xcb-util-renderutil"),
    "libxcb-util.so.1": ("libxcb-util1", "xcb-util"),
    "libxcb-randr.so.0": ("libxcb-randr0", "libxcb"),
    "libxcb-render.so.0": ("libxcb-render0", "libxcb"),
    "libxcb-shape.so.0": ("libxcb-shape0", "libxcb"),
    "libxcb-shm.so.0": ("libxcb-shm0", "libxcb"),
    "libxcb-sync.so.1": ("libxcb-sync1", "libxcb"),
    "libxcb-xfixes.so.0": ("libxcb-xfixes0", "libxcb"),
    "libxcb-xkb.so.1": ("libxcb-xkb1", "libxcb"),
    "libxcb-xinerama.so.0": ("libxcb-xinerama0", "libxcb"),
    "libxcb-xinput.so.0": ("libxcb-xinput0", "libxcb"),
    "libxcb.so.1": ("libxcb1", "libxcb"),
    "libX11-xcb.so.1": ("libx11-xcb1", "libX11-xcb"),
    "libX11.so.6": ("libx11-6", "libX11"),
    "libxkbcommon.so.0": ("libxkbcommon0", "libxkbcommon"),
    "libxkbcommon-x11.so.0": ("libxkbcommon-x11-0", "libxkbcommon-x11"),
    "libGL.so.1": ("libgl1", "libglvnd-glx"),
    "libEGL.so.1": ("libegl1", "libglvnd-egl"),
    "libOpenGL.so.0": ("libopengl0", "libglvnd-opengl"),
    "libfontconfig.so.1": ("libfontconfig1", "fontconfig"),
    "libfreetype.so.6": ("libfreetype6", "freetype"),
    "libglib-2.0.so.0": ("libglib2.0-0", "glib2"),
    "libgthread-2.0.so.0": ("libglib2.0-0", "glib2"),
    "libdbus-1.so.3": ("libdbus-1-3", "dbus-libs"),
    "libz.so.1": ("zlib1g", "zlib"),
    "libzstd.so.1": ("libzstd1", "libzstd"),
}

# Where the dynamic loader looks when a library has no path of its own (besides LD_LIBRARY_PATH and its cache).
_DEFAULT_DIRS = ("/lib", "/usr/lib", "/lib64", "/usr/lib64")
_LD_CACHE = Path("/etc/ld.so.cache")


def uses_x11(environ: Mapping[str, str]) -> bool:
    """Whether Qt will pick its xcb (X11) plugin: asked for by name, or left to choose on an X11 display."""
    chosen = environ.get("QT_QPA_PLATFORM", "").strip()
    if chosen:
        return chosen.split(";")[0].split(":")[0] == "xcb"
    # On a Wayland session Qt 6 tries its wayland plugin first; the xcb one then is only a fallback.
    if environ.get("WAYLAND_DISPLAY") or environ.get("XDG_SESSION_TYPE") == "wayland":
        return False
    return bool(environ.get("DISPLAY"))


def qt_folder() -> Path | None:
    """PySide6's Qt folder (lib/, plugins/), found without importing Qt; None when PySide6 is laid out otherwise."""
    try:
        spec = importlib.util.find_spec("PySide6")
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = Path(next(iter(spec.submodule_search_locations))) / "Qt"
    return folder if (folder / "lib").is_dir() else None


def needed_libraries(path: Path) -> tuple[list[str], list[str]]:
    """The DT_NEEDED names and the RUNPATH/RPATH folders of an ELF shared library (read from its section headers)."""
    with open(path, "rb") as f:
        ident = f.read(16)
        if ident[:4] != b"\x7fELF":
            raise ValueError(f"{path} is not an ELF file")
        wide = ident[4] == 2
        end = "<" if ident[5] == 1 else ">"
        header = f.read(48 if wide else 36)
        if wide:
            shoff, shentsize, shnum = struct.unpack(end + "24xQ10xHH2x", header)
        else:
            shoff, shentsize, shnum = struct.unpack(end + "16xI10xHH2x", header)
        f.seek(shoff)
        table = f.read(shentsize * shnum)
        section_format = end + ("IIQQQQIIQQ" if wide else "IIIIIIIIII")
        sections = [struct.unpack_from(section_format, table, i * shentsize) for i in range(shnum)]
        dynamic = next((s for s in sections if s[1] == 6), None)  # SHT_DYNAMIC
        if dynamic is None:
            return [], []
        offset, size, link = dynamic[4], dynamic[5], dynamic[6]
        f.seek(offset)
        entries = f.read(size)
        strings_section = sections[link]
        f.seek(strings_section[4])
        strings = f.read(strings_section[5])
    entry_format = end + ("qQ" if wide else "iI")
    step = struct.calcsize(entry_format)

    def text(at: int) -> str:
        return strings[at : strings.index(b"\0", at)].decode("utf-8", "replace")

    needed: list[str] = []
    folders: list[str] = []
    origin = str(path.parent)
    for i in range(0, len(entries) - step + 1, step):
        tag, value = struct.unpack_from(entry_format, entries, i)
        if tag == 0:  # DT_NULL
            break
        if tag == 1:  # DT_NEEDED
            needed.append(text(value))
        elif tag in (15, 29):  # DT_RPATH, DT_RUNPATH
            for folder in text(value).split(":"):
                folders.append(folder.replace("$ORIGIN", origin).replace("${ORIGIN}", origin))
    return needed, folders


class SystemLibraries:
    """Answers whether the dynamic loader would find a library by name, without loading it."""

    def __init__(self, environ: Mapping[str, str]):
        self._dirs = [d for d in environ.get("LD_LIBRARY_PATH", "").split(":") if d]
        multiarch = getattr(sys.implementation, "_multiarch", "")
        for base in _DEFAULT_DIRS:
            self._dirs += [f"{base}/{multiarch}", base] if multiarch else [base]
        try:
            self._cache = _LD_CACHE.read_bytes()
        except OSError:
            self._cache = b""

    def __call__(self, name: str) -> bool:
        # ldconfig's cache holds each library's name as a NUL-terminated string.
        if self._cache and b"\0" + name.encode() + b"\0" in self._cache:
            return True
        return any(os.path.exists(os.path.join(folder, name)) for folder in self._dirs)


def missing_libraries(roots: Iterable[Path], found: Callable[[str], bool]) -> list[str]:
    """The system libraries that the roots (and the Qt libraries beside them) need and that found() cannot find."""
    missing: list[str] = []
    checked: set[str] = set()
    listings: dict[str, set[str]] = {}  # folder -> its file names: one listdir each, not a stat per name
    seen: set[str] = set()
    todo = [os.path.realpath(root) for root in roots if os.path.isfile(root)]
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        seen.add(path)
        try:
            needed, folders = needed_libraries(Path(path))
        except (OSError, ValueError, struct.error, IndexError):
            continue  # not something to judge: Qt will say what it makes of it
        for name in needed:
            bundled = next((f for f in folders if name in _listing(listings, f)), None)
            if bundled is not None:
                todo.append(os.path.realpath(os.path.join(bundled, name)))
            elif name not in checked:
                checked.add(name)
                if not found(name):
                    missing.append(name)
    return missing


def _listing(listings: dict[str, set[str]], folder: str) -> set[str]:
    if folder not in listings:
        try:
            listings[folder] = set(os.listdir(folder))
        except OSError:
            listings[folder] = set()
    return listings[folder]


def platform_problem(
    environ: Mapping[str, str] | None = None,
    *,
    platform: str | None = None,
    qt: Path | None = None,
    found: Callable[[str], bool] | None = None,
) -> str | None:
    """One sentence naming the missing system packages and the commands that install them, or None when all is there.

    Checked on Linux only: that there is a display, QtWidgets' own libraries, and the X11 plugin's when Qt is going to
    use X11.
    """
    environ = os.environ if environ is None else environ
    if not (platform or sys.platform).startswith("linux"):
        return None
    if not any(environ.get(name, "").strip() for name in ("QT_QPA_PLATFORM", "DISPLAY", "WAYLAND_DISPLAY")):
        # Qt would try X11, fail to connect and abort with a message about reinstalling the application.
        return (
            "the desktop app needs a display and this session has none (DISPLAY and WAYLAND_DISPLAY are not set); "
            "open it from a desktop session, or run it under a virtual one with `xvfb-run studio` "
            "(`sudo apt install xvfb`), or use the command line (`studio train --help`)."
        )
    qt = qt or qt_folder()
    if qt is None:
        return None
    roots = [qt / "lib" / "libQt6Widgets.so.6"]
    x11 = uses_x11(environ)
    if x11:
        roots.append(qt / "plugins" / "platforms" / "libqxcb.so")
    missing = missing_libraries(roots, found or SystemLibraries(environ))
    if not missing:
        return None
    return _sentence(missing, x11)


def _sentence(missing: list[str], x11: bool) -> str:
    debian = list(dict.fromkeys(PACKAGES[name][0] for name in missing if name in PACKAGES))
    fedora = list(dict.fromkeys(PACKAGES[name][1] for name in missing if name in PACKAGES))
    unknown = [name for name in missing if name not in PACKAGES]
    what = "Qt's X11 support" if x11 else "Qt"
    sentence = f"the desktop app cannot start: {what} needs system libraries that are missing ({', '.join(missing)})"
    if debian:
        sentence += (
            f"; install them with `sudo apt install {' '.join(debian)}` (Debian, Ubuntu)"
            f" or `sudo dnf install {' '.join(fedora)}` (Fedora)"
        )
        if unknown:
            sentence += f", and the package that has {', '.join(unknown)}"
    else:
        sentence += "; install the packages that have them with your system's package manager"
    return sentence + "."
