"""UI test fixtures: offscreen Qt, isolated settings ini, temporary database, a ready window."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:  # the package is not installed into the venv
    sys.path.insert(0, str(REPO))
TESTS_UI = Path(__file__).resolve().parent
if str(TESTS_UI) not in sys.path:
    sys.path.insert(0, str(TESTS_UI))


@pytest.fixture
def settings_store(tmp_path: Path):
    from xray_desktop import settings as keys
    from xray_desktop.ui.settings_store import SettingsStore

    s = SettingsStore()
    s.set(keys.REVIEWER, "Dr Test")  # preset: the first-start prompt must not block a test
    return s


@pytest.fixture
def store():
    from xray_desktop.records import Store

    st = Store.open()
    yield st
    st.close()


@pytest.fixture
def make_window(qtbot, settings_store, store):
    """Build (and show) a MainWindow with a fake classifier; shuts it down afterwards."""
    from fakes import factory

    from xray_desktop.ui.main_window import MainWindow
    from xray_desktop.ui.workers import configure_threads

    configure_threads()  # as app.run() does
    windows = []

    def make(delay: float = 0.0, fail: str = "", show: bool = True, wait_model: bool = True, **kw):
        holder: list = []
        w = MainWindow(settings_store, store, kw.pop("classifier_factory", None)
                       or factory(delay=delay, fail=fail, holder=holder))
        w.fake_holder = holder
        w.discard_drafts_provider = lambda _n: True  # closing at teardown never waits on a dialog
        qtbot.addWidget(w)
        windows.append(w)
        if show:
            w.show()
            qtbot.waitExposed(w)
            w.activateWindow()
            if wait_model:
                qtbot.waitUntil(lambda: w.inference.state in ("ready", "failed"), timeout=5000)
        return w

    yield make
    for w in windows:
        w.shutdown()
    sys.setswitchinterval(0.005)  # Python's default; other tests expect it
