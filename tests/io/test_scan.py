"""scan(): content detection, skip reasons, loops and unreadable folders."""

from __future__ import annotations

import os
import shutil
import time

import numpy as np
import pytest
from io_helpers import build_dataset, chest_like, jpeg_bytes, png_bytes, write
from pydicom.data import get_testdata_file
from pydicom.uid import BasicTextSRStorage

from xray_desktop.io import ScanItem, scan

GREY8 = chest_like(16, 16, top=255).astype(np.uint8)


@pytest.fixture
def tree(tmp_path):
    root = tmp_path / "studies"
    (root / "a" / "b").mkdir(parents=True)
    write(build_dataset(chest_like()), root / "a" / "IM0001")  # DICOM with no extension
    write(build_dataset(chest_like()), root / "a" / "b" / "bare", preamble=False)
    (root / "a" / "x.png").write_bytes(png_bytes(GREY8))
    (root / "a" / "x.jpeg").write_bytes(jpeg_bytes(GREY8))
    (root / "notes.txt").write_text("hello")
    (root / "empty.dcm").write_bytes(b"")
    (root / ".hidden.dcm").write_bytes(b"ignored")
    (root / "fake.png").write_bytes(b"II*\x00" + b"\0" * 64)
    sr = build_dataset(chest_like(), sop_class=BasicTextSRStorage)
    del sr.PixelData
    write(sr, root / "report.dcm")
    shutil.copy(get_testdata_file("DICOMDIR"), root / "DICOMDIR")
    return root


def _by_name(items: list[ScanItem]) -> dict[str, ScanItem]:
    return {i.path.name: i for i in items}


def test_scan_classifies_by_content(tree):
    items = _by_name(list(scan([tree])))
    assert items["IM0001"].kind == "DICOM" and not items["IM0001"].skip_reason
    assert items["bare"].kind == "DICOM"
    assert items["x.png"].kind == "PNG" and items["x.jpeg"].kind == "JPEG"
    assert items["notes.txt"].kind == "" and items["notes.txt"].skip_reason == "not a DICOM, PNG or JPEG file"
    assert items["empty.dcm"].skip_reason == "file is empty"
    assert items["fake.png"].skip_reason.startswith("TIFF files are not supported")
    assert items["report.dcm"].skip_reason == "not an image (Basic Text SR Storage)"
    assert items["DICOMDIR"].kind == "" and "DICOMDIR" in items["DICOMDIR"].skip_reason
    assert ".hidden.dcm" not in items


def test_scan_order_is_deterministic(tree):
    assert [i.path for i in scan([tree])] == [i.path for i in scan([tree])]


def test_scan_single_files_and_missing(tree, tmp_path):
    items = list(scan([tree / "a" / "x.png", tmp_path / "missing.dcm"]))
    assert items[0].kind == "PNG"
    assert items[1].skip_reason == "file not found"


def test_symlink_loops_terminate(tree):
    (tree / "a" / "b" / "up").symlink_to(tree, target_is_directory=True)
    (tree / "self").symlink_to(tree / "self")
    (tree / "dangling.dcm").symlink_to(tree / "gone.dcm")
    t0 = time.perf_counter()
    items = list(scan([tree]))
    assert time.perf_counter() - t0 < 5
    names = [i.path.name for i in items]
    assert names.count("IM0001") == 1  # the loop back to the root is not walked again
    by = _by_name(items)
    assert by["dangling.dcm"].skip_reason == "broken symbolic link"
    assert by["self"].kind == ""


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this platform")
def test_fifo_skipped_not_opened(tree):
    os.mkfifo(tree / "pipe.dcm")
    t0 = time.perf_counter()
    by = _by_name(list(scan([tree])))
    assert time.perf_counter() - t0 < 5
    assert by["pipe.dcm"].skip_reason.startswith("not a regular file")


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root can read any folder")
def test_unreadable_folder_reported(tree):
    locked = tree / "locked"
    locked.mkdir()
    locked.chmod(0)
    try:
        by = _by_name(list(scan([tree])))
        assert by["locked"].skip_reason.startswith("cannot open folder")
    finally:
        locked.chmod(0o755)
