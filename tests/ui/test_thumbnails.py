"""Work-list thumbnails: small JPEG bytes per row, pixmaps only for rows near the screen."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import Qt

from xray_desktop.ui.study_list import StudyListModel
from xray_desktop.ui.study_list_panel import StudyListPanel
from xray_desktop.ui.thumbnails import THUMB_SIZE, ThumbnailCache, decode_thumbnail, encode_thumbnail

DECO = Qt.ItemDataRole.DecorationRole


def _ramp(h: int, w: int) -> np.ndarray:
    return np.tile(np.linspace(0.0, 1.0, w, dtype=np.float32), (h, 1))


@pytest.mark.parametrize("shape", [(3000, 2500), (2500, 3000), (64, 64), (1, 1), (512, 512, 3)])
def test_encode_is_small_and_decodes_to_the_image(qapp, shape):
    pixels = np.broadcast_to(_ramp(*shape[:2])[..., None], shape) if len(shape) == 3 else _ramp(*shape)
    data = encode_thumbnail(pixels)
    assert data[:2] == b"\xff\xd8" and len(data) < 4096  # JPEG, not a pixmap's 16 KB
    pix = decode_thumbnail(data)
    assert pix is not None and max(pix.width(), pix.height()) <= THUMB_SIZE
    img = pix.toImage()
    if img.width() > 8:  # the ramp survives: dark on the left, bright on the right
        y = img.height() // 2
        assert _gray(img, 1, y) < 40 and _gray(img, img.width() - 2, y) > 215


def _gray(img, x: int, y: int) -> int:
    from PySide6.QtGui import qGray

    return qGray(img.pixel(x, y))


def test_garbage_bytes_give_no_pixmap(qapp):
    assert decode_thumbnail(b"not a jpeg") is None
    assert decode_thumbnail(encode_thumbnail(_ramp(50, 50))[:20]) is None


def test_cache_keeps_the_most_recently_shown_rows(qapp):
    data = encode_thumbnail(_ramp(32, 32))
    cache = ThumbnailCache(capacity=3)
    assert cache.show([1, 2, 3], lambda r: data) == ([1, 2, 3], [])
    assert cache.show([1], lambda r: data) == ([], [])  # 1 is now the most recent
    assert cache.show([4, 5], lambda r: data) == ([4, 5], [2, 3])
    assert sorted(cache._lru) == [1, 4, 5]
    assert cache.show([6], lambda r: None) == ([], [])  # no bytes (an error row): nothing cached
    assert cache.discard(4) and not cache.discard(4) and 4 not in cache
    # More rows on screen than the capacity: none of them is left blank.
    added, _ = cache.show(range(10, 20), lambda r: data)
    assert added == list(range(10, 20)) and all(r in cache for r in range(10, 20))


@pytest.fixture
def big_list(qtbot):
    model = StudyListModel()
    panel = StudyListPanel(model)
    qtbot.addWidget(panel)
    panel.resize(500, 700)
    panel.show()
    qtbot.waitExposed(panel)
    model.thumbs.capacity = 60
    n = 2000
    model.add_paths([Path(f"/nowhere/s{i:05d}.dcm") for i in range(n)])
    for row in range(n):
        model.set_thumbnail(row, encode_thumbnail(np.full((40, 40), (row % 7) / 7, np.float32)))
    model.flush()
    return model, panel


def _decorated(model: StudyListModel) -> set[int]:
    return {r for r in range(model.rowCount()) if model.item(r, 0).data(DECO) is not None}


def test_only_rows_near_the_screen_hold_pixmaps(qtbot, big_list):
    model, panel = big_list
    qtbot.waitUntil(lambda: len(model.thumbs) > 0, timeout=2000)  # the refresh follows the flush
    near = panel.rows_near_screen()
    assert 5 < len(near) < 60 and near[0] == 0
    assert _decorated(model) == set(near)

    # Scroll to the end: the new rows get pixmaps, the cache stays bounded, and the rows that
    # fell out of it hold no pixmap any more.
    panel.table.scrollToBottom()
    qtbot.waitUntil(lambda: model.rowCount() - 1 in model.thumbs, timeout=2000)
    assert len(model.thumbs) <= 60
    assert _decorated(model) == set(model.thumbs._lru)
    assert set(panel.rows_near_screen()) <= _decorated(model)

    # Sorted differently, the rows on screen are other source rows: they get theirs too.
    panel.set_sort_mode("name")
    panel.sort_combo.setCurrentIndex(panel.sort_combo.findData("name"))
    panel.table.scrollToTop()
    qtbot.waitUntil(lambda: set(panel.rows_near_screen()) <= set(model.thumbs._lru), timeout=2000)


def test_a_new_thumbnail_replaces_the_shown_one(qtbot, big_list):
    model, panel = big_list
    qtbot.waitUntil(lambda: 0 in model.thumbs, timeout=2000)
    before = _gray(model.item(0, 0).data(DECO).toImage(), 5, 5)
    model.set_thumbnail(0, encode_thumbnail(np.ones((40, 40), np.float32)))
    qtbot.waitUntil(lambda: 0 in model.thumbs, timeout=2000)
    after = _gray(model.item(0, 0).data(DECO).toImage(), 5, 5)
    assert before < 20 and after > 235
