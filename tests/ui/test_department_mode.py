"""Several workstations: a study confirmed elsewhere shows as confirmed here without reopening."""

from __future__ import annotations

from fakes import write_png
from helpers import open_and_wait, row_by_name, select

from xray_desktop.domain import Diagnosis
from xray_desktop.records import ReadInput, Store
from xray_desktop.ui.reads_watch import ReadsWatcher
from xray_desktop.ui.study_list import Status


def test_a_read_confirmed_on_another_workstation_appears(qtbot, make_window, store, tmp_path, monkeypatch):
    monkeypatch.setattr(ReadsWatcher, "INTERVAL_S", 0.1)
    folder = tmp_path / "studies"
    folder.mkdir()
    for name, level in (("a.png", 0.3), ("b.png", 0.7)):
        write_png(folder / name, level)
    w = make_window()
    open_and_wait(qtbot, w, [str(folder)], 2)
    row = row_by_name(w, "b.png")
    r = w.model.rows[row]
    assert r.status is not Status.CONFIRMED and r.read is None
    with Store.open(store.path) as other:  # the other workstation, its own connection
        theirs = other.add_read(ReadInput(reviewer="dr_b", study_key=r.key, file_path="/elsewhere/b.png",
                                          file_sha256=r.sha256, final_diagnosis=Diagnosis.NORMAL, confidence=3))
    qtbot.waitUntil(lambda: w.model.rows[row].status is Status.CONFIRMED, timeout=5000)
    assert w.model.rows[row].read == theirs
    assert w.model.rows[row_by_name(w, "a.png")].status is not Status.CONFIRMED
    assert "another workstation (dr_b)" in w.statusBar().currentMessage()
    # A confirm here then amends the other's read, in the same chain.
    select(qtbot, w, row)
    w.diagnosis_panel.set_diagnosis(Diagnosis.PNEUMONIA)
    w.diagnosis_panel.set_confidence(4)
    assert w.confirm()
    mine = store.latest_for(r.key)
    assert mine.supersedes == theirs.id and mine.reviewer == "Dr Test" and store.verify().ok


def test_database_setting_is_saved_without_a_password_and_used_at_start(make_window, settings_store, monkeypatch):
    from xray_desktop import settings as keys
    from xray_desktop.app import database_setting
    from xray_desktop.ui import window_actions

    w = make_window(wait_model=False)
    warnings: list[str] = []
    monkeypatch.setattr(w.notifier, "message_box", lambda _t, text, warning=False: warnings.append(text))
    answers = iter([("postgresql://app:secret@db/reads", True), ("mysql://x/y", True),
                    ("postgresql://app@db/reads", True)])
    monkeypatch.setattr(window_actions.QInputDialog, "getText", lambda *a, **k: next(answers))
    w.choose_database()
    w.choose_database()
    assert settings_store.get(keys.DB_LOCATION) == ""
    assert "password" in warnings[0] and "unsupported database URL scheme" in warnings[1]
    w.choose_database()
    assert settings_store.get(keys.DB_LOCATION) == "postgresql://app@db/reads"
    assert "next start" in w.statusBar().currentMessage()
    monkeypatch.delenv(keys.ENV_DB)
    assert database_setting(settings_store) == "postgresql://app@db/reads"
    monkeypatch.setenv(keys.ENV_DB, "/site/reads.sqlite3")  # the machine's setting wins
    assert database_setting(settings_store) is None
