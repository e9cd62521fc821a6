"""The README screenshot script renders without a display or a model."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from PySide6.QtGui import QImage

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "screenshots.py"


def test_screenshot_script_renders_main_window_and_ai_panel(qapp, tmp_path, monkeypatch):
    spec = importlib.util.spec_from_file_location("screenshots", SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    paths = mod.render(tmp_path / "shots")
    assert [p.name for p in paths] == ["main.png", "normal.png", "ai_panel.png", "worklist.png", "dicom.png"]
    main = QImage(str(paths[0]))
    assert main.width() >= 1200 and main.height() >= 700
    assert all(not QImage(str(p)).isNull() for p in paths[1:])
