"""Saving a read: durable when confirm returns, but the window keeps running while the disk is slow."""

from __future__ import annotations

import time

import pytest
from helpers import make_folder, open_and_wait, row_by_name, select
from PySide6.QtCore import QTimer

from tests.records.records_helpers import make_input
from xray_desktop.domain import Diagnosis
from xray_desktop.records import InvalidReadError, Store, StoreError
from xray_desktop.ui.workers import ReadSaver

SLOW_COMMIT_S = 0.4  # like the slow fsyncs of the 5,000-study load run (up to 0.8 s)


def _input(key: str = "k1", **changes):
    return make_input(study_key=key, **changes)


def _slow(monkeypatch, seconds: float = SLOW_COMMIT_S) -> None:
    original = ReadSaver._add

    def slow_add(self, read_input):
        time.sleep(seconds)
        return original(self, read_input)

    monkeypatch.setattr(ReadSaver, "_add", slow_add)


def test_save_is_durable_and_errors_come_through(qapp, store):
    saver = ReadSaver(store.path)
    try:
        read = saver.save(_input("k1"))
        assert store.get(read.id).study_key == "k1"  # visible to the window's own connection
        with pytest.raises(InvalidReadError):
            saver.save(_input("k2", confidence=9))
        assert not saver.saving
    finally:
        saver.close()
    assert store.verify().ok and store.count() == 1


def test_a_missing_database_is_an_error_not_a_new_empty_file(qapp, tmp_path):
    db = tmp_path / "reads.db"
    Store.open(db).close()
    saver = ReadSaver(db)
    db.unlink()
    try:
        with pytest.raises(StoreError, match="no reads database"):
            saver.save(_input())
    finally:
        saver.close()
    assert not db.exists()


def test_timers_keep_running_while_a_slow_commit_waits(qapp, store, monkeypatch):
    _slow(monkeypatch)
    saver = ReadSaver(store.path)
    beats: list[float] = []
    heartbeat = QTimer()
    heartbeat.setInterval(10)
    heartbeat.timeout.connect(lambda: beats.append(time.perf_counter()))
    heartbeat.start()
    try:
        t0 = time.perf_counter()
        read = saver.save(_input())
        elapsed = time.perf_counter() - t0
    finally:
        heartbeat.stop()
        saver.close()
    assert elapsed >= SLOW_COMMIT_S and store.get(read.id) is not None  # returned only once committed
    during = [b for b in beats if t0 < b < t0 + elapsed]
    assert len(during) >= 10, f"the event loop stood still for {elapsed * 1000:.0f} ms"  # blocking: 0


def test_a_second_confirm_during_a_slow_save_is_refused(qtbot, make_window, store, tmp_path, monkeypatch):
    folder = make_folder(tmp_path, levels=(0.2, 0.5), broken=0)
    w = make_window()
    open_and_wait(qtbot, w, [folder], 2)
    first = row_by_name(w, "study_000.png")
    select(qtbot, w, first)
    w.diagnosis_panel.set_diagnosis(Diagnosis.NORMAL)
    w.diagnosis_panel.set_confidence(3)
    _slow(monkeypatch)
    again: list[bool] = []
    QTimer.singleShot(100, lambda: again.append(w.confirm()))  # a timer fires inside the wait
    assert w.confirm()
    assert again == [False]
    assert [r.study_key for r in store.reads(latest_only=False)] == [w.model.rows[first].key]
    assert w.list_panel.current_source_row() == row_by_name(w, "study_001.png")
