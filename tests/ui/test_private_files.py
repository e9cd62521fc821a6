"""Issue 19.5: per-user files that can hold PHI are owner-only (0600), their folders 0700."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest

from xray_desktop import settings as keys

pytestmark = pytest.mark.skipif(os.name != "posix", reason="POSIX permissions")


@pytest.fixture
def open_umask():
    old = os.umask(0o022)  # a typical desktop umask: files 0644 by default
    yield
    os.umask(old)


def _mode(p: Path) -> int:
    return p.stat().st_mode & 0o777


def test_settings_ini_with_recent_folders_is_owner_only(tmp_path, open_umask, monkeypatch):
    from xray_desktop.ui.settings_store import SettingsStore

    ini = tmp_path / "newcfg" / "settings.ini"
    monkeypatch.setenv("XRAY_DESKTOP_SETTINGS", str(ini))
    s = SettingsStore()
    s.set(keys.RECENT_FOLDERS, ["/studies/DOE_JOHN"])
    s.sync()
    assert _mode(ini) == 0o600 and _mode(ini.parent) == 0o700
    assert s.get(keys.RECENT_FOLDERS) == ["/studies/DOE_JOHN"]  # recent folders keep working
    ini.chmod(0o644)  # written by an older version
    s2 = SettingsStore()
    assert _mode(ini) == 0o600
    s2.set(keys.RECENT_FOLDERS, ["/studies/DOE_JANE"])
    s2.sync()
    assert _mode(ini) == 0o600 and SettingsStore().get(keys.RECENT_FOLDERS) == ["/studies/DOE_JANE"]


def test_log_files_and_data_folder_are_owner_only(tmp_path, open_umask, monkeypatch):
    from xray_desktop.logging_setup import LOG_FILE, setup_logging

    logs = tmp_path / "newlogs"
    logs.mkdir(mode=0o755)
    (logs / f"{LOG_FILE}.1").write_text("old rotated file")
    os.chmod(logs / f"{LOG_FILE}.1", 0o644)
    logger = logging.getLogger("xray_desktop")
    before = list(logger.handlers)
    path = setup_logging(log_dir=logs)
    try:
        handler = next(h for h in logger.handlers if h not in before)
        logging.getLogger("xray_desktop.test").info("hello")
        assert _mode(path) == 0o600 and _mode(logs / f"{LOG_FILE}.1") == 0o600
        handler.doRollover()  # the new file after a rotation too
        logging.getLogger("xray_desktop.test").info("after rollover")
        assert _mode(path) == 0o600 and _mode(logs / f"{LOG_FILE}.1") == 0o600
    finally:
        for h in logger.handlers[:]:
            if h not in before:
                logger.removeHandler(h)
                h.close()
    monkeypatch.setenv("XRAY_DESKTOP_DATA_DIR", str(tmp_path / "fresh" / "data"))
    assert _mode(keys.data_dir()) == 0o700
