"""Department mode with the server down at start-up: a viewer that refuses to confirm, then reconnects."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest
from fakes import factory, write_png
from helpers import open_and_wait, row_by_name, select

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "records"))  # the real test server
import pg_server

from xray_desktop.domain import Diagnosis
from xray_desktop.records import ReadInput, Store
from xray_desktop.ui.reads_watch import StoreConnector
from xray_desktop.ui.study_list import Status

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def server():
    s = pg_server.start()
    yield s
    s.stop()


def _new_db(server: pg_server.PgServer, name: str) -> str:
    with psycopg.connect(server.url(), autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    url = server.url(name)
    Store.open(url).close()  # the schema, as `db init` makes it
    return url


def test_a_workstation_whose_server_is_down_opens_as_a_viewer_then_confirms_once_it_is_back(
        qtbot, settings_store, server, tmp_path, monkeypatch):
    from xray_desktop.ui.main_window import MainWindow

    monkeypatch.setattr(StoreConnector, "INTERVAL_S", 0.2)
    url = _new_db(server, "viewer_only")
    folder = tmp_path / "studies"
    folder.mkdir()
    write_png(folder / "a.png", 0.3)
    write_png(folder / "b.png", 0.7)
    server.halt()
    try:
        with pytest.raises(Exception) as down:
            Store.open(url)
        w = MainWindow(settings_store, None, factory(), reconnect_to=url, offline_reason=str(down.value))
        w.discard_drafts_provider = lambda _n: True
        qtbot.addWidget(w)
        boxes: list[str] = []
        shown: list[str] = []
        monkeypatch.setattr(w.notifier, "message_box", lambda _t, text, warning=False: boxes.append(text))
        real = w.notifier.notify
        monkeypatch.setattr(w.notifier, "notify", lambda text, *a, **k: (shown.append(text), real(text, *a, **k)))
        w.show()
        qtbot.waitUntil(lambda: w.inference.state == "ready", timeout=5000)
        assert w.db_badge.isVisible() and "unreachable" in w.db_badge.text()
        # The viewer works: studies load and the AI runs.
        open_and_wait(qtbot, w, [str(folder)], 2)
        row_a, row_b = row_by_name(w, "a.png"), row_by_name(w, "b.png")
        qtbot.waitUntil(lambda: w.model.rows[row_a].probability is not None, timeout=5000)
        # Someone confirms a.png on another workstation... once the server is back (below).
        select(qtbot, w, row_b)
        w.diagnosis_panel.set_diagnosis(Diagnosis.PNEUMONIA)
        w.diagnosis_panel.set_confidence(4)
        assert not w.confirm()
        assert any("Not saved: this workstation is a viewer only" in t and "retried every" in t for t in shown)
        assert w.diagnosis_panel.diagnosis() is Diagnosis.PNEUMONIA  # the form keeps it
        assert w.model.rows[row_b].status is not Status.CONFIRMED
    finally:
        server.resume()
    a_key, a_sha = w.model.rows[row_a].key, w.model.rows[row_a].sha256
    with Store.open(url) as other:
        theirs = other.add_read(ReadInput(reviewer="dr_b", study_key=a_key, file_path="/elsewhere/a.png",
                                          file_sha256=a_sha, final_diagnosis=Diagnosis.NORMAL, confidence=3))
    qtbot.waitUntil(lambda: w.saver is not None, timeout=15000)
    assert not w.db_badge.isVisible()
    # The catch-up shows the read stored meanwhile; confirming works again.
    qtbot.waitUntil(lambda: w.model.rows[row_a].status is Status.CONFIRMED, timeout=5000)
    assert w.model.rows[row_a].read == theirs
    assert w.diagnosis_panel.diagnosis() is Diagnosis.PNEUMONIA
    assert w.confirm()
    with Store.open(url) as check:
        latest = check.latest_for(w.model.rows[row_b].key)
        assert latest.final_diagnosis is Diagnosis.PNEUMONIA and check.verify().ok
    w.shutdown()


def test_the_audit_trail_check_takes_a_postgresql_url(qtbot, server):
    """The trail checker once turned the URL into a Path ("postgresql:/…"): every start warned."""
    from xray_desktop.ui.workers import TrailChecker

    url = _new_db(server, "trail_url")
    found: list[str] = []
    checker = TrailChecker(url)
    checker.broken.connect(found.append)
    checker.check()
    assert checker.close(timeout_s=60)
    qtbot.wait(50)
    assert found == []


def test_main_py_opens_as_a_viewer_when_the_server_is_down(tmp_path):
    with __import__("socket").socket() as s:  # a port where nothing listens
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", XRAY_DESKTOP_SCREENSHOT=str(tmp_path / "shot.png"),
               XRAY_DESKTOP_SETTINGS=str(tmp_path / "s.ini"), XRAY_DESKTOP_DATA_DIR=str(tmp_path / "data"),
               XRAY_DESKTOP_LOG_DIR=str(tmp_path / "logs"), XRAY_DESKTOP_MODEL_DIR=str(tmp_path / "no-model"),
               XRAY_DESKTOP_DB=f"postgresql://app:secret@127.0.0.1:{port}/reads")
    res = subprocess.run([sys.executable, str(REPO / "main.py")], env=env, capture_output=True, text=True,
                         timeout=120)
    assert res.returncode == 0, res.stderr[-2000:]
    log = "\n".join(p.read_text() for p in (tmp_path / "logs").glob("*.log*"))
    assert "reads database unavailable: cannot reach the reads database server" in log
    assert "window shown" in log and "secret" not in log
    assert "audit trail" not in log.lower()  # no trail check without a database
