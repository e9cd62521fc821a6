"""RSS per work-list row, by stage: listed, filled with a summary, confirmed, given a thumbnail.

    QT_QPA_PLATFORM=offscreen python benchmarks/work_list_memory.py [--rows 5000]

Drives StudyListModel + StudyListPanel directly (no loading, no classifier), so each number is
what the list itself keeps per study. The thumbnails are of noise, the worst case for JPEG;
real radiographs give ~1.3 KB.
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtWidgets import QApplication

from tests.reliability.gui_driver import rss_bytes
from xray_desktop.domain import Diagnosis, StudyMetadata
from xray_desktop.ui.study_list import Status, StudyListModel
from xray_desktop.ui.study_list_panel import StudyListPanel
from xray_desktop.ui.thumbnails import encode_thumbnail


def rss() -> int:
    """Resident set size after a full collection."""
    gc.collect()
    return rss_bytes()


def main() -> int:
    """Print KB per row for each stage."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=5000)
    n = parser.parse_args().rows
    app = QApplication.instance() or QApplication(sys.argv[:1])
    model = StudyListModel()
    panel = StudyListPanel(model)
    panel.resize(600, 800)
    panel.show()
    app.processEvents()
    stages: list[tuple[str, int]] = [("start", rss())]
    rows = model.add_paths([Path(f"/studies/folder/study_{i:05d}.dcm") for i in range(n)])
    app.processEvents()
    stages.append(("listed", rss()))
    for row in rows:
        r = model.rows[row]
        r.key, r.sha256 = f"1.2.826.0.1.{row}", f"{row:064x}"
        r.metadata = StudyMetadata(source_format="DICOM", patient_name=f"DOE^P{row}", patient_id=f"ID{row}",
                                   study_date="20240101", sop_instance_uid=f"1.2.826.0.1.{row}", modality="CR",
                                   transfer_syntax="Explicit VR Little Endian (1.2.840.10008.1.2.1)",
                                   rows=2048, cols=2048)
        r.probability, r.gate_accepted, r.status = 0.5, True, Status.AI_READY
        model.touch(row)
    model.flush()
    app.processEvents()
    stages.append(("summary", rss()))
    for row in rows:
        r = model.rows[row]
        r.read = SimpleNamespace(id=row, final_diagnosis=Diagnosis.PNEUMONIA, row_hash="a" * 64)
        r.status = Status.CONFIRMED
        model.touch(row)
    model.flush()
    stages.append(("confirmed", rss()))
    noise = np.random.default_rng(0).random((512, 512), dtype=np.float32)
    for row in rows:
        model.set_thumbnail(row, encode_thumbnail(noise))
    model.flush()
    panel.refresh_thumbnails()
    app.processEvents()
    stages.append(("thumbnail", rss()))
    for (_, before), (name, after) in zip(stages, stages[1:], strict=False):
        print(f"{name:10s} {(after - before) / n / 1e3:6.2f} KB per row")
    print(f"pixmaps held: {len(model.thumbs)} of {n} rows; total {(stages[-1][1] - stages[0][1]) / 1e6:.1f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
