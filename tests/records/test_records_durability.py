"""Crash and concurrency: kill -9 while writing or exporting, two writer processes at once."""

from __future__ import annotations

import signal
import sqlite3
import time
from pathlib import Path

import pytest
from crash_loops import committed, kill_exports, kill_writers, spawn
from records_helpers import make_input

from xray_desktop.records import Store

pytestmark = pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs POSIX SIGKILL")


def _kill_loop(db: Path | str, kills: int, seed: int) -> None:
    m = kill_writers(db, kills, seed)
    assert not m["child_errors"], m["child_errors"]
    assert m["integrity_check"] == "ok", m
    assert m["hash_chain_ok"], m["hash_chain_message"]
    assert m["confirmed_reads_lost"] == 0, f"committed reads lost: {m['lost_ids']}"
    assert m["ids_contiguous"], m
    assert m["reads_confirmed_before_kills"] > kills // 2, m  # the loop really wrote and killed mid-stream


def test_kill_9_while_writing(tmp_path: Path) -> None:
    _kill_loop(tmp_path / "k.db", kills=20, seed=1)


@pytest.mark.slow
def test_kill_9_while_writing_long(tmp_path: Path) -> None:
    _kill_loop(tmp_path / "k.db", kills=200, seed=2)


def _two_writers(db: Path | str, each: int) -> None:
    start_at = str(time.time() + 1.5)  # both are past start-up by then
    procs = [spawn("write", str(db), str(each), name, start_at) for name in ("A", "B")]
    outputs = [p.communicate(timeout=600) for p in procs]
    for p, (out, err) in zip(procs, outputs, strict=True):
        assert p.returncode == 0, err
        assert "locked" not in err and "busy" not in err
        assert len(committed(out)) == each
    with Store.open(db) as store:
        assert store.count() == 2 * each
        result = store.verify()
        assert result.ok and result.checked == 2 * each, result.message
        assert {r.reviewer for r in store.reads(latest_only=False)} == {"A", "B"}


def test_two_processes_write_at_once(tmp_path: Path) -> None:
    _two_writers(tmp_path / "c.db", 1000)  # ~3 s, so the full size runs by default


def test_processes_creating_the_database_at_once_all_open_it(tmp_path: Path) -> None:
    """Two app instances (or the GUI and the CLI) started together on a fresh database.

    Switching a new file to WAL needs an exclusive lock, and SQLite answers BUSY at once,
    without waiting, when two connections race for it: the open must retry, not fail.
    """
    for attempt in range(4):
        db = tmp_path / f"fresh{attempt}.db"
        start_at = str(time.time() + 1.0)  # all are started (interpreter up) by then
        procs = [spawn("open", str(db), start_at) for _ in range(6)]
        outputs = [p.communicate(timeout=120) for p in procs]
        failed = [err for p, (_, err) in zip(procs, outputs, strict=True) if p.returncode != 0]
        assert not failed, failed[0]
        with Store.open(db) as store:
            assert store.count() == 6 and store.verify().ok
            assert store.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def _kill_export_loop(folder: Path, rows: int, kills: int, seed: int) -> None:
    m = kill_exports(folder, rows, kills, seed)
    assert m["partial_files"] == 0, f"a killed export left a partial file: {m}"
    assert m["killed_mid_export"] > 0, m  # at least one kill landed mid-export


def test_kill_9_during_export(tmp_path: Path) -> None:
    _kill_export_loop(tmp_path, rows=20_000, kills=4, seed=3)


@pytest.mark.slow
def test_kill_9_during_export_long(tmp_path: Path) -> None:
    _kill_export_loop(tmp_path, rows=50_000, kills=20, seed=4)


def test_wal_mode_survives_reopen_by_plain_sqlite(tmp_path: Path) -> None:
    """Another program opening the file (e.g. a backup tool) sees committed reads."""
    db = tmp_path / "w.db"
    with Store.open(db) as store:
        store.add_read(make_input())
        raw = sqlite3.connect(db)
        try:
            assert raw.execute("SELECT count(*) FROM reads").fetchone()[0] == 1
        finally:
            raw.close()
