"""The system libraries a Linux bundle links to but does not carry, as a Debian `Depends:` line.

    python3 packaging/linux/host_libs.py dist/fine-tuning-studio            # prints the Depends value
    python3 packaging/linux/host_libs.py --recommends dist/fine-tuning-studio   # prints the Recommends value
    python3 packaging/linux/host_libs.py --list dist/fine-tuning-studio     # one soname a line, with its package

Reads every ELF file's DT_NEEDED entries and symbol versions with `readelf` (binutils); a needed library that is
not in the bundle must come from the system. glibc and libstdc++ get a minimum version from the newest
GLIBC_/GLIBCXX_ symbol version the bundle uses. Exits 1 on a library this table does not know, so that a new
dependency is never shipped unnoticed.

The Wayland client libraries go to `Recommends:`, not `Depends:`: only Qt's Wayland platform plugin loads them,
Qt falls back to X11 (XWayland) without them, and a Wayland desktop has them anyway; as hard dependencies they
made a plain `dpkg -i` fail on machines without a Wayland stack (servers, containers, X11 desktops).
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from pathlib import Path

GLIBC = {
    "libc.so.6",
    "libm.so.6",
    "libdl.so.2",
    "libpthread.so.0",
    "librt.so.1",
    "libutil.so.1",
    "libresolv.so.2",
    "ld-linux-x86-64.so.2",
    "libcrypt.so.1",
    "libanl.so.1",
}
# soname -> Debian/Ubuntu package (the same names on Debian 12, Ubuntu 22.04 and 24.04).
PACKAGES = {
    "libstdc++.so.6": "libstdc++6",
    "libgcc_s.so.1": "libgcc-s1",
    "libGL.so.1": "libgl1",
    "libEGL.so.1": "libegl1",
    "libOpenGL.so.0": "libopengl0",
    "libGLX.so.0": "libglx0",
    "libfontconfig.so.1": "libfontconfig1",
    "libfreetype.so.6": "libfreetype6",
    "libX11.so.6": "libx11-6",
    "libX11-xcb.so.1": "libx11-xcb1",
    "libxcb.so.1": "libxcb1",
    "libXau.so.6": "libxau6",
    "libXdmcp.so.6": "libxdmcp6",
    "libXext.so.6": "libxext6",
    "libXrender.so.1": "libxrender1",
    "libxcb-glx.so.0": "libxcb-glx0",
    "libxkbcommon.so.0": "libxkbcommon0",
    "libxkbcommon-x11.so.0": "libxkbcommon-x11-0",
    "libwayland-client.so.0": "libwayland-client0",
    "libwayland-cursor.so.0": "libwayland-cursor0",
    "libwayland-egl.so.1": "libwayland-egl1",
    "libdrm.so.2": "libdrm2",
}
# Needed only by Qt's Wayland plugin and its integrations (PySide6/Qt/lib/libQt6WaylandClient, plugins/wayland-*).
OPTIONAL = {"libwayland-client.so.0", "libwayland-cursor.so.0", "libwayland-egl.so.1"}
# GLIBCXX symbol version -> the GCC release whose libstdc++6 first has it.
GLIBCXX_GCC = {
    "3.4.25": "8",
    "3.4.26": "9",
    "3.4.28": "10",
    "3.4.29": "11",
    "3.4.30": "12",
    "3.4.31": "13",
    "3.4.32": "13.2",
    "3.4.33": "14",
}


def _version_key(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split("."))


def _elf_files(bundle: Path):
    for path in bundle.rglob("*"):
        if path.is_file() and not path.is_symlink():
            with open(path, "rb") as handle:
                if handle.read(4) == b"\x7fELF":
                    yield path


def scan(bundle: Path) -> tuple[dict[str, set[str]], str | None, str | None]:
    """({host soname: {files needing it}}, newest GLIBC_ version, newest GLIBCXX_ version)."""
    files = list(_elf_files(bundle))
    bundled = {path.name for path in bundle.rglob("*")}
    needed: dict[str, set[str]] = {}
    glibc, glibcxx = set(), set()
    for start in range(0, len(files), 200):
        chunk = [str(path) for path in files[start : start + 200]]
        out = subprocess.run(
            ["readelf", "--wide", "--dynamic", "--version-info", *chunk],
            capture_output=True,
            text=True,
            errors="replace",
        ).stdout
        current = None
        for line in out.splitlines():
            if line.startswith("File: "):
                current = line[6:].strip()
            match = re.search(r"\(NEEDED\).*\[(.+?)\]", line)
            if match and match.group(1) not in bundled:
                needed.setdefault(match.group(1), set()).add(
                    str(Path(current or "?").relative_to(bundle)) if current else "?"
                )
            glibc.update(re.findall(r"\bGLIBC_(\d+(?:\.\d+)+)\b", line))
            glibcxx.update(re.findall(r"\bGLIBCXX_(\d+(?:\.\d+)+)\b", line))
    newest = lambda versions: max(versions, key=_version_key) if versions else None  # noqa: E731
    return needed, newest(glibc), newest(glibcxx)


def depends(
    needed: dict[str, set[str]], glibc: str | None, glibcxx: str | None, optional: bool = False
) -> tuple[list[str], list[str]]:
    """(packages, unknown sonames): the hard dependencies, or with `optional` the recommended ones."""
    packages, unknown = {}, []
    for soname in sorted(needed):
        if (soname in OPTIONAL) != optional:
            continue
        if soname in GLIBC:
            packages["libc6"] = f"libc6 (>= {glibc})" if glibc else "libc6"
        elif soname in PACKAGES:
            name = PACKAGES[soname]
            if name == "libstdc++6" and glibcxx:
                gcc = next(
                    (
                        gcc
                        for version, gcc in sorted(GLIBCXX_GCC.items(), key=lambda kv: _version_key(kv[0]))
                        if _version_key(version) >= _version_key(glibcxx)
                    ),
                    None,
                )
                packages[name] = f"libstdc++6 (>= {gcc})" if gcc else name
            else:
                packages[name] = name
        else:
            unknown.append(soname)
    return sorted(packages.values()), unknown


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("bundle", type=Path)
    parser.add_argument("--list", action="store_true", help="list the host libraries and who needs them")
    parser.add_argument("--recommends", action="store_true", help="print the Recommends value instead")
    args = parser.parse_args(argv)
    needed, glibc, glibcxx = scan(args.bundle)
    packages, unknown = depends(needed, glibc, glibcxx, optional=args.recommends)
    if args.list:
        for soname in sorted(needed):
            package = "libc6" if soname in GLIBC else PACKAGES.get(soname, "UNKNOWN")
            users = sorted(needed[soname])
            kind = "recommends" if soname in OPTIONAL else "depends"
            print(f"{soname:28} {package:22} {kind:10} {len(users)} files, e.g. {users[0]}")
        print(f"newest symbol versions: GLIBC_{glibc}, GLIBCXX_{glibcxx}")
    else:
        print(", ".join(packages))
    if unknown:
        print(
            "error: no Debian package known for "
            + ", ".join(unknown)
            + " (needed by "
            + "; ".join(f"{u}: {sorted(needed[u])[0]}" for u in unknown)
            + "): bundle it, drop what needs it, or add it to PACKAGES in "
            + __file__,
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
