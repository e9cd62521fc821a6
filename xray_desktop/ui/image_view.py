"""The centre viewer: a zoomable, pannable, re-windowable film with a heat-map overlay.

Mouse: wheel zooms about the cursor, left-drag pans, right-drag (or Ctrl+left-drag) sets
window/level (horizontal = width, vertical = level, scaled to the data range), double-click
fits. Re-windowing is vectorised numpy into a Grayscale8 QImage; drags are coalesced on a
16 ms timer so a slow frame never lets mouse moves pile up. The mouse handling is the
``ImageMouse`` mixin (``image_mouse.py``).
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPointF, QRectF, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QImage, QPainter, QPixmap, QResizeEvent, QTransform
from PySide6.QtWidgets import QFrame, QGraphicsPixmapItem, QGraphicsScene, QGraphicsView, QWidget

from xray_desktop import settings as keys
from xray_desktop.domain import Study
from xray_desktop.ui.colormap import (
    ColorLegend,
    ModelInputView,
    file_window_presets,
    gray_qimage,
    heatmap_rgba,
    span_window,
    window_to_uint8,
)
from xray_desktop.ui.image_mouse import ImageMouse, _Drag

__all__ = ["ColorLegend", "ImageView", "ModelInputView", "heatmap_rgba", "window_to_uint8"]

MIN_SCALE, MAX_SCALE = 0.02, 40.0
DEFAULT_HEAT_OPACITY = keys.HEATMAP_OPACITY[1]  # one default, declared in settings.py
_FRAME_MS = 16  # one re-window per display frame at most while dragging
_BACKGROUND = QColor("#111111")
_AUTO_PERCENTILES = (0.5, 99.5)


class ImageView(ImageMouse, QGraphicsView):
    """Shows one study; emits ``window_changed`` and ``zoom_changed`` as the reader works."""

    window_changed = Signal(float, float)  # center, width in raw units
    zoom_changed = Signal(float)  # scale factor, 1.0 == one image pixel per screen pixel

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setScene(QGraphicsScene(self))
        self._image_item = QGraphicsPixmapItem()
        self._heat_item = QGraphicsPixmapItem()
        for z, item in enumerate((self._image_item, self._heat_item)):
            item.setTransformationMode(Qt.TransformationMode.SmoothTransformation)
            item.setZValue(z)
            self.scene().addItem(item)
        self._heat_item.setVisible(False)
        self._heat_item.setOpacity(DEFAULT_HEAT_OPACITY)
        self.setBackgroundBrush(_BACKGROUND)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.NoAnchor)  # zoom_by anchors itself
        self.setResizeAnchor(QGraphicsView.ViewportAnchor.NoAnchor)
        # Full updates: the corner text is in viewport space, so scroll-blitting would smear it.
        self.setViewportUpdateMode(QGraphicsView.ViewportUpdateMode.FullViewportUpdate)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setContextMenuPolicy(Qt.ContextMenuPolicy.PreventContextMenu)  # right-drag is W/L
        self._study: Study | None = None
        self._raw: np.ndarray | None = None
        self._raw_lo = self._raw_hi = 0.0
        self._study_inverts = False
        self._default = (0.0, 1.0)
        self._auto: tuple[float, float] | None = None
        self._center, self._width = 0.0, 1.0
        self._user_invert = False
        self._buf: np.ndarray | None = None  # backs the QImage: QImage does not own numpy memory
        self._qimage: QImage | None = None
        self._image_rect = QRectF()
        self._heat: np.ndarray | None = None
        self._heat_buf: np.ndarray | None = None
        self._heat_visible = True
        self._overlays_hidden = False
        self._fit_mode = True
        self._drag: _Drag | None = None
        self._pending: tuple[float, float] | None = None
        self._timer = QTimer(self, singleShot=True, interval=_FRAME_MS)
        self._timer.timeout.connect(self._apply_pending)

    # ----------------------------------------------------------------- study & window
    def study(self) -> Study | None:
        """The study on show, if any."""
        return self._study

    def set_study(self, study: Study | None) -> None:
        """Show ``study`` fitted to the view with its own window; None clears the view.

        Any heat map is dropped too: it belongs to the previous patient.
        """
        self._drag, self._pending = None, None
        self._timer.stop()
        self.viewport().unsetCursor()
        self._study, self._auto, self._user_invert = study, None, False
        self.set_heatmap(None)
        if study is None:
            self._raw = self._buf = self._qimage = None
            self._image_item.setPixmap(QPixmap())
            self._image_rect = QRectF()
            self.setSceneRect(QRectF(0, 0, 1, 1))
            self.viewport().update()
            return
        # Without modality values, the presentation pixels stand in (already polarity-correct).
        has_raw = study.raw is not None
        raw = study.raw if has_raw else study.pixels * np.float32(255.0)
        raw = np.ascontiguousarray(raw, dtype=np.float32)
        if raw.ndim != 2 or raw.size == 0:
            raise ValueError(f"study image must be a non-empty 2-D array, got shape {raw.shape}")
        self._raw = raw
        self._raw_lo, self._raw_hi = float(np.nanmin(raw)), float(np.nanmax(raw))
        self._study_inverts = bool(study.inverted) and has_raw
        if has_raw and study.window is not None and study.window[1] > 0:
            self._default = (float(study.window[0]), float(study.window[1]))
        else:
            self._default = span_window(*((self._raw_lo, self._raw_hi) if has_raw else (0.0, 255.0)))
        self._center, self._width = self._default
        self._image_rect = QRectF(0, 0, raw.shape[1], raw.shape[0])
        self._render()
        self.fit()
        self.window_changed.emit(self._center, self._width)

    def window(self) -> tuple[float, float]:
        """Current (center, width) in raw units."""
        return self._center, self._width

    def set_window(self, center: float, width: float) -> None:
        """Re-window now and emit ``window_changed`` (no-op without a study or a change)."""
        if self._raw is None:
            return
        width = max(float(width), self._min_width())
        if (float(center), width) == (self._center, self._width):
            return
        self._center, self._width = float(center), width
        self._render()
        self.window_changed.emit(self._center, self._width)

    def _min_width(self) -> float:
        return max((self._raw_hi - self._raw_lo) / 4096.0, 1e-6)

    def window_presets(self) -> list[tuple[str, float, float]]:
        """Named windows for this study: file default, auto, the file's extras, full range."""
        if self._study is None or self._raw is None:
            return []
        presets = [("Default (file)", *self._default), ("Auto (percentiles)", *self._auto_window())]
        presets += file_window_presets(self._study.tags) if self._study.raw is not None else []
        presets.append(("Full range", *span_window(self._raw_lo, self._raw_hi)))
        return presets

    def apply_preset(self, name: str) -> None:
        """Apply the preset called ``name`` (one of ``window_presets()``); KeyError if unknown."""
        for preset, center, width in self.window_presets():
            if preset == name:
                self.set_window(center, width)
                return
        raise KeyError(name)

    def auto_window(self) -> None:
        """Window from the 0.5th to the 99.5th percentile of the data, ignoring outliers."""
        if self._raw is not None:
            self.set_window(*self._auto_window())

    def _auto_window(self) -> tuple[float, float]:
        if self._auto is None and self._raw is not None:
            step = max(1, int(np.sqrt(self._raw.size / 1_000_000)))  # ~1 Mpx sample keeps it fast
            lo, hi = np.nanpercentile(self._raw[::step, ::step], _AUTO_PERCENTILES)
            self._auto = span_window(float(lo), float(hi))
        return self._auto or self._default

    def inverted(self) -> bool:
        """Whether the reader has inverted the display (independent of MONOCHROME1)."""
        return self._user_invert

    def set_inverted(self, on: bool) -> None:
        """Invert the grey scale on top of the study's own polarity."""
        if bool(on) != self._user_invert:
            self._user_invert = bool(on)
            self._render()

    def toggle_invert(self) -> None:
        """Flip the reader's invert."""
        self.set_inverted(not self._user_invert)

    def _render(self) -> None:
        if self._raw is None:
            return
        invert = self._study_inverts != self._user_invert
        self._buf = window_to_uint8(self._raw, self._center, self._width, invert)
        self._qimage = gray_qimage(self._buf)
        self._image_item.setPixmap(QPixmap.fromImage(self._qimage))
        self.viewport().update()

    # ------------------------------------------------------------------------- heat map
    def set_heatmap(self, heatmap: np.ndarray | None) -> None:
        """Overlay a [0, 1] heat map of any resolution, stretched over the image; None removes it."""
        self._heat = None if heatmap is None else np.asarray(heatmap, dtype=np.float32)
        if self._heat is None:
            self._heat_buf = None
            self._heat_item.setPixmap(QPixmap())
        else:
            # Full alpha here; the opacity slider only changes the item's opacity (no recolouring).
            self._heat_buf = np.ascontiguousarray(heatmap_rgba(self._heat, 1.0))
            h, w = self._heat_buf.shape[:2]
            img = QImage(self._heat_buf.data, w, h, w * 4, QImage.Format.Format_RGBA8888)
            self._heat_item.setPixmap(QPixmap.fromImage(img))
            if not self._image_rect.isEmpty():
                sx, sy = self._image_rect.width() / w, self._image_rect.height() / h
                self._heat_item.setTransform(QTransform.fromScale(sx, sy))
        self._sync_overlays()

    def has_heatmap(self) -> bool:
        """Whether a heat map is loaded (shown or not)."""
        return self._heat is not None

    def heatmap_visible(self) -> bool:
        """The reader's heat-map setting (unaffected by a temporary hide)."""
        return self._heat_visible

    def set_heatmap_visible(self, on: bool) -> None:
        """Show or hide the heat map."""
        self._heat_visible = bool(on)
        self._sync_overlays()

    def heatmap_opacity(self) -> float:
        """Heat-map opacity, 0..1."""
        return self._heat_item.opacity()

    def set_heatmap_opacity(self, opacity: float) -> None:
        """Set the heat-map opacity, clipped to 0..1."""
        self._heat_item.setOpacity(float(np.clip(opacity, 0.0, 1.0)))
        self.viewport().update()

    def set_overlays_hidden(self, hidden: bool) -> None:
        """Hide heat map and corner text for a moment (Space held) without changing settings."""
        self._overlays_hidden = bool(hidden)
        self._sync_overlays()

    def _sync_overlays(self) -> None:
        show = self._heat is not None and self._heat_visible and not self._overlays_hidden
        self._heat_item.setVisible(show)
        self.viewport().update()

    # --------------------------------------------------------------------------- zoom
    def scale_factor(self) -> float:
        """Screen pixels per image pixel."""
        return self.transform().m11()

    def fit(self) -> None:
        """Fit the whole image to the view, and keep fitting as the view resizes."""
        self._fit_mode = True
        if self._image_rect.isEmpty():
            return
        vp = self.viewport().size()
        s = min(vp.width() / self._image_rect.width(), vp.height() / self._image_rect.height())
        self._set_scale(s, self._image_rect.center())

    def one_to_one(self) -> None:
        """One image pixel per screen pixel, about the view centre."""
        self._fit_mode = False
        if not self._image_rect.isEmpty():
            self._set_scale(1.0, self._view_center())

    def reset(self) -> None:
        """Fit, the study's own window, no invert."""
        if self._raw is None:
            return
        was_inverted, self._user_invert = self._user_invert, False
        if self.window() != self._default:
            self.set_window(*self._default)  # renders, with the invert already cleared
        elif was_inverted:
            self._render()
        self.fit()

    def zoom_by(self, factor: float, anchor: QPointF | None = None) -> None:
        """Zoom by ``factor`` keeping the scene point under ``anchor`` (viewport px) in place."""
        if self._image_rect.isEmpty() or factor <= 0:
            return
        old = self.scale_factor()
        new = float(np.clip(old * factor, MIN_SCALE, MAX_SCALE))
        if new == old:
            return
        vp_center = QPointF(self.viewport().width() / 2.0, self.viewport().height() / 2.0)
        anchor = vp_center if anchor is None else QPointF(anchor)
        inv, _ = self.viewportTransform().inverted()
        fixed = inv.map(anchor)
        self._fit_mode = False
        # The new centre puts `fixed` back under `anchor` at the new scale.
        self._set_scale(new, fixed - (anchor - vp_center) / new)

    def _view_center(self) -> QPointF:
        inv, _ = self.viewportTransform().inverted()
        return inv.map(QPointF(self.viewport().width() / 2.0, self.viewport().height() / 2.0))

    def _set_scale(self, s: float, center: QPointF) -> None:
        changed = s != self.scale_factor()
        self.setTransform(QTransform.fromScale(s, s))
        self._update_scene_rect(center)
        if changed:
            self.zoom_changed.emit(s)

    def _update_scene_rect(self, center: QPointF | None = None) -> None:
        # A margin of one viewport on every side lets any image point be panned anywhere,
        # and keeps the scrollbars' range positive so Qt never re-centres the scene itself.
        center = self._view_center() if center is None else center
        s = self.scale_factor()
        mx, my = self.viewport().width() / s, self.viewport().height() / s
        self.setSceneRect(self._image_rect.adjusted(-mx, -my, mx, my))
        self.centerOn(center)
        self.viewport().update()

    def resizeEvent(self, event: QResizeEvent) -> None:
        """Refit in fit mode; otherwise keep the same scene point centred."""
        # The viewport already has its new size here, so centre on the old size's middle.
        old = event.oldSize()
        inv, _ = self.viewportTransform().inverted()
        center = inv.map(QPointF(old.width() / 2.0, old.height() / 2.0)) if old.isValid() else None
        super().resizeEvent(event)
        if self._image_rect.isEmpty():
            return
        if self._fit_mode:
            self.fit()
        else:
            self._update_scene_rect(center)

    # ------------------------------------------------------------------------ drawing
    def drawForeground(self, painter: QPainter, rect: QRectF) -> None:
        """Corner read-out of window/level and zoom, in viewport coordinates."""
        super().drawForeground(painter, rect)
        if self._raw is None or self._overlays_hidden:
            return
        fmt = (lambda v: f"{v:.0f}") if self._raw_hi - self._raw_lo >= 100 else (lambda v: f"{v:.4g}")
        text = f"W {fmt(self._width)}  L {fmt(self._center)}  ·  {self.scale_factor() * 100:.0f}%"
        text += "  ·  INV" if self._user_invert else ""
        painter.save()
        painter.resetTransform()
        fm = painter.fontMetrics()
        box = QRectF(6, self.viewport().height() - fm.height() - 10, fm.horizontalAdvance(text) + 12, fm.height() + 4)
        painter.fillRect(box, QColor(0, 0, 0, 150))  # legible over bright bone
        painter.setPen(QColor(220, 220, 220))
        painter.drawText(box, Qt.AlignmentFlag.AlignCenter, text)
        painter.restore()
