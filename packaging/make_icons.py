"""Render the app icon's PNG sizes (and the Windows .ico) from resources/icons/xray-desktop.svg.

Run after editing the SVG:  QT_QPA_PLATFORM=offscreen .venv/bin/python packaging/make_icons.py
The outputs are committed, so neither the build nor the tests need to render anything.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ICONS = ROOT / "resources" / "icons"
NAME = "xray-desktop"
SIZES = (16, 32, 48, 64, 128, 256)


def render_png(svg: Path, size: int, out: Path) -> None:
    """Render ``svg`` to a square ``size`` px PNG with a transparent background (QtSvg)."""
    from PySide6.QtCore import Qt
    from PySide6.QtGui import QImage, QPainter
    from PySide6.QtSvg import QSvgRenderer

    renderer = QSvgRenderer(str(svg))
    if not renderer.isValid():
        raise RuntimeError(f"QtSvg cannot read {svg}")
    image = QImage(size, size, QImage.Format.Format_ARGB32)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
    renderer.render(painter)
    painter.end()
    if not image.save(str(out), "PNG"):
        raise RuntimeError(f"cannot write {out}")


def write_ico(pngs: list[Path], out: Path) -> None:
    """Pack the rendered PNGs (each at its own size, not resampled) into a Windows .ico."""
    from PIL import Image

    images = [Image.open(p) for p in pngs]
    largest = max(images, key=lambda im: im.width)
    largest.save(out, format="ICO", sizes=[im.size for im in images],
                 append_images=[im for im in images if im is not largest])


def main() -> int:
    """Render every size; returns the exit code."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtGui import QGuiApplication

    _app = QGuiApplication.instance() or QGuiApplication(sys.argv[:1])
    svg = ICONS / f"{NAME}.svg"
    pngs = []
    for size in SIZES:
        out = ICONS / f"{NAME}-{size}.png"
        render_png(svg, size, out)
        pngs.append(out)
        print(f"wrote {out.relative_to(ROOT)}")
    write_ico(pngs, ICONS / f"{NAME}.ico")
    print(f"wrote {(ICONS / f'{NAME}.ico').relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
