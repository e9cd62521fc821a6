"""Render the main window offscreen with synthetic studies; save docs/screenshots/*.png.

    QT_QPA_PLATFORM=offscreen .venv/bin/python scripts/screenshots.py [--out docs/screenshots] [--real-model]

Uses the test fake classifier by default (no TensorFlow); ``--real-model`` loads the bundled one.
Settings, database and logs go to a temporary folder, never the user's.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "tests" / "ui")]


def synthetic_chest(size: int, seed: int, opacity: float) -> np.ndarray:
    """A crude chest-like radiograph: bright mediastinum and ribs, dark lungs, an optional opacity."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:size, 0:size] / size
    img = 0.75 - 0.45 * (((x - 0.3) / 0.17) ** 2 + ((y - 0.5) / 0.33) ** 2 < 1)
    img -= 0.45 * (((x - 0.7) / 0.17) ** 2 + ((y - 0.5) / 0.33) ** 2 < 1)
    img += 0.12 * (np.sin(y * 60) > 0.6)
    if opacity:
        img += opacity * np.exp(-(((x - 0.68) / 0.08) ** 2 + ((y - 0.62) / 0.08) ** 2))
    img += rng.normal(0, 0.03, img.shape)
    return (np.clip(img, 0, 1) * 255).astype(np.uint8)


def render(out_dir: Path, real_model: bool = False) -> list[Path]:
    """Build the window, open a few synthetic studies, grab the window and the AI panel."""
    from PIL import Image

    tmp = Path(tempfile.mkdtemp(prefix="xray_shots_"))
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    os.environ["XRAY_DESKTOP_SETTINGS"] = str(tmp / "settings.ini")
    os.environ["XRAY_DESKTOP_DATA_DIR"] = str(tmp / "data")
    os.environ["XRAY_DESKTOP_DB"] = str(tmp / "data" / "reads.sqlite3")
    os.environ["XRAY_DESKTOP_LOG_DIR"] = str(tmp / "logs")
    from PySide6.QtWidgets import QApplication

    from xray_desktop import settings as keys
    from xray_desktop.records import Store
    from xray_desktop.ui.main_window import MainWindow
    from xray_desktop.ui.settings_store import SettingsStore
    from xray_desktop.ui.theme import apply_dark_theme

    app = QApplication.instance() or QApplication([])
    apply_dark_theme(app)
    folder = tmp / "studies"
    folder.mkdir()
    for i, opacity in enumerate((0.0, 0.5, 0.25, 0.0, 0.6)):
        Image.fromarray(synthetic_chest(512, i, opacity)).save(folder / f"patient_{i + 1:02d}.png")
    if real_model:
        from xray_desktop.app import _load_classifier as factory
    else:
        from fakes import factory as fake_factory

        factory = fake_factory()
    settings = SettingsStore()
    settings.set(keys.REVIEWER, "Dr Screenshot")
    store = Store.open()
    w = MainWindow(settings, store, factory)
    w.resize(1600, 950)
    w.show()
    w.open_paths([folder])
    deadline = time.monotonic() + (120 if real_model else 15)
    while time.monotonic() < deadline and (w.batch.busy() or not w.model.rows or w._pred_rid):
        app.processEvents()
        time.sleep(0.01)
    w.list_panel.select_source_row(1)
    for _ in range(100):
        app.processEvents()
        time.sleep(0.01)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = [out_dir / "main.png", out_dir / "ai_panel.png"]
    w.grab().save(str(paths[0]))
    w.right_splitter.grab().save(str(paths[1]))
    w.shutdown()
    store.close()
    return paths


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=REPO / "docs" / "screenshots")
    ap.add_argument("--real-model", action="store_true")
    args = ap.parse_args()
    for p in render(args.out, args.real_model):
        print(p)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
