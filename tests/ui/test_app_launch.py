"""Launch the real entry point (python main.py PATH) headless and check it shows the study."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
from PIL import Image

REPO = Path(__file__).resolve().parents[2]


def test_main_py_opens_a_study_and_survives_a_missing_model(tmp_path):
    folder = tmp_path / "studies"
    folder.mkdir()
    Image.new("L", (300, 280), 90).save(folder / "a.png")
    (folder / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 20)
    shot = tmp_path / "shot.png"
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", XRAY_DESKTOP_SCREENSHOT=str(shot),
               XRAY_DESKTOP_SETTINGS=str(tmp_path / "s.ini"), XRAY_DESKTOP_DATA_DIR=str(tmp_path / "data"),
               XRAY_DESKTOP_LOG_DIR=str(tmp_path / "logs"), XRAY_DESKTOP_MODEL_DIR=str(tmp_path / "no-model"))
    res = subprocess.run([sys.executable, str(REPO / "main.py"), str(folder)], env=env, capture_output=True,
                         text=True, timeout=120)
    assert res.returncode == 0, res.stderr[-2000:]
    img = Image.open(shot)
    assert img.width > 800 and img.height > 500
    assert len(np.unique(np.asarray(img.convert("L")))) > 20  # a real window, not a blank grab
    log = "\n".join(p.read_text() for p in (tmp_path / "logs").glob("*.log*"))
    assert "window shown" in log and "screenshot saved (settled=True)" in log
