"""Helpers that build DICOM, PNG and JPEG files on the fly with pydicom and Pillow.

A uniquely named module (not conftest) so ``from io_helpers import ...`` cannot pick up
another test folder's conftest.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import numpy as np
import pydicom
from PIL import Image
from pydicom.dataset import FileDataset, FileMetaDataset
from pydicom.encaps import encapsulate
from pydicom.uid import (
    DigitalXRayImageStorageForPresentation,
    ExplicitVRBigEndian,
    ExplicitVRLittleEndian,
    JPEGBaseline8Bit,
    generate_uid,
)


def chest_like(rows: int = 64, cols: int = 48, top: int = 4095, seed: int = 0) -> np.ndarray:
    """A smooth gradient with noise: bright centre (bone), dark corners (air), values 0..top."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:rows, 0:cols]
    r = np.hypot((y - rows / 2) / rows, (x - cols / 2) / cols)
    img = (1.0 - np.clip(r * 1.6, 0, 1)) * top * 0.9 + rng.integers(0, max(top // 20, 2), (rows, cols))
    return np.clip(img, 0, top).astype(np.uint16)


def build_dataset(
    arr: np.ndarray,
    *,
    photometric: str = "MONOCHROME2",
    bits_stored: int | None = None,
    sop_class: str = DigitalXRayImageStorageForPresentation,
    frames: int | None = None,
    **attrs: Any,
) -> FileDataset:
    """An in-memory DICOM image data set holding ``arr`` natively (little endian)."""
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = sop_class
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = FileDataset("mem", {}, file_meta=meta, preamble=b"\0" * 128)
    ds.SOPClassUID = sop_class
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.PatientName = "DOE^JOHN"
    ds.PatientID = "PID-1"
    ds.Modality = "DX"
    ds.StudyDate = "20240131"
    colour = arr.ndim == (4 if frames else 3)
    shape = arr.shape[1:] if frames else arr.shape
    ds.Rows, ds.Columns = shape[0], shape[1]
    ds.SamplesPerPixel = 3 if colour else 1
    ds.PhotometricInterpretation = photometric
    if colour:
        ds.PlanarConfiguration = 0
    bits = arr.dtype.itemsize * 8
    ds.BitsAllocated = bits
    ds.BitsStored = bits_stored or bits
    ds.HighBit = ds.BitsStored - 1
    ds.PixelRepresentation = 1 if arr.dtype.kind == "i" else 0
    if frames:
        ds.NumberOfFrames = frames
    ds.PixelData = np.ascontiguousarray(arr).astype(arr.dtype.newbyteorder("<")).tobytes()
    for key, value in attrs.items():
        setattr(ds, key, value)
    return ds


def write(ds: FileDataset, path: Path, ts: str = ExplicitVRLittleEndian, *, preamble: bool = True) -> Path:
    """Save ``ds`` with transfer syntax ``ts`` (native syntaxes only)."""
    ds.file_meta.TransferSyntaxUID = ts
    if ts == ExplicitVRBigEndian:
        arr = np.frombuffer(ds.PixelData, dtype=f"<u{ds.BitsAllocated // 8}")
        ds.PixelData = arr.astype(arr.dtype.newbyteorder(">")).tobytes()
    if not preamble:
        ds.preamble = None
    # dcmwrite (unlike save_as) may write big endian when the file meta asks for it.
    pydicom.dcmwrite(path, ds, enforce_file_format=preamble)
    return path


def rewrite_transfer_syntax(path: Path, uid: str | None) -> Path:
    """Replace (or with ``None`` remove) the Transfer Syntax UID in a Part 10 file's meta."""
    data = path.read_bytes()
    assert data[128:132] == b"DICM"
    pos, elems = 132, []
    while int.from_bytes(data[pos : pos + 2], "little") == 2:
        vr = data[pos + 4 : pos + 6]
        if vr in (b"OB", b"UN", b"SQ", b"UT"):
            end = pos + 12 + int.from_bytes(data[pos + 8 : pos + 12], "little")
        else:
            end = pos + 8 + int.from_bytes(data[pos + 6 : pos + 8], "little")
        elems.append((int.from_bytes(data[pos + 2 : pos + 4], "little"), data[pos:end]))
        pos = end
    out = []
    for element, raw in elems:
        if element == 0x0000:
            continue
        if element == 0x0010:
            if uid is None:
                continue
            value = uid.encode() + (b"\0" if len(uid) % 2 else b"")
            raw = raw[:6] + len(value).to_bytes(2, "little") + value
        out.append(raw)
    body = b"".join(out)
    group_length = b"\x02\x00\x00\x00UL\x04\x00" + len(body).to_bytes(4, "little")
    path.write_bytes(data[:132] + group_length + body + data[pos:])
    return path


def jpeg_dicom(arr8: np.ndarray, path: Path, quality: int = 95) -> Path:
    """A JPEG Baseline DICOM encapsulating a Pillow-encoded 8-bit grayscale frame."""
    buf = io.BytesIO()
    Image.fromarray(arr8, "L").save(buf, "JPEG", quality=quality)
    ds = build_dataset(arr8.astype(np.uint8))
    ds.PixelData = encapsulate([buf.getvalue()])
    ds["PixelData"].VR = "OB"
    ds.file_meta.TransferSyntaxUID = JPEGBaseline8Bit
    pydicom.dcmwrite(path, ds, enforce_file_format=True)
    return path


def png_bytes(arr: np.ndarray | Image.Image, **save: Any) -> bytes:
    buf = io.BytesIO()
    im = arr if isinstance(arr, Image.Image) else Image.fromarray(arr)
    im.save(buf, "PNG", **save)
    return buf.getvalue()


def jpeg_bytes(arr: np.ndarray | Image.Image, **save: Any) -> bytes:
    buf = io.BytesIO()
    im = arr if isinstance(arr, Image.Image) else Image.fromarray(arr)
    im.save(buf, "JPEG", **save)
    return buf.getvalue()


def study_dicom(path: Path, study_uid: str | None, *, series: int | None = 1, instance: int | None = 1,
                view: str | None = "PA", series_uid: str | None = None, seed: int = 0, **attrs: Any) -> Path:
    """A small chest-like DICOM image of study ``study_uid`` (None: no StudyInstanceUID at all)."""
    ds = build_dataset(chest_like(40, 32, seed=seed), **attrs)
    if study_uid is not None:
        ds.StudyInstanceUID = study_uid
    ds.SeriesInstanceUID = series_uid or f"{study_uid or '9.9'}.{series or 0}"
    if series is not None:
        ds.SeriesNumber = series
    if instance is not None:
        ds.InstanceNumber = instance
    if view is not None:
        ds.ViewPosition = view
    path.parent.mkdir(parents=True, exist_ok=True)
    return write(ds, path)
