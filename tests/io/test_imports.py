"""The loader stays free of Qt and TensorFlow, even after decoding a study."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_import_pulls_no_qt_or_tensorflow():
    code = (
        "import sys, xray_desktop.io\n"
        "from pydicom.data import get_testdata_file\n"
        "xray_desktop.io.load_study(get_testdata_file('CT_small.dcm'))\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('PySide6', 'tensorflow', 'keras'))\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == ""


def test_public_contract():
    import xray_desktop.io as io

    assert {"load_study", "scan", "StudyLoadError", "ScanItem", "MAX_PIXELS"} <= set(io.__all__)
    assert io.MAX_PIXELS == 100_000_000
