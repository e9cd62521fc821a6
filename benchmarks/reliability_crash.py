"""Crash-safety numbers: kill -9 while reads are being confirmed, and kill -9 during CSV export.

    python benchmarks/reliability_crash.py [--kills 200] [--export-kills 20] [--export-rows 50000]

Uses the records tests' helper process (tests/records/records_child.py), the same one as
tests/records/test_records_durability.py (whose slow variants assert the same properties):
a writer commits reads in a loop and prints each id after the commit returns; it is killed
with SIGKILL at a random moment (a quarter of the kills land during start-up or migration).
Afterwards the database must pass integrity_check and the hash-chain verify, and every
printed read must be there. An export killed at a random moment must leave the old file (or
none), never a partial one. Prints the counts; exit 1 on any violation.
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
CHILD = REPO / "tests" / "records" / "records_child.py"
sys.path.insert(0, str(REPO))

from xray_desktop.domain import Diagnosis  # noqa: E402
from xray_desktop.records import ReadInput, Store, export_csv  # noqa: E402


def _spawn(*args: str) -> subprocess.Popen[str]:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, (str(REPO), os.environ.get("PYTHONPATH")))))
    return subprocess.Popen([sys.executable, str(CHILD), *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=env)


def kill_writers(db: Path, kills: int, seed: int) -> dict[str, object]:
    """SIGKILL a committing writer ``kills`` times; check nothing committed was lost."""
    rng = random.Random(seed)
    printed: dict[int, str] = {}
    mid_stream = 0
    t0 = time.monotonic()
    for i in range(kills):
        proc = _spawn("write", str(db), "0", f"w{i}", "0")
        first = ""
        if rng.random() < 0.75:
            first = proc.stdout.readline() if proc.stdout else ""
            time.sleep(rng.uniform(0, 0.05))
        else:
            time.sleep(rng.uniform(0, 0.5))
        proc.send_signal(signal.SIGKILL)
        rest, _ = proc.communicate(timeout=30)
        lines = [ln for ln in (first + rest).splitlines(keepends=True) if ln.endswith("\n") and ln.strip()]
        mid_stream += bool(lines)
        printed.update((int(a), b) for a, b in (ln.split() for ln in lines))
    with Store.open(db) as store:
        integrity = store.conn.execute("PRAGMA integrity_check").fetchone()[0]
        verify = store.verify()
        lost = [rid for rid, key in printed.items() if (r := store.get(rid)) is None or r.study_key != key]
        count = store.count()
        ids_ok = [r.id for r in store.reads(latest_only=False)] == list(range(1, count + 1))
    return {
        "kills": kills,
        "kills_mid_stream": mid_stream,
        "reads_confirmed_before_kills": len(printed),
        "reads_in_database": count,
        "confirmed_reads_lost": len(lost),
        "integrity_check": integrity,
        "hash_chain_ok": verify.ok,
        "ids_contiguous": ids_ok,
        "seconds": round(time.monotonic() - t0, 1),
    }


def kill_exports(folder: Path, rows: int, kills: int, seed: int) -> dict[str, object]:
    """SIGKILL ``export`` at random moments; the target is old, absent or complete, never partial."""
    db = folder / "big.db"
    with Store.open(db) as store:
        store.add_reads(
            ReadInput(reviewer="dr_a", study_key=f"k{i}", file_path=f"/p/{i}.dcm", file_sha256="0" * 64,
                      final_diagnosis=Diagnosis.NORMAL, confidence=3, note="x" * 300)
            for i in range(rows)
        )
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
        proc = _spawn("export", str(db), str(out))
        assert proc.stdout is not None and proc.stdout.readline() == "start\n"
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
            "partial_files": sum(n for k, n in outcomes.items() if k.startswith("PARTIAL"))}


def main() -> int:
    """Run both loops and print their numbers."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=200)
    parser.add_argument("--export-kills", type=int, default=20)
    parser.add_argument("--export-rows", type=int, default=50_000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="xray-crash-") as tmp:
        folder = Path(tmp)
        os.environ["XRAY_DESKTOP_DATA_DIR"] = str(folder / "data")
        w = kill_writers(folder / "kill.db", args.kills, args.seed)
        print("kill -9 while confirming:", w)
        e = kill_exports(folder, args.export_rows, args.export_kills, args.seed)
        print("kill -9 during export:   ", e)
    ok = (w["confirmed_reads_lost"] == 0 and w["integrity_check"] == "ok" and w["hash_chain_ok"]
          and w["ids_contiguous"] and e["partial_files"] == 0)
    print(f"{w['kills']} kills survived with {w['reads_confirmed_before_kills']} confirmed reads, "
          f"{w['confirmed_reads_lost']} lost; {e['kills']} export kills, {e['partial_files']} partial files"
          if ok else "FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
