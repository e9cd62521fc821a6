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


def test_start_up_warns_when_the_audit_trail_lost_reads(tmp_path):
    """Issue 19.2: the GUI keeps its own anchor and checks it at start-up."""
    import sqlite3

    from xray_desktop.domain import Diagnosis
    from xray_desktop.records import ReadInput, Store
    from xray_desktop.records.anchor import read_anchor, session_anchor_path

    db = tmp_path / "data" / "reads.sqlite3"
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", XRAY_DESKTOP_SCREENSHOT=str(tmp_path / "shot.png"),
               XRAY_DESKTOP_SETTINGS=str(tmp_path / "s.ini"), XRAY_DESKTOP_DATA_DIR=str(tmp_path / "data"),
               XRAY_DESKTOP_DB=str(db), XRAY_DESKTOP_LOG_DIR=str(tmp_path / "logs"),
               XRAY_DESKTOP_MODEL_DIR=str(tmp_path / "no-model"))
    with Store.open(db) as s:
        s.add_reads(ReadInput(reviewer="r", study_key=f"k{i}", file_path="f", file_sha256="s" * 64,
                              final_diagnosis=Diagnosis.NORMAL, confidence=3) for i in range(3))

    def launch() -> str:
        res = subprocess.run([sys.executable, str(REPO / "main.py")], env=env, capture_output=True, text=True,
                             timeout=120)
        assert res.returncode == 0, res.stderr[-2000:]
        return "\n".join(p.read_text() for p in (tmp_path / "logs").glob("*.log*"))

    first = launch()
    assert "audit trail failed verification" not in first and "warning shown" not in first
    anchor_file = session_anchor_path(db)
    assert read_anchor(anchor_file).last_id == 3
    raw = sqlite3.connect(db)  # delete the newest read: the chain itself still verifies
    raw.execute("DROP TRIGGER reads_no_delete")
    raw.execute("DELETE FROM reads WHERE id = 3")
    raw.commit()
    raw.close()
    log = launch()
    assert "the reads audit trail failed verification: read 3, the newest read recorded by" in log
    assert "audit trail warning shown to the reader" in log
    assert read_anchor(anchor_file).last_id == 3  # the evidence is kept
    if os.name == "posix":
        assert os.stat(tmp_path / "logs" / "xray_desktop.log").st_mode & 0o777 == 0o600
