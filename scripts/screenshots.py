"""Render the main window offscreen; save the README screenshots in docs/screenshots/.

    QT_QPA_PLATFORM=offscreen .venv/bin/python scripts/screenshots.py [--out docs/screenshots]
        [--real-model --films ../shared/data/kermany-224]

Uses the test fake classifier and synthetic phantoms by default (no TensorFlow, no data);
``--real-model`` loads the bundled model and ``--films`` takes real pediatric films from the
Kermany et al. (2018) set (CC BY 4.0): the images stay out of the repository, only the
screenshots are committed. One of the films is also wrapped as a DICOM file (metadata made
up, marked as such) to show the DICOM details. Settings, database and logs go to a
temporary folder, never the user's.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "tests" / "ui")]
NAMES = ("main.png", "normal.png", "ai_panel.png", "worklist.png", "dicom.png")
# Films of the Kermany set shown in the README (training split, so the model is sure of them).
PNEUMONIA = ("person1000_bacteria_2931.jpeg", "person1001_bacteria_2932.jpeg", "person1000_virus_1681.jpeg")
NORMAL = ("IM-0115-0001.jpeg", "IM-0117-0001.jpeg", "IM-0119-0001.jpeg")


def synthetic_chest(size: int, seed: int, opacity: float) -> np.ndarray:
    """A crude chest-like radiograph: bright mediastinum and ribs, dark lungs, an optional opacity."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:size, 0:size] / size
    img = 0.75 - 0.45 * (((x - 0.3) / 0.17) ** 2 + ((y - 0.5) / 0.33) ** 2 < 1)
    img -= 0.45 * (((x - 0.7) / 0.17) ** 2 + ((y - 0.5) / 0.33) ** 2 < 1)
    img += 0.12 * (np.sin(y * 60) > 0.6)
    if opacity:
        img += opacity * np.exp(-(((x - 0.68) / 0.08) ** 2 + ((y - 0.62) / 0.08) ** 2))
    img += rng.normal(0, 0.03, img.shape)
    return (np.clip(img, 0, 1) * 255).astype(np.uint8)


def wrap_as_dicom(src: Path, dst: Path) -> None:
    """A pediatric film as a DX DICOM file, with made-up (clearly marked) metadata."""
    import pydicom
    from PIL import Image
    from pydicom.dataset import FileDataset, FileMetaDataset
    from pydicom.uid import DigitalXRayImageStorageForPresentation, ExplicitVRLittleEndian, generate_uid

    a = (np.asarray(Image.open(src).convert("L"), dtype=np.uint16) * 16).astype(np.uint16)
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = DigitalXRayImageStorageForPresentation
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = FileDataset(str(dst), {}, file_meta=meta, preamble=b"\0" * 128)
    ds.SOPClassUID, ds.SOPInstanceUID = meta.MediaStorageSOPClassUID, meta.MediaStorageSOPInstanceUID
    ds.Modality, ds.BodyPartExamined, ds.ViewPosition = "DX", "CHEST", "AP"
    ds.PatientName, ds.PatientID, ds.PatientAge, ds.PatientSex = "Example^Film", "DEMO-0001", "003Y", "F"
    ds.StudyDate, ds.AccessionNumber = "20260101", "DEMO"
    ds.Rows, ds.Columns = a.shape
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 12, 11, 0
    ds.WindowCenter, ds.WindowWidth = 2048, 4096
    ds.PixelData = a.tobytes()
    pydicom.dcmwrite(str(dst), ds)


def _settle(app: Any, w: Any, limit_s: float) -> None:
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline and (w.batch.busy() or not w.model.rows or w.session.pred_rid
                                           or w.viewer.view.study() is None):
        app.processEvents()
        time.sleep(0.01)
    for _ in range(50):
        app.processEvents()
        time.sleep(0.005)


def _select(app: Any, w: Any, name: str, limit_s: float) -> None:
    row = next(i for i, r in enumerate(w.model.rows) if r.path.name == name)
    w.list_panel.select_source_row(row)
    _settle(app, w, limit_s)


def render(out_dir: Path, real_model: bool = False, films: Path | None = None) -> list[Path]:
    """Open studies, then grab: a pneumonia case with heat map, a normal case, the AI panel,
    the work list sorted for triage, a DICOM film with its details."""
    from PIL import Image

    tmp = Path(tempfile.mkdtemp(prefix="xray_shots_"))
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    os.environ["XRAY_DESKTOP_SETTINGS"] = str(tmp / "settings.ini")
    os.environ["XRAY_DESKTOP_DATA_DIR"] = str(tmp / "data")
    os.environ["XRAY_DESKTOP_DB"] = str(tmp / "data" / "reads.sqlite3")
    os.environ["XRAY_DESKTOP_LOG_DIR"] = str(tmp / "logs")
    from PySide6.QtWidgets import QApplication

    from xray_desktop import settings as keys
    from xray_desktop.records import Store
    from xray_desktop.ui.main_window import MainWindow
    from xray_desktop.ui.settings_store import SettingsStore
    from xray_desktop.ui.theme import apply_dark_theme

    app = QApplication.instance() or QApplication([])
    apply_dark_theme(app)
    folder = tmp / "studies"
    folder.mkdir()
    if films is not None:
        for sub, names in (("PNEUMONIA", PNEUMONIA), ("NORMAL", NORMAL)):
            for name in names:
                shutil.copy(films / "train" / sub / name, folder / name)
        wrap_as_dicom(films / "train" / "NORMAL" / "IM-0125-0001.jpeg", folder / "chest_dx.dcm")
        sick, well = PNEUMONIA[0], NORMAL[0]
    else:
        for i, opacity in enumerate((0.0, 0.5, 0.25, 0.0, 0.6)):
            Image.fromarray(synthetic_chest(512, i, opacity)).save(folder / f"patient_{i + 1:02d}.png")
        wrap_as_dicom(folder / "patient_04.png", folder / "chest_dx.dcm")
        sick, well = "patient_02.png", "patient_01.png"
    if real_model:
        from xray_desktop.app import _load_classifier as factory
    else:
        from fakes import factory as fake_factory

        factory = fake_factory()
    settings = SettingsStore()
    settings.set(keys.REVIEWER, "Dr Screenshot")
    settings.set(keys.WORKLIST_SORT, "probability")  # the work list sorted for triage
    store = Store.open()
    w = MainWindow(settings, store, factory)
    w.resize(1600, 950)
    w.show()
    w.open_paths([folder])
    limit = 180 if real_model else 15
    _settle(app, w, limit)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = [out_dir / n for n in NAMES]
    _select(app, w, sick, limit)
    w.grab().save(str(paths[0]))
    _select(app, w, well, limit)
    w.grab().save(str(paths[1]))
    _select(app, w, sick, limit)
    w.prediction_panel.grab().save(str(paths[2]))
    w.list_panel.grab().save(str(paths[3]))
    _select(app, w, "chest_dx.dcm", limit)
    w.grab().save(str(paths[4]))
    w.shutdown()
    store.close()
    return paths


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=REPO / "docs" / "screenshots")
    ap.add_argument("--real-model", action="store_true")
    ap.add_argument("--films", type=Path, help="the kermany-224 folder (real films instead of phantoms)")
    args = ap.parse_args()
    for p in render(args.out, args.real_model, args.films):
        print(p)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
