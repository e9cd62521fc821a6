"""DICOM studies through pydicom (placeholder: hardened in the foundation work)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pydicom

from xray_desktop.domain import Study, StudyMetadata
from xray_desktop.io.errors import StudyLoadError


def load_dicom(path: Path, sha256: str) -> Study:
    """Decode a DICOM file to presentation pixels."""
    ds = pydicom.dcmread(path, force=True)
    if "PixelData" not in ds:
        raise StudyLoadError("DICOM has no pixel data")
    arr = ds.pixel_array.astype(np.float32)
    if arr.ndim == 3:
        arr = arr[0]
    lo, hi = float(arr.min()), float(arr.max())
    pixels = ((arr - lo) / max(hi - lo, 1e-6)).astype(np.float32)
    if ds.get("PhotometricInterpretation", "") == "MONOCHROME1":
        pixels = 1.0 - pixels
    meta = StudyMetadata(source_format="DICOM", rows=arr.shape[0], cols=arr.shape[1])
    return Study(path=path, pixels=pixels, metadata=meta, sha256=sha256, raw=arr)
