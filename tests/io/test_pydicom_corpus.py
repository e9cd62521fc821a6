"""Every file pydicom ships as test data either loads with a real image or fails cleanly."""

from __future__ import annotations

import os
import time

import numpy as np
import pytest
from pydicom.data import get_testdata_files

from xray_desktop.io import StudyLoadError, load_study

FILES = sorted(f for f in get_testdata_files() if os.path.isfile(f))


def test_corpus_is_present():
    assert len(FILES) > 100


@pytest.mark.filterwarnings("ignore")
@pytest.mark.parametrize("path", FILES, ids=lambda p: os.path.relpath(p, os.path.dirname(os.path.dirname(p))))
def test_pydicom_test_file(path):
    t0 = time.perf_counter()
    try:
        s = load_study(path)
    except StudyLoadError as exc:
        assert str(exc) and "\n" not in str(exc)
        return
    finally:
        assert time.perf_counter() - t0 < 10
    assert s.pixels.ndim == 2 and s.pixels.dtype == np.float32
    assert np.isfinite(s.pixels).all() and s.pixels.min() >= 0 and s.pixels.max() <= 1
    assert s.pixels.std() > 0.01, "loaded image must not be blank"
    assert s.raw is not None and s.raw.shape == s.pixels.shape and s.raw.dtype == np.float32
    assert s.window is not None and s.window[1] > 0
    assert s.metadata.rows == s.pixels.shape[0] and s.metadata.cols == s.pixels.shape[1]
