"""kill -9 loops against the store, shared by test_records_durability.py and benchmarks/reliability_crash.py.

They return what happened; the tests assert on it and the benchmark prints it. A writer child
(records_child.py) prints each read's id after its commit returns, so every printed read
must survive the kill; an export child must leave the old file (or none) or the complete
one, never a partial file.
"""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

from records_helpers import child_env, make_input

from xray_desktop.records import Store, export_csv

CHILD = str(Path(__file__).with_name("records_child.py"))


def spawn(*args: str) -> subprocess.Popen[str]:
    """Start records_child.py with ``args``; stdout and stderr piped as text."""
    return subprocess.Popen([sys.executable, CHILD, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=child_env())


def committed(lines: str) -> dict[int, str]:
    """id -> study key from complete output lines (a kill may cut the last one short)."""
    out: dict[int, str] = {}
    for line in lines.splitlines(keepends=True):
        if line.endswith("\n") and line.strip():
            rid, key = line.split()
            out[int(rid)] = key
    return out


def kill_writers(db: Path | str, kills: int, seed: int) -> dict[str, Any]:
    """SIGKILL a committing writer ``kills`` times, then check what it reported committed."""
    rng = random.Random(seed)
    printed: dict[int, str] = {}
    mid_stream = 0
    stderr: list[str] = []  # from children that exited some other way than by our SIGKILL
    t0 = time.monotonic()
    for i in range(kills):
        proc = spawn("write", str(db), "0", f"w{i}", "0")
        first = ""
        if rng.random() < 0.75:
            first = proc.stdout.readline() if proc.stdout else ""  # let it get going, then kill
            time.sleep(rng.uniform(0, 0.05))
        else:
            time.sleep(rng.uniform(0, 0.5))  # may land in start-up, open or migration
        proc.send_signal(signal.SIGKILL)
        rest, err = proc.communicate(timeout=30)
        if proc.returncode != -signal.SIGKILL and err:
            stderr.append(err)
        got = committed(first + rest)
        mid_stream += bool(got)
        printed.update(got)
    with Store.open(db) as store:  # runs integrity_check at open; raises if damaged
        # PostgreSQL: the server's own business (its WAL); the chain and ids below still checked.
        integrity = "ok" if isinstance(db, str) else store.conn.execute("PRAGMA integrity_check").fetchone()[0]
        verify = store.verify()
        lost = sorted(rid for rid, key in printed.items() if (r := store.get(rid)) is None or r.study_key != key)
        count = store.count()
        ids_ok = [r.id for r in store.reads(latest_only=False)] == list(range(1, count + 1))
    return {
        "kills": kills,
        "kills_mid_stream": mid_stream,
        "reads_confirmed_before_kills": len(printed),
        "reads_in_database": count,
        "confirmed_reads_lost": len(lost),
        "lost_ids": lost[:10],
        "integrity_check": integrity,
        "hash_chain_ok": verify.ok,
        "hash_chain_message": verify.message,
        "ids_contiguous": ids_ok,
        "child_errors": stderr[:3],
        "seconds": round(time.monotonic() - t0, 1),
    }


def many_writers(db: Path | str, procs: int, each: int) -> dict[str, Any]:
    """``procs`` writer processes confirm ``each`` reads at once; count errors, losses, the chain."""
    start_at = time.time() + 3.0  # all are past start-up by then
    children = [spawn("write", str(db), str(each), f"P{i}", str(start_at)) for i in range(procs)]
    outputs = [p.communicate(timeout=1800) for p in children]
    seconds = time.time() - start_at
    errors = [err.strip().splitlines()[-1] for p, (_, err) in zip(children, outputs, strict=True)
              if p.returncode != 0 and err.strip()]  # fmt: skip
    printed: dict[int, str] = {}
    for out, _ in outputs:
        printed.update(committed(out))
    with Store.open(db) as store:
        verify = store.verify()
        lost = sorted(rid for rid, key in printed.items() if (r := store.get(rid)) is None or r.study_key != key)
        count = store.count()
    return {"processes": procs, "confirms_each": each, "confirmed": len(printed), "errors": len(errors),
            "first_errors": errors[:3], "reads_in_database": count, "lost": len(lost),
            "hash_chain_ok": verify.ok, "seconds": round(seconds, 1),
            "confirms_per_s": round(len(printed) / seconds, 1) if seconds > 0 else None}


def kill_exports(folder: Path, rows: int, kills: int, seed: int) -> dict[str, Any]:
    """SIGKILL ``export`` at random moments; count what the target file was afterwards."""
    db = folder / "big.db"
    with Store.open(db) as store:
        store.add_reads(make_input(study_key=f"k{i}", note="x" * 300) for i in range(rows))
        ref = folder / "ref.csv"
        t0 = time.perf_counter()
        export_csv(store, ref, all_history=True)
        duration = time.perf_counter() - t0
    reference = ref.read_bytes()
    out = folder / "out" / "export.csv"
    out.parent.mkdir()
    rng = random.Random(seed)
    outcomes: Counter[str] = Counter()
    for i in range(kills):
        old = f"old export {i}\n".encode()
        if i % 3:
            out.write_bytes(old)
        else:
            out.unlink(missing_ok=True)
        proc = spawn("export", str(db), str(out))
        if proc.stdout is None or proc.stdout.readline() != "start\n":
            raise RuntimeError(f"export child did not start: {proc.communicate(timeout=30)[1]}")
        time.sleep(rng.uniform(0, duration * 1.3))
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=60)
        if not out.exists():
            outcomes["absent (none before)" if i % 3 == 0 else "PARTIAL: old file lost"] += 1
        elif out.read_bytes() == reference:
            outcomes["complete"] += 1
        elif out.read_bytes() == old:
            outcomes["old file intact"] += 1
        else:
            outcomes["PARTIAL"] += 1
    return {"rows": rows, "export_seconds": round(duration, 2), "kills": kills, "outcomes": dict(outcomes),
            "partial_files": sum(n for k, n in outcomes.items() if k.startswith("PARTIAL")),
            "killed_mid_export": outcomes["absent (none before)"] + outcomes["old file intact"]}
