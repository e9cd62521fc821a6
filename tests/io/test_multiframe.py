"""Multi-frame images whose first frame is blank show a non-blank frame (issue #17.8)."""

from __future__ import annotations

import numpy as np
import pydicom
import pytest
from io_helpers import build_dataset, chest_like
from pydicom.data import get_testdata_file
from pydicom.uid import RLELossless

from xray_desktop.io import StudyLoadError, load_study
from xray_desktop.io.dicom import frame_order

ARR = chest_like(64, 48)


def series(n: int, blank: set[int]) -> np.ndarray:
    """``n`` frames of chest_like (a different seed each), the ``blank`` ones all zero."""
    frames = np.stack([chest_like(64, 48, seed=i) for i in range(n)])
    for i in blank:
        frames[i] = 0
    return frames


def test_frame_order_is_first_then_outward_from_the_middle():
    assert frame_order(1) == [0]
    assert frame_order(2) == [0, 1]
    assert frame_order(5) == [0, 2, 3, 1, 4]
    assert frame_order(162)[:4] == [0, 81, 82, 80]
    assert sorted(frame_order(162)) == list(range(162))


def test_blank_first_frame_shows_the_middle_frame_and_says_so(dicom_file):
    frames = series(5, blank={0})
    s = load_study(dicom_file(frames, frames=5))
    assert "multi-frame: showing frame 3 of 5 (frame 1 is blank)" in s.notes
    alone = load_study(dicom_file(frames[2], name="f3.dcm"))
    np.testing.assert_array_equal(s.pixels, alone.pixels)
    assert s.pixels.std() > 0.01 and s.metadata.frames == 5


def test_blank_first_and_middle_frames_show_the_next_non_blank(dicom_file):
    s = load_study(dicom_file(series(5, blank={0, 2}), frames=5))
    assert "multi-frame: showing frame 4 of 5 (frame 1 is blank)" in s.notes


def test_non_blank_first_frame_is_still_shown(dicom_file):
    s = load_study(dicom_file(series(3, blank={1}), frames=3))
    assert "multi-frame: showing frame 1 of 3" in s.notes


def test_all_frames_blank_is_refused_as_such(dicom_file):
    with pytest.raises(StudyLoadError, match="^all 4 frames are blank"):
        load_study(dicom_file(series(4, blank={0, 1, 2, 3}), frames=4))
    with pytest.raises(StudyLoadError, match="^image is blank"):
        load_study(dicom_file(np.zeros_like(ARR), name="one.dcm"))


def test_blank_first_frame_in_compressed_series(tmp_path):
    ds = build_dataset(series(6, blank={0}), frames=6)
    ds.compress(RLELossless)
    s = load_study(write_compressed(ds, tmp_path / "rle.dcm"))
    assert "multi-frame: showing frame 4 of 6 (frame 1 is blank)" in s.notes
    assert "RLE" in s.metadata.transfer_syntax


def write_compressed(ds, path):
    pydicom.dcmwrite(path, ds, enforce_file_format=True)
    return path


@pytest.mark.filterwarnings("ignore")
def test_pydicom_two_frame_file_with_its_first_frame_blanked(tmp_path):
    """pydicom's own 2-frame RLE file, re-encoded with frame 1 made uniform."""
    src = get_testdata_file("SC_rgb_rle_2frame.dcm")
    if src is None:
        pytest.skip("pydicom test file not available")
    ds = pydicom.dcmread(src)
    frames = ds.pixel_array.copy()
    frames[0] = 128
    ds.compress(RLELossless, frames)
    s = load_study(write_compressed(ds, tmp_path / "rle2.dcm"))
    assert "multi-frame: showing frame 2 of 2 (frame 1 is blank)" in s.notes
    assert s.pixels.std() > 0.01
