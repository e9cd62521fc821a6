"""Builders for the network and SR tests: chest-like DICOM films, a running receiver."""

from __future__ import annotations

import contextlib
import io
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pydicom
from pydicom.dataset import FileDataset, FileMetaDataset
from pydicom.uid import DigitalXRayImageStorageForPresentation, ExplicitVRLittleEndian, generate_uid

from xray_desktop.net.receive import Receiver, ReceiverConfig

AE_TITLE = "XRAY_TEST"


def chest_film(rows: int = 96, cols: int = 80, seed: int = 0, **attrs: Any) -> Any:
    """A 12-bit DX film: bright mediastinum, darker lungs, noise; patient and study set."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:rows, 0:cols]
    lungs = np.exp(-(((x - cols * 0.3) / (cols * 0.15)) ** 2 + ((y - rows * 0.5) / (rows * 0.3)) ** 2))
    lungs += np.exp(-(((x - cols * 0.7) / (cols * 0.15)) ** 2 + ((y - rows * 0.5) / (rows * 0.3)) ** 2))
    img = 3000 - 2000 * lungs + rng.integers(0, 200, (rows, cols))
    arr = np.clip(img, 0, 4095).astype(np.uint16)
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = DigitalXRayImageStorageForPresentation
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = FileDataset("mem", {}, file_meta=meta, preamble=b"\0" * 128)
    ds.SOPClassUID = meta.MediaStorageSOPClassUID
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.StudyInstanceUID = generate_uid()
    ds.SeriesInstanceUID = generate_uid()
    ds.PatientName = "DOE^JANE"
    ds.PatientID = "PHI-12345"
    ds.PatientBirthDate = "20200101"
    ds.PatientSex = "F"
    ds.StudyDate = "20240131"
    ds.StudyTime = "101500"
    ds.StudyID = "S1"
    ds.AccessionNumber = "ACC-99"
    ds.ReferringPhysicianName = "REF^DOC"
    ds.Modality = "DX"
    ds.ViewPosition = "PA"
    ds.SeriesNumber = 1
    ds.InstanceNumber = 1
    ds.Rows, ds.Columns = rows, cols
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 12, 11, 0
    ds.PixelData = arr.tobytes()
    for key, value in attrs.items():
        setattr(ds, key, value)
    buf = io.BytesIO()  # round trip, so pydicom knows the data set's encoding like a file read's
    pydicom.dcmwrite(buf, ds, enforce_file_format=True)
    return pydicom.dcmread(io.BytesIO(buf.getvalue()))


def save(ds: FileDataset, path: Path) -> Path:
    pydicom.dcmwrite(path, ds, enforce_file_format=True)
    return path


@contextlib.contextmanager
def running(folder: Path, **config: Any) -> Iterator[tuple[Receiver, list[Any], list[str]]]:
    """A receiver on a free port; yields (receiver, arrivals, problems)."""
    arrivals: list[Any] = []
    problems: list[str] = []
    config.setdefault("ae_title", AE_TITLE)
    rx = Receiver(ReceiverConfig(folder, port=0, bind="127.0.0.1", **config), arrivals.append, problems.append)
    rx.start()
    try:
        yield rx, arrivals, problems
    finally:
        rx.stop()


def closed_within(sock: socket.socket, seconds: float) -> float | None:
    """Seconds until the peer closed ``sock`` (reading and discarding), or None if it did not."""
    t0 = time.monotonic()
    sock.settimeout(0.2)
    while time.monotonic() - t0 < seconds:
        try:
            data = sock.recv(65536)
        except TimeoutError:
            continue
        except OSError:
            return time.monotonic() - t0
        if not data:
            return time.monotonic() - t0
    return None
