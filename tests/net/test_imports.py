"""The networking and SR modules stay free of Qt and TensorFlow."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_net_imports_pull_no_qt_or_tensorflow():
    code = (
        "import sys\n"
        "import xray_desktop.net.receive, xray_desktop.net.sr, xray_desktop.net.sr_hooks, xray_desktop.net.commands\n"
        "xray_desktop.net.sr._codes()\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('PySide6', 'tensorflow', 'keras'))\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == ""


def test_cli_parser_does_not_import_pynetdicom():
    code = "import sys\nfrom xray_desktop.cli import build_parser\nbuild_parser()\nprint('pynetdicom' in sys.modules)\n"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"
