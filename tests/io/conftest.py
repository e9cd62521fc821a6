"""Fixtures for the loader tests (helpers live in io_helpers)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from io_helpers import build_dataset, chest_like, write
from pydicom.uid import ExplicitVRLittleEndian


@pytest.fixture
def dicom_file(tmp_path: Path) -> Callable[..., Path]:
    """Factory: ``dicom_file(arr, name=..., ts=..., preamble=..., **attrs)`` -> path."""

    def make(
        arr: np.ndarray | None = None,
        name: str = "img.dcm",
        ts: str = ExplicitVRLittleEndian,
        preamble: bool = True,
        **kw: Any,
    ) -> Path:
        ds = build_dataset(chest_like() if arr is None else arr, **kw)
        return write(ds, tmp_path / name, ts, preamble=preamble)

    return make
