"""Helper process for the durability tests (run as a script, never imported by pytest).

    python records_child.py write DB COUNT PREFIX START_AT   # COUNT 0 = until killed
    python records_child.py export DB OUT
    python records_child.py open DB START_AT   # open (creating) at START_AT, write one read

`open` lets several processes create the same database at the same moment.

`write` prints "<id> <study_key>" after each read is committed; `export` prints "start"
just before exporting and "done <rows>" after.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from xray_desktop.domain import Diagnosis
from xray_desktop.records import ReadInput, Store, export_csv


def write(db: Path | str, count: int, prefix: str, start_at: float) -> None:
    with Store.open(db) as store:
        while time.time() < start_at:  # a crude barrier so concurrent writers overlap
            time.sleep(0.001)
        i = 0
        while count == 0 or i < count:
            key = f"{prefix}-{i}"
            read = store.add_read(
                ReadInput(
                    reviewer=prefix,
                    study_key=key,
                    file_path=f"/p/{key}.dcm",
                    file_sha256="0" * 64,
                    final_diagnosis=Diagnosis.PNEUMONIA if i % 2 else Diagnosis.NORMAL,
                    confidence=1 + i % 5,
                    ai_probability=(i % 100) / 100,
                    ai_label="NORMAL",
                    note="n" * (i % 50),
                )  # fmt: skip
            )
            print(read.id, key, flush=True)  # only after commit returned
            i += 1


def main() -> None:
    mode = sys.argv[1]
    if mode == "write":
        write(sys.argv[2], int(sys.argv[3]), sys.argv[4], float(sys.argv[5]))  # a path or a postgresql:// URL
    elif mode == "open":
        start_at = float(sys.argv[3])
        while time.time() < start_at:
            time.sleep(0.0005)
        write(sys.argv[2], 1, f"open-{os.getpid()}", 0.0)
    elif mode == "export":
        with Store.open(Path(sys.argv[2])) as store:
            print("start", flush=True)
            n = export_csv(store, Path(sys.argv[3]), all_history=True)
            print("done", n, flush=True)
    else:
        raise SystemExit(f"unknown mode {mode}")


if __name__ == "__main__":
    main()
