"""The real PyInstaller build (minutes, bundles TensorFlow): only with ``make test-slow``."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
MODEL = REPO / "resources" / "models" / "model_card.json"


@pytest.mark.slow
@pytest.mark.timeout(3600)
@pytest.mark.skipif(sys.platform == "win32" or shutil.which("bash") is None, reason="build.sh needs bash")
def test_build_script_builds_a_bundle_whose_selftest_passes() -> None:
    """`bash packaging/build.sh`: builds, runs the bundle's selftest headless and opens the window."""
    pytest.importorskip("PyInstaller", reason="pip install pyinstaller (the dev extra)")
    if not MODEL.is_file():
        pytest.skip("no trained model in resources/models")
    env = {**os.environ, "PYTHON": sys.executable}
    result = subprocess.run(["bash", str(REPO / "packaging" / "build.sh")], cwd=REPO, env=env,
                            capture_output=True, text=True, timeout=3500)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    assert "selftest passed" in result.stdout
    assert "psycopg 3." in result.stdout and "pynetdicom" in result.stdout  # department mode, PACS
    bundle = REPO / "dist" / "xray-desktop"
    assert (bundle / "xray-desktop").is_file() and (bundle / "xray-desktop-cli").is_file()
