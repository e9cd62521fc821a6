"""Files decoded ahead on a thread come back in scan order, errors in place, memory bounded."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest
from PIL import Image

from xray_desktop.io import prefetch as prefetch_mod
from xray_desktop.io import scan
from xray_desktop.io.prefetch import prefetched


def _folder(tmp_path, n=12):
    rng = np.random.default_rng(0)
    for i in range(n):
        p = tmp_path / f"f{i:02d}.png"
        if i % 4 == 1:
            p.write_bytes(b"not an image at all")  # skipped by the scan
        elif i % 4 == 2:
            p.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 40)
        else:
            Image.fromarray(rng.integers(0, 255, (20, 24), dtype=np.uint8)).save(p)
    return tmp_path


def test_same_order_and_outcomes_as_scan_then_load(tmp_path):
    from xray_desktop.io import StudyLoadError, load_study

    folder = _folder(tmp_path)
    want = []
    for item in scan([folder]):
        if item.skip_reason:
            want.append((item.path, None, item.skip_reason))
            continue
        try:
            want.append((item.path, load_study(item.path).sha256, ""))
        except StudyLoadError as exc:
            want.append((item.path, None, str(exc)))
    got = [(e.item.path, e.study.sha256 if e.study else None, e.error) for e in prefetched([folder], depth=2)]
    assert got == want
    assert {w[1] is None for w in want} == {True, False}  # both kinds present


def test_at_most_depth_studies_wait_ahead(tmp_path, monkeypatch):
    folder = _folder(tmp_path, 12)
    loads = []
    real = prefetch_mod.load_study
    monkeypatch.setattr(prefetch_mod, "load_study", lambda p: (loads.append(p), real(p))[1])
    it = prefetched([folder], depth=2)
    next(it)
    time.sleep(0.3)
    assert len(loads) <= 1 + 2 + 1  # the one consumed, two queued, one waiting to be put
    rest = list(it)
    assert len(rest) == 11


def test_unexpected_error_is_raised_in_the_caller(tmp_path, monkeypatch):
    folder = _folder(tmp_path, 4)

    def boom(p):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(prefetch_mod, "load_study", boom)
    with pytest.raises(RuntimeError, match="disk on fire"):
        list(prefetched([folder]))


def test_closing_early_stops_the_thread(tmp_path):
    folder = _folder(tmp_path, 12)
    before = threading.active_count()
    it = prefetched([folder], depth=1)
    next(it)
    it.close()
    deadline = time.monotonic() + 3
    while threading.active_count() > before and time.monotonic() < deadline:
        time.sleep(0.05)
    assert threading.active_count() == before


def test_prepare_runs_ahead_and_a_failure_leaves_none(tmp_path):
    folder = _folder(tmp_path, 8)
    seen = []

    def prepare(study):
        seen.append(threading.current_thread().name)
        if len(seen) == 2:
            raise ValueError("odd one")
        return study.pixels.shape

    got = [e.prepared for e in prefetched([folder], prepare=prepare) if e.study is not None]
    assert got[0] == got[2] and got[1] is None and len(got) == len(seen)
    assert set(seen) == {"xray-prefetch"}
