"""Fixtures for the packaging tests: repo paths and an isolated environment."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")  # the icon test paints with Qt
REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:  # the package is not installed into the venv
    sys.path.insert(0, str(REPO))


@pytest.fixture
def repo() -> Path:
    """The repository root."""
    return REPO


@pytest.fixture(autouse=True)
def _isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Never touch the real user's menu, settings, database or logs; no stray overrides."""
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg-data"))
    monkeypatch.setenv("XRAY_DESKTOP_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("XRAY_DESKTOP_LOG_DIR", str(tmp_path / "logs"))
    monkeypatch.setenv("XRAY_DESKTOP_SETTINGS", str(tmp_path / "settings.ini"))
    monkeypatch.delenv("XRAY_DESKTOP_DB", raising=False)
    monkeypatch.delenv("XRAY_DESKTOP_MODEL_DIR", raising=False)
