"""Department-mode numbers: several writer processes at once on PostgreSQL and on SQLite; kill -9 on PostgreSQL.

    python benchmarks/department_mode.py [--procs 4] [--each 1000] [--kills 50]

Starts its own throwaway PostgreSQL server (tests/records/pg_server.py) with the server's
default durability (fsync on, synchronous_commit on). Each writer process
(tests/records/records_child.py) confirms reads in a loop and prints each id after its
commit returns; afterwards every printed read must be in the database, the ids contiguous
and the hash chain intact. Prints the counts; exit 1 on any violation.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO), str(REPO / "tests" / "records")]

import pg_server  # noqa: E402
import psycopg  # noqa: E402
from crash_loops import kill_writers, many_writers  # noqa: E402

from xray_desktop.records import Store  # noqa: E402


def main() -> int:
    """Run the loops on both backends and print their numbers."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--procs", type=int, default=4)
    parser.add_argument("--each", type=int, default=1000)
    parser.add_argument("--kills", type=int, default=50)
    parser.add_argument("--seed", type=int, default=15)
    args = parser.parse_args()
    bad = False
    server = pg_server.start(durable=True)
    print(f"PostgreSQL test server up in {server.startup_s:.2f} s")
    try:
        with tempfile.TemporaryDirectory(prefix="xray-dept-") as tmp:
            os.environ["XRAY_DESKTOP_DATA_DIR"] = str(Path(tmp) / "data")
            with psycopg.connect(server.url(), autocommit=True) as conn:
                conn.execute("CREATE DATABASE conc")
                conn.execute("CREATE DATABASE kills")
            for name, db in (("postgresql", server.url("conc")), ("sqlite", str(Path(tmp) / "conc.sqlite3"))):
                Store.open(db).close()
                m = many_writers(db, args.procs, args.each)
                print(f"{name}: {args.procs} processes x {args.each} confirms at once:", m)
                bad |= bool(m["errors"] or m["lost"] or not m["hash_chain_ok"]
                            or m["reads_in_database"] != args.procs * args.each)
            if args.kills:
                Store.open(server.url("kills")).close()
                k = kill_writers(server.url("kills"), args.kills, args.seed)
                print("postgresql: kill -9 while confirming:", k)
                bad |= bool(k["confirmed_reads_lost"] or not k["hash_chain_ok"] or not k["ids_contiguous"])
    finally:
        server.stop()
    print("FAIL" if bad else "ok")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
