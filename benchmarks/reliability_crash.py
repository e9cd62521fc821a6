"""Crash-safety numbers: kill -9 while reads are being confirmed, and kill -9 during CSV export.

    python benchmarks/reliability_crash.py [--kills 200] [--export-kills 20] [--export-rows 50000]

Runs the loops of tests/records/crash_loops.py, the same ones as
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
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO), str(REPO / "tests" / "records")]

from crash_loops import kill_exports, kill_writers  # noqa: E402


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
          and w["ids_contiguous"] and not w["child_errors"] and e["partial_files"] == 0)
    print(f"{w['kills']} kills survived with {w['reads_confirmed_before_kills']} confirmed reads, "
          f"{w['confirmed_reads_lost']} lost; {e['kills']} export kills, {e['partial_files']} partial files"
          if ok else "FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
