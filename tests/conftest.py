"""Fixtures for every test: nothing may touch the real user's settings, database or logs."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def _isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Point every per-user path of the app at this test's temporary folder."""
    monkeypatch.setenv("XRAY_DESKTOP_SETTINGS", str(tmp_path / "cfg" / "settings.ini"))
    monkeypatch.setenv("XRAY_DESKTOP_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("XRAY_DESKTOP_DB", str(tmp_path / "data" / "reads.sqlite3"))
    monkeypatch.setenv("XRAY_DESKTOP_LOG_DIR", str(tmp_path / "logs"))
