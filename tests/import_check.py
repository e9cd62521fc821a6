"""One check for "this code pulls in no Qt and no TensorFlow": run it in a fresh interpreter."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("PySide6", "tensorflow", "keras")


def heavy_modules_after(code: str) -> list[str]:
    """The Qt/TensorFlow/Keras modules loaded once ``code`` ran in a new Python (AssertionError if it failed)."""
    probe = f"{code}\nimport sys\nprint(','.join(sorted(m for m in sys.modules if m.split('.')[0] in {HEAVY!r})))\n"
    out = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return [m for m in out.stdout.strip().split(",") if m]
