"""Latency of one confirmed read's commit while another thread writes and fsyncs files.

    python benchmarks/commit_latency.py [--reads 1500] [--no-autocheckpoint]

Why: in the 5,000-study load run a few confirms blocked the GUI for 0.2-0.6 s, all of it in
SQLite's COMMIT. This compares the store as shipped (WAL, synchronous=FULL, SQLite's default
auto-checkpoint every 1,000 pages) with auto-checkpoint off, under competing disk writes.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO), str(REPO / "tests" / "records")]

from records_helpers import make_input  # noqa: E402

from xray_desktop.records import Store  # noqa: E402


def _disk_load(folder: Path, stop: threading.Event) -> None:
    block = os.urandom(1 << 20)
    i = 0
    while not stop.is_set():
        with open(folder / f"load{i % 4}", "wb") as f:
            for _ in range(8):
                f.write(block)
            f.flush()
            os.fsync(f.fileno())
        i += 1


def main() -> int:
    """Commit ``--reads`` reads 20 ms apart under disk load; print p50/p99/max and the slow ones."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reads", type=int, default=1500)
    parser.add_argument("--no-autocheckpoint", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="xray-commit-") as tmp:
        folder = Path(tmp)
        stop = threading.Event()
        loader = threading.Thread(target=_disk_load, args=(folder, stop), daemon=True)
        loader.start()
        ms: list[float] = []
        with Store.open(folder / "reads.db") as store:
            if args.no_autocheckpoint:
                store.conn.execute("PRAGMA wal_autocheckpoint = 0")
            for i in range(args.reads):
                t0 = time.perf_counter()
                store.add_read(make_input(study_key=f"k{i}"))
                ms.append((time.perf_counter() - t0) * 1000)
                time.sleep(0.02)
        stop.set()
        loader.join()
    s = sorted(ms)
    slow = [(i, round(x)) for i, x in enumerate(ms) if x > 150]
    mode = "off" if args.no_autocheckpoint else "on"
    print(f"auto-checkpoint {mode}: {len(ms)} commits, p50 {s[len(s) // 2]:.1f} ms, "
          f"p99 {s[int(len(s) * 0.99)]:.1f} ms, max {s[-1]:.1f} ms; over 150 ms: {slow}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
