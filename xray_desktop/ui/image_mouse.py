"""The centre viewer's mouse: wheel zoom about the cursor, pan, window/level drags, double-click fit.

A mixin of :class:`~xray_desktop.ui.image_view.ImageView` (a QGraphicsView), kept apart so that
``image_view.py`` stays about the film, the overlay and the zoom. Window/level drags are
coalesced on the view's frame timer, so a slow frame never lets mouse moves pile up.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from PySide6.QtCore import QPointF, Qt
from PySide6.QtGui import QMouseEvent, QWheelEvent

_WL_DRAG_PIXELS = 800.0  # a drag this long sweeps the whole data range, on 8- or 16-bit alike
_WHEEL_NOTCH = 2.0 ** (1 / 4)  # one wheel notch (120 eighths of a degree) zooms by ~1.19


@dataclass
class _Drag:
    mode: str  # "pan" or "window"
    button: Qt.MouseButton
    start: QPointF
    window: tuple[float, float]
    scroll: tuple[int, int]



class ImageMouse:
    """Mixin: the reader's mouse on the film (see the module docstring)."""

    # Attributes and methods provided by ImageView (declared for readers and type checkers).
    _raw: np.ndarray | None
    _raw_lo: float
    _raw_hi: float
    _image_rect: Any
    _fit_mode: bool
    _drag: _Drag | None
    _pending: tuple[float, float] | None
    _timer: Any
    viewport: Callable[[], Any]
    horizontalScrollBar: Callable[[], Any]
    verticalScrollBar: Callable[[], Any]
    window: Callable[[], tuple[float, float]]
    set_window: Callable[[float, float], None]
    zoom_by: Callable[..., None]
    fit: Callable[[], None]

    def wheelEvent(self, event: QWheelEvent) -> None:
        """Zoom about the cursor."""
        steps = event.angleDelta().y() / 120.0
        if steps and not self._image_rect.isEmpty():
            self.zoom_by(_WHEEL_NOTCH**steps, event.position())
        event.accept()

    def mousePressEvent(self, event: QMouseEvent) -> None:
        """Start a pan (left/middle) or a window/level drag (right, or Ctrl+left)."""
        button = event.button()
        ctrl = bool(event.modifiers() & Qt.KeyboardModifier.ControlModifier)
        if self._raw is None or self._drag is not None:
            event.accept()
            return
        if button == Qt.MouseButton.RightButton or (button == Qt.MouseButton.LeftButton and ctrl):
            mode, cursor = "window", Qt.CursorShape.SizeAllCursor
        elif button in (Qt.MouseButton.LeftButton, Qt.MouseButton.MiddleButton):
            mode, cursor = "pan", Qt.CursorShape.ClosedHandCursor
        else:
            super().mousePressEvent(event)
            return
        scroll = (self.horizontalScrollBar().value(), self.verticalScrollBar().value())
        self._drag = _Drag(mode, button, event.position(), self.window(), scroll)
        self.viewport().setCursor(cursor)
        event.accept()

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        """Pan at once; queue window/level for the next frame."""
        drag = self._drag
        if drag is None:
            super().mouseMoveEvent(event)
            return
        d = event.position() - drag.start
        if drag.mode == "pan":
            if d.manhattanLength() > 0:
                self._fit_mode = False
            self.horizontalScrollBar().setValue(drag.scroll[0] - round(d.x()))
            self.verticalScrollBar().setValue(drag.scroll[1] - round(d.y()))
        else:
            step = max(self._raw_hi - self._raw_lo, 1e-6) / _WL_DRAG_PIXELS
            # Right widens, down raises the level (darker), as in most PACS viewers.
            self._pending = (drag.window[0] + d.y() * step, drag.window[1] + d.x() * step)
            if not self._timer.isActive():
                self._timer.start()
        event.accept()

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        """End the drag, applying any window still waiting for its frame."""
        if self._drag is not None and event.button() == self._drag.button:
            self._drag = None
            self.viewport().unsetCursor()
            self._apply_pending()
        event.accept()

    def mouseDoubleClickEvent(self, event: QMouseEvent) -> None:
        """Double left-click fits the image."""
        if event.button() == Qt.MouseButton.LeftButton and not event.modifiers():
            self.fit()
        event.accept()

    def _apply_pending(self) -> None:
        self._timer.stop()
        if self._pending is not None:
            pending, self._pending = self._pending, None
            self.set_window(*pending)
