"""Work-list thumbnails: kept per row as small JPEG bytes, turned into pixmaps only near the screen.

A 64 px pixmap costs 16 KB; thousands of them made the work list grow by ~21 KB per study
(issue #8's load test). Each row now keeps ~1.5 KB of JPEG, and :class:`ThumbnailCache`
holds pixmaps for the rows on (and just around) the screen, least recently shown dropped first.
"""

from __future__ import annotations

import io
from collections import OrderedDict
from collections.abc import Callable, Iterable

import numpy as np
from PIL import Image
from PySide6.QtGui import QPixmap

from xray_desktop.ui.colormap import gray_qimage

THUMB_SIZE = 64  # longest side, pixels (the list shows 48 px icons; 64 keeps them sharp on HiDPI)
THUMB_JPEG_QUALITY = 85
# Pixmaps kept: a screenful of 56 px rows on a 4K monitor is ~40, plus the margin around it.
THUMB_CACHE_ROWS = 256


def encode_thumbnail(pixels: np.ndarray, size: int = THUMB_SIZE) -> bytes:
    """A grey JPEG of at most ``size`` px per side (any thread: no Qt objects involved)."""
    arr = np.asarray(pixels)
    if arr.ndim > 2:
        arr = arr[..., 0]
    h, w = arr.shape[:2]
    step = max(1, int(np.ceil(max(h, w) / size)))
    u8 = np.ascontiguousarray(np.clip(arr[::step, ::step] * 255.0, 0, 255).astype(np.uint8))
    buf = io.BytesIO()
    Image.fromarray(u8, mode="L").save(buf, "JPEG", quality=THUMB_JPEG_QUALITY)
    return buf.getvalue()


def decode_thumbnail(data: bytes) -> QPixmap | None:
    """The pixmap for ``encode_thumbnail`` bytes (GUI thread only); None if they don't decode."""
    try:
        with Image.open(io.BytesIO(data)) as im:
            u8 = np.ascontiguousarray(np.asarray(im.convert("L"), dtype=np.uint8))
    except (OSError, ValueError):
        return None
    return QPixmap.fromImage(gray_qimage(u8))  # copies the pixels, so ``u8`` may go


class ThumbnailCache:
    """Pixmaps by row number, at most ``capacity``; the least recently shown row goes first."""

    def __init__(self, capacity: int = THUMB_CACHE_ROWS) -> None:
        self.capacity = capacity
        self._lru: OrderedDict[int, QPixmap] = OrderedDict()

    def __len__(self) -> int:
        return len(self._lru)

    def __contains__(self, row: object) -> bool:
        return row in self._lru

    def get(self, row: int) -> QPixmap | None:
        return self._lru.get(row)

    def discard(self, row: int) -> bool:
        """Forget ``row`` (its thumbnail changed); True if it was cached."""
        return self._lru.pop(row, None) is not None

    def show(self, rows: Iterable[int], data_of: Callable[[int], bytes | None]) -> tuple[list[int], list[int]]:
        """Make sure ``rows`` (those on screen) have pixmaps; returns (rows added, rows evicted).

        Rows on screen are never evicted by this call, however many there are: the capacity
        grows to fit them rather than leave a visible row blank.
        """
        wanted = list(dict.fromkeys(rows))
        added: list[int] = []
        for row in wanted:
            if row in self._lru:
                self._lru.move_to_end(row)
                continue
            data = data_of(row)
            pix = decode_thumbnail(data) if data else None
            if pix is not None:
                self._lru[row] = pix
                added.append(row)
        self.capacity = max(self.capacity, len(wanted))
        evicted: list[int] = []
        while len(self._lru) > self.capacity:
            row, _ = self._lru.popitem(last=False)
            evicted.append(row)
        return added, evicted
