"""Crash and concurrency: kill -9 while writing or exporting, two writer processes at once."""

from __future__ import annotations

import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from records_helpers import child_env, make_input

from xray_desktop.records import Store, export_csv

CHILD = str(Path(__file__).with_name("records_child.py"))
pytestmark = pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs POSIX SIGKILL")


def _spawn(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, CHILD, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=child_env(),
    )


def _committed(lines: str) -> dict[int, str]:
    """id -> study key from complete output lines (a kill may cut the last one short)."""
    out: dict[int, str] = {}
    for line in lines.splitlines(keepends=True):
        if line.endswith("\n") and line.strip():
            rid, key = line.split()
            out[int(rid)] = key
    return out


def _kill_loop(db: Path, kills: int, seed: int) -> None:
    rng = random.Random(seed)
    printed: dict[int, str] = {}
    for i in range(kills):
        proc = _spawn("write", str(db), "0", f"w{i}", "0")
        first = ""
        if rng.random() < 0.75:
            first = proc.stdout.readline()  # let it get going, then kill at a random moment
            time.sleep(rng.uniform(0, 0.05))
        else:
            time.sleep(rng.uniform(0, 0.5))  # may land in start-up, open or migration
        proc.send_signal(signal.SIGKILL)
        rest, err = proc.communicate(timeout=30)
        assert proc.returncode == -signal.SIGKILL or not err, err
        printed.update(_committed(first + rest))
    with Store.open(db) as store:  # runs integrity_check; raises if damaged
        assert store.conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        result = store.verify()
        assert result.ok, result.message
        missing = {rid for rid in printed if store.get(rid) is None}
        assert not missing, f"committed reads lost: {sorted(missing)[:10]}"
        assert all(store.get(rid).study_key == key for rid, key in printed.items())
        assert [r.id for r in store.reads(latest_only=False)] == list(range(1, store.count() + 1))
    assert len(printed) > kills // 2  # the loop really wrote and killed mid-stream


def test_kill_9_while_writing(tmp_path: Path) -> None:
    _kill_loop(tmp_path / "k.db", kills=20, seed=1)


@pytest.mark.slow
def test_kill_9_while_writing_long(tmp_path: Path) -> None:
    _kill_loop(tmp_path / "k.db", kills=200, seed=2)


def _two_writers(db: Path, each: int) -> None:
    start_at = str(time.time() + 1.5)  # both are past start-up by then
    procs = [_spawn("write", str(db), str(each), name, start_at) for name in ("A", "B")]
    outputs = [p.communicate(timeout=600) for p in procs]
    for p, (out, err) in zip(procs, outputs, strict=True):
        assert p.returncode == 0, err
        assert "locked" not in err and "busy" not in err
        assert len(_committed(out)) == each
    with Store.open(db) as store:
        assert store.count() == 2 * each
        result = store.verify()
        assert result.ok and result.checked == 2 * each, result.message
        assert {r.reviewer for r in store.reads(latest_only=False)} == {"A", "B"}


def test_two_processes_write_at_once(tmp_path: Path) -> None:
    _two_writers(tmp_path / "c.db", 1000)  # ~3 s, so the full size runs by default


def _kill_export_loop(tmp_path: Path, rows: int, kills: int, seed: int) -> None:
    db = tmp_path / "big.db"
    with Store.open(db) as store:
        store.add_reads(make_input(study_key=f"k{i}", note="x" * 300) for i in range(rows))
        ref = tmp_path / "ref.csv"
        t0 = time.perf_counter()
        export_csv(store, ref, all_history=True)
        duration = time.perf_counter() - t0
    reference = ref.read_bytes()
    out = tmp_path / "out" / "export.csv"
    out.parent.mkdir()
    rng = random.Random(seed)
    outcomes = set()
    for i in range(kills):
        old = f"old export {i}\n".encode()
        if i % 3:
            out.write_bytes(old)
        else:
            out.unlink(missing_ok=True)
        proc = _spawn("export", str(db), str(out))
        assert proc.stdout.readline() == "start\n"
        time.sleep(rng.uniform(0, duration * 1.3))
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=30)
        if not out.exists():
            assert i % 3 == 0
            outcomes.add("absent")
        elif out.read_bytes() == reference:
            outcomes.add("complete")
        else:
            assert out.read_bytes() == old, "a killed export left a partial file"
            outcomes.add("old")
    assert outcomes & {"absent", "old"}  # at least one kill landed mid-export


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
