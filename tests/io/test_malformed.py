"""Malformed and hostile DICOM inputs, and file-system oddities: specific one-line errors."""

from __future__ import annotations

import os
import time
import tracemalloc

import numpy as np
import pydicom
import pytest
from io_helpers import build_dataset, chest_like, write
from pydicom.data import get_testdata_file

from xray_desktop.io import MAX_PIXELS, StudyLoadError, load_study

ARR = chest_like(64, 48)


def _one_line(exc: pytest.ExceptionInfo[StudyLoadError]) -> str:
    msg = str(exc.value)
    assert msg and "\n" not in msg
    return msg


def test_executable_preamble_with_dicm_is_valid_dicom(tmp_path):
    path = write(build_dataset(ARR), tmp_path / "mz.dcm")
    data = bytearray(path.read_bytes())
    data[:4] = b"MZ\x90\x00"
    path.write_bytes(bytes(data))
    s = load_study(path)
    np.testing.assert_array_equal(s.raw, ARR.astype(np.float32))
    assert any("Windows executable" in n for n in s.notes)


@pytest.mark.parametrize(("magic", "name"), [(b"MZ\x90\x00", "Windows executable"), (b"\x7fELF", "ELF executable")])
def test_executable_without_dicm_refused(tmp_path, magic, name):
    path = tmp_path / "x.dcm"
    path.write_bytes(magic + bytes(range(256)) * 4)
    with pytest.raises(StudyLoadError, match=name) as exc:
        load_study(path)
    _one_line(exc)


def test_no_dicm_prefix_refused(tmp_path):
    path = write(build_dataset(ARR), tmp_path / "x.dcm")
    data = bytearray(path.read_bytes())
    data[128:132] = b"XXXX"
    path.write_bytes(bytes(data))
    with pytest.raises(StudyLoadError, match="no DICM prefix"):
        load_study(path)


def test_truncated_native_pixel_data_reports_bytes(tmp_path):
    path = write(build_dataset(ARR), tmp_path / "x.dcm")
    path.write_bytes(path.read_bytes()[:-1000])
    expected = ARR.size * 2
    with pytest.raises(StudyLoadError, match=rf"^pixel data is truncated \({expected - 1000} of {expected} bytes\)$"):
        load_study(path)


def test_short_pixel_data_element_reports_bytes(tmp_path):
    ds = build_dataset(ARR)
    ds.PixelData = ds.PixelData[:100]
    with pytest.raises(StudyLoadError, match=rf"pixel data is truncated \(100 of {ARR.size * 2} bytes\)"):
        load_study(write(ds, tmp_path / "x.dcm"))


def test_longer_pixel_data_accepted_trailing_ignored(tmp_path):
    ds = build_dataset(ARR)
    ds.PixelData = ds.PixelData + b"\x07\x00" * 500
    s = load_study(write(ds, tmp_path / "x.dcm"))
    np.testing.assert_array_equal(s.raw, ARR.astype(np.float32))


@pytest.mark.filterwarnings("ignore:End of file reached")
def test_truncated_jpeg2000_pixel_data(tmp_path):
    data = open(get_testdata_file("MR_small_jp2klossless.dcm"), "rb").read()
    path = tmp_path / "j2k.dcm"
    path.write_bytes(data[:-300])
    with pytest.raises(StudyLoadError, match="^JPEG 2000 pixel data is truncated$"):
        load_study(path)


def test_truncated_codestream_inside_valid_fragment(tmp_path):
    ds = build_dataset(chest_like(64, 64))
    ds.compress(pydicom.uid.JPEG2000Lossless)
    frame = next(pydicom.encaps.generate_frames(ds.PixelData, number_of_frames=1))
    ds.PixelData = pydicom.encaps.encapsulate([frame[: len(frame) // 2]])
    path = tmp_path / "x.dcm"
    ds.save_as(path, enforce_file_format=True)
    with pytest.raises(StudyLoadError, match="^JPEG 2000 pixel data is truncated$"):
        load_study(path)


@pytest.mark.parametrize(
    ("uid", "marker", "offset"),
    [(pydicom.uid.JPEGLSLossless, b"\xff\xf7", 5), (pydicom.uid.JPEG2000Lossless, b"\xff\x4f\xff\x51", 8)],
    ids=["JPEG-LS", "JPEG 2000"],
)
def test_codestream_larger_than_image_refused_before_decoding(tmp_path, uid, marker, offset):
    ds = build_dataset(chest_like(64, 64))
    ds.compress(uid)
    path = tmp_path / "x.dcm"
    ds.save_as(path, enforce_file_format=True)
    data = bytearray(path.read_bytes())
    at = data.index(marker) + offset
    if marker == b"\xff\xf7":  # JPEG-LS SOF: height, width as 16-bit
        data[at : at + 4] = (60000).to_bytes(2, "big") * 2
    else:  # J2K SIZ: Xsiz, Ysiz as 32-bit
        data[at : at + 8] = (60000).to_bytes(4, "big") * 2
    path.write_bytes(bytes(data))
    tracemalloc.start()
    try:
        with pytest.raises(StudyLoadError, match="frame declares 60000 x 60000 pixels but the image is 64 x 64"):
            load_study(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 20_000_000


def test_element_length_past_end_of_file(tmp_path):
    ds = build_dataset(ARR)
    ds.add_new(0x00091010, "LO", "VENDOR")  # private creator
    ds.add_new(0x00091001, "OB", b"\x01" * 400_000)  # big enough to be deferred
    path = write(ds, tmp_path / "x.dcm")
    path.write_bytes(path.read_bytes()[:200_000])
    with pytest.raises(StudyLoadError, match=r"element \(0009,1001\) declares 400000 bytes but the file ends"):
        load_study(path)


@pytest.mark.parametrize(("rows", "cols", "frames"), [(50000, 50000, 1), (10000, 10000, 2), (65535, 65535, 1000)])
def test_huge_declared_size_refused_fast_without_allocating(tmp_path, rows, cols, frames):
    ds = build_dataset(ARR)
    ds.Rows, ds.Columns = rows, cols
    if frames > 1:
        ds.NumberOfFrames = frames
    path = write(ds, tmp_path / "x.dcm")
    tracemalloc.start()
    t0 = time.perf_counter()
    try:
        with pytest.raises(StudyLoadError, match=r"exceeds the 100 Mpx limit") as exc:
            load_study(path)
        elapsed = time.perf_counter() - t0
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert rows * cols * frames > MAX_PIXELS
    assert f"{cols} x {rows} pixels" in _one_line(exc)
    assert elapsed < 1.0
    assert peak < 20_000_000, f"allocated {peak} bytes before refusing"


def test_file_meta_length_past_end_of_file(tmp_path):
    path = write(build_dataset(ARR), tmp_path / "x.dcm")
    data = bytearray(path.read_bytes())
    at = data.index(b"\x02\x00\x01\x00OB")  # File Meta Information Version, a 4-byte length
    data[at + 8 : at + 12] = (0xFFFFFFF0).to_bytes(4, "little")
    path.write_bytes(bytes(data))
    with pytest.raises(StudyLoadError, match=r"element \(0002,0001\) declares 4294967280 bytes"):
        load_study(path)


def test_deflate_bomb_guard(tmp_path, monkeypatch):
    from xray_desktop.io import dicom

    path = write(build_dataset(ARR), tmp_path / "x.dcm", pydicom.uid.DeflatedExplicitVRLittleEndian)
    monkeypatch.setattr(dicom, "MAX_INFLATED_BYTES", 1000)
    with pytest.raises(StudyLoadError, match="deflated data set expands past"):
        load_study(path)


def test_dicomdir_refused():
    with pytest.raises(StudyLoadError, match="DICOMDIR"):
        load_study(get_testdata_file("DICOMDIR"))


def test_invalid_bits_allocated(tmp_path):
    ds = build_dataset(ARR)
    ds.BitsAllocated = 12
    with pytest.raises(StudyLoadError, match="unsupported Bits Allocated 12"):
        load_study(write(ds, tmp_path / "x.dcm"))


def test_empty_file(tmp_path):
    (tmp_path / "e.dcm").write_bytes(b"")
    with pytest.raises(StudyLoadError, match="^file is empty$"):
        load_study(tmp_path / "e.dcm")


def test_missing_file(tmp_path):
    with pytest.raises(StudyLoadError, match="^file not found$"):
        load_study(tmp_path / "nope.dcm")


def test_directory(tmp_path):
    with pytest.raises(StudyLoadError, match="folder"):
        load_study(tmp_path)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this platform")
def test_fifo_does_not_block(tmp_path):
    fifo = tmp_path / "pipe.dcm"
    os.mkfifo(fifo)
    t0 = time.perf_counter()
    with pytest.raises(StudyLoadError, match="not a regular file"):
        load_study(fifo)
    assert time.perf_counter() - t0 < 1.0


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root reads any file")
def test_unreadable_file(tmp_path):
    path = write(build_dataset(ARR), tmp_path / "x.dcm")
    path.chmod(0)
    try:
        with pytest.raises(StudyLoadError, match="permission denied"):
            load_study(path)
    finally:
        path.chmod(0o644)


def test_symlink_loop_file(tmp_path):
    link = tmp_path / "loop.dcm"
    link.symlink_to(link)
    with pytest.raises(StudyLoadError, match="cannot read file"):
        load_study(link)
