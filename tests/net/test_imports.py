"""The networking and SR modules stay free of Qt and TensorFlow."""

from __future__ import annotations

import subprocess
import sys

from tests.import_check import ROOT, heavy_modules_after


def test_net_imports_pull_no_qt_or_tensorflow():
    assert heavy_modules_after(
        "import xray_desktop.net.receive, xray_desktop.net.sr, xray_desktop.net.sr_hooks, xray_desktop.net.commands\n"
        "xray_desktop.net.sr._codes()"
    ) == []


def test_cli_parser_does_not_import_pynetdicom():
    code = "import sys\nfrom xray_desktop.cli import build_parser\nbuild_parser()\nprint('pynetdicom' in sys.modules)\n"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"
