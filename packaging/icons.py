"""Make the platform icons from resources/icon.png with Qt (already in the build environment; no Pillow needed).

python packaging/icons.py hicolor OUT_DIR    # OUT_DIR/<N>x<N>/apps/fine-tuning-studio.png (+ scalable/*.svg)
python packaging/icons.py ico OUT_FILE       # Windows .ico (16 to 256 px)
python packaging/icons.py icns OUT_FILE      # macOS .icns
"""

from __future__ import annotations

import shutil
import struct
import sys
from pathlib import Path

RESOURCES = Path(__file__).resolve().parent.parent / "resources"
ICON_NAME = "fine-tuning-studio"
HICOLOR_SIZES = (16, 24, 32, 48, 64, 128, 256)
ICO_SIZES = (16, 20, 24, 32, 40, 48, 64, 128, 256)
# (type, pixels): 16, 32, 64, 128, 256 and 512 px, and the @2x variants the Finder and the Dock use.
ICNS_TYPES = (
    (b"icp4", 16),
    (b"icp5", 32),
    (b"icp6", 64),
    (b"ic07", 128),
    (b"ic08", 256),
    (b"ic09", 512),
    (b"ic11", 32),
    (b"ic12", 64),
    (b"ic13", 256),
    (b"ic14", 512),
)


def _source_image():
    from PySide6.QtGui import QImage

    image = QImage(str(RESOURCES / "icon.png"))
    if image.isNull():
        raise SystemExit(f"error: cannot read {RESOURCES / 'icon.png'}")
    return image


def _scaled(image, size: int):
    from PySide6.QtCore import Qt

    return image.scaled(size, size, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation)


def hicolor(out_dir: Path) -> None:
    image = _source_image()
    for size in HICOLOR_SIZES:
        if size > max(image.width(), image.height()):
            continue  # never upscale a bitmap; the scalable SVG covers bigger sizes
        target = out_dir / f"{size}x{size}" / "apps" / f"{ICON_NAME}.png"
        target.parent.mkdir(parents=True, exist_ok=True)
        if not _scaled(image, size).save(str(target), "PNG"):
            raise SystemExit(f"error: cannot write {target}")
    svg = RESOURCES / "icon.svg"
    if svg.is_file():
        target = out_dir / "scalable" / "apps" / f"{ICON_NAME}.svg"
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(svg, target)


def _png_bytes(image, size: int) -> bytes:
    from PySide6.QtCore import QBuffer, QByteArray, QIODevice

    data = QByteArray()
    buffer = QBuffer(data)
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    if not _scaled(image, size).save(buffer, "PNG"):
        raise SystemExit(f"error: cannot encode a {size} px PNG")
    buffer.close()
    return bytes(data.data())


def ico(out_file: Path) -> None:
    """A Windows .ico holding PNG images of every size Explorer asks for (Qt's own ICO writer writes only one)."""
    image = _source_image()
    sizes = [size for size in ICO_SIZES if size <= max(image.width(), image.height())]
    images = [_png_bytes(image, size) for size in sizes]
    header = struct.pack("<HHH", 0, 1, len(images))  # reserved, type 1 = icon, count
    offset = len(header) + 16 * len(images)
    entries, payload = b"", b""
    for size, png in zip(sizes, images, strict=False):
        dim = 0 if size >= 256 else size  # 0 means 256 in an ICONDIRENTRY
        entries += struct.pack("<BBBBHHII", dim, dim, 0, 0, 1, 32, len(png), offset + len(payload))
        payload += png
    out_file.parent.mkdir(parents=True, exist_ok=True)
    out_file.write_bytes(header + entries + payload)


def icns(out_file: Path) -> None:
    """A macOS .icns of PNG-compressed entries (the format since 10.7)."""
    image = _source_image()
    largest = max(image.width(), image.height())
    chunks = b""
    for kind, size in ICNS_TYPES:
        if size <= largest:
            png = _png_bytes(image, size)
            chunks += kind + struct.pack(">I", 8 + len(png)) + png
    out_file.parent.mkdir(parents=True, exist_ok=True)
    out_file.write_bytes(b"icns" + struct.pack(">I", 8 + len(chunks)) + chunks)


def main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[0] not in ("hicolor", "ico", "icns"):
        print(__doc__, file=sys.stderr)
        return 2
    kind, out = argv[0], Path(argv[1])
    {"hicolor": hicolor, "ico": ico, "icns": icns}[kind](out)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
