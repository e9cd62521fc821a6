"""The ROC chart of the AI panel: log-scale false-positive axis, ticks, labels, the current point.

Drawn with QPainter (no chart library is in use). The false-positive rate runs on a log
axis from 0.1 % to 100 %, because with a validation AUC near 1 the whole useful part of
the curve sits in its first percent; a linear axis showed a single corner. The chart
takes several curves (the card's validation, later a site's own reads), each named in
a legend.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QPointF, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QPainter, QPainterPath, QPen
from PySide6.QtWidgets import QSizePolicy, QWidget

from xray_desktop.model.operating_points import CardPoints

FPR_MIN = 1e-3  # the log axis starts at 0.1 %; smaller rates (0 included) are drawn on its edge
X_TICKS = (0.001, 0.01, 0.1, 1.0)
X_TITLE = ("false-positive rate (1 − specificity), log scale", "false-positive rate, log scale")
GRID = QColor(58, 61, 68)
TEXT = QColor(170, 174, 182)
CURVE_COLOURS = (QColor(74, 144, 217), QColor(120, 200, 130), QColor(200, 120, 220))
POINT_GREY = QColor(160, 165, 175)  # the card's operating points
SITE_COLOUR = CURVE_COLOURS[1]  # a site's curve and points


@dataclass
class Marker:
    """An operating point drawn on the chart (a dot; ``diamond`` for a site's own point)."""

    name: str
    fpr: float
    tpr: float
    colour: QColor
    diamond: bool = False


@dataclass
class Curve:
    """One ROC curve: false-positive rates and sensitivities, in threshold order."""

    name: str
    fpr: list[float]
    tpr: list[float]
    colour: QColor


def _pct_tick(x: float) -> str:
    return f"{x * 100:g} %"


def point_text(fpr: float, tpr: float) -> str:
    """The current point in words: "FPR 2.5 % · sensitivity 95.0 %" (people read the numbers, not pixels)."""
    rate = "< 0.1 %" if fpr < FPR_MIN else f"{fpr * 100:.1f} %"
    return f"FPR {rate} · sensitivity {tpr * 100:.1f} %"


class RocChart(QWidget):
    """ROC chart: sensitivity (linear, optionally zoomed to 80–100 %) against log false-positive rate."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.curves: list[Curve] = []
        self.markers: list[Marker] = []
        self.current: tuple[float, float] | None = None  # (fpr, tpr)
        self.zoomed = True  # sensitivity axis 80–100 % (where the operating points are), else 0–100 %
        self.setMinimumSize(240, 200)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        self.setToolTip("ROC on the model card's validation set (log false-positive axis).\n"
                        "The orange dot is the current threshold; grey dots are the presets.\n"
                        "Double-click: sensitivity axis 80–100 % or 0–100 %.")

    def sizeHint(self) -> QSize:
        return QSize(320, 250)

    def heightForWidth(self, w: int) -> int:
        return max(200, min(int(w * 0.75), 300))

    def hasHeightForWidth(self) -> bool:
        return True

    # -- data -----------------------------------------------------------------------------
    def set_card(self, card: Any) -> None:
        """Show the card's validation curve and its operating points (None clears)."""
        self.set_sources(CardPoints(card) if card is not None else None)

    def set_sources(self, card_source: Any, site_source: Any = None) -> None:
        """Validation curve and points of ``card_source``; a site profile's over it (None clears all).

        Both are :class:`~xray_desktop.model.operating_points.PointSource`: the chart draws
        what they give, never reading a card or a profile itself.
        """
        self.curves, self.markers = [], []
        if card_source is None:
            self.current = None
            self.update()
            return
        for src, name, colour in ((card_source, "validation", CURVE_COLOURS[0]),
                                  (site_source, getattr(site_source, "origin", ""), SITE_COLOUR)):
            if src is None:
                continue
            table = src.roc_table()
            pts = sorted(zip((1 - table.specificity).tolist(), table.sensitivity.tolist(), strict=True))
            self.curves.append(Curve(name, [p[0] for p in pts], [p[1] for p in pts], colour))
            site = src is site_source
            self.markers += [Marker(p.name, 1 - p.specificity, p.sensitivity, SITE_COLOUR if site else POINT_GREY,
                                    diamond=site) for p in src.points()]
        self.setToolTip(("ROC of the site's profile over the card's validation ROC" if site_source is not None
                         else "ROC on the model card's validation set") + " (log false-positive axis).\n"
                        "The orange dot is the current threshold; grey dots are the card's presets, "
                        "green diamonds the site's.\nDouble-click: sensitivity axis 80–100 % or 0–100 %.")
        self.update()

    def add_marker(self, name: str, fpr: float, tpr: float, colour: QColor, diamond: bool = False) -> None:
        """An operating point of one's own (e.g. a site report's measured points)."""
        self.markers.append(Marker(name, fpr, tpr, colour, diamond))
        self.update()

    def clear(self) -> None:
        """No curve, no point."""
        self.curves, self.markers, self.current = [], [], None
        self.update()

    def add_curve(self, name: str, fpr: list[float], tpr: list[float]) -> None:
        """A further curve (e.g. this site's reads), drawn in the next colour and named in the legend."""
        self.curves = [c for c in self.curves if c.name != name]
        colour = CURVE_COLOURS[len(self.curves) % len(CURVE_COLOURS)]
        pts = sorted(zip(fpr, tpr, strict=True))
        self.curves.append(Curve(name, [p[0] for p in pts], [p[1] for p in pts], colour))
        self.update()

    def set_current(self, sensitivity: float, specificity: float) -> None:
        self.current = (1 - specificity, sensitivity)
        self.update()

    def set_zoomed(self, on: bool) -> None:
        self.zoomed = bool(on)
        self.update()

    def mouseDoubleClickEvent(self, event: Any) -> None:
        self.set_zoomed(not self.zoomed)
        event.accept()

    # -- geometry -------------------------------------------------------------------------
    def plot_rect(self) -> QRectF:
        fm = self.fontMetrics()
        left = fm.horizontalAdvance("100 %") + fm.height() + 10
        bottom = 2 * fm.height() + 8
        right = fm.horizontalAdvance("100 %") / 2 + 4  # room for the last tick label
        return QRectF(left, 8, max(self.width() - left - right, 40), max(self.height() - bottom - 8, 40))

    def _y_range(self) -> tuple[float, float]:
        return (0.8, 1.0) if self.zoomed else (0.0, 1.0)

    def to_screen(self, fpr: float, tpr: float) -> QPointF:
        """Where a (false-positive rate, sensitivity) point is drawn."""
        plot = self.plot_rect()
        lx = (math.log10(max(fpr, FPR_MIN)) - math.log10(FPR_MIN)) / -math.log10(FPR_MIN)
        lo, hi = self._y_range()
        ly = (min(max(tpr, lo), hi) - lo) / (hi - lo)
        return QPointF(plot.left() + lx * plot.width(), plot.bottom() - ly * plot.height())

    # -- painting -------------------------------------------------------------------------
    def paintEvent(self, _event: Any) -> None:
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        plot = self.plot_rect()
        fm = p.fontMetrics()
        p.fillRect(plot, QColor(18, 19, 21))
        lo, hi = self._y_range()
        step = 0.05 if self.zoomed else 0.2
        y_ticks = [lo + i * step for i in range(round((hi - lo) / step) + 1)]
        p.setPen(QPen(GRID, 1))
        for x in X_TICKS:
            pt = self.to_screen(x, lo)
            p.drawLine(QPointF(pt.x(), plot.top()), QPointF(pt.x(), plot.bottom()))
        for y in y_ticks:
            pt = self.to_screen(FPR_MIN, y)
            p.drawLine(QPointF(plot.left(), pt.y()), QPointF(plot.right(), pt.y()))
        p.setPen(TEXT)
        for x in X_TICKS:
            pt = self.to_screen(x, lo)
            p.drawText(QRectF(pt.x() - 30, plot.bottom() + 2, 60, fm.height()), Qt.AlignmentFlag.AlignCenter,
                       _pct_tick(x))
        for y in y_ticks:
            pt = self.to_screen(FPR_MIN, y)
            p.drawText(QRectF(fm.height(), pt.y() - fm.height() / 2, plot.left() - 4 - fm.height(), fm.height()),
                       Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter, f"{round(y * 100)} %")
        p.drawText(QRectF(plot.left(), plot.bottom() + fm.height() + 2, plot.width(), fm.height()),
                   Qt.AlignmentFlag.AlignCenter, X_TITLE[plot.width() < 300])
        p.save()
        p.translate(fm.height() / 2 + 2, plot.center().y())
        p.rotate(-90)
        p.drawText(QRectF(-plot.height() / 2, -fm.height() / 2, plot.height(), fm.height()),
                   Qt.AlignmentFlag.AlignCenter, "sensitivity")
        p.restore()
        p.setClipRect(plot.adjusted(-6, -6, 6, 6))
        for i, c in enumerate(self.curves):
            if not c.fpr:
                continue
            path = QPainterPath(self.to_screen(FPR_MIN, 0.0 if not c.tpr else min(c.tpr)))
            for x, y in zip(c.fpr, c.tpr, strict=True):
                path.lineTo(self.to_screen(x, y))
            path.lineTo(self.to_screen(1.0, 1.0))
            p.setPen(QPen(c.colour, 2))
            p.setBrush(Qt.BrushStyle.NoBrush)
            p.drawPath(path)
            if len(self.curves) > 1:  # a legend only when there is something to tell apart
                p.drawText(QRectF(plot.right() - 120, plot.bottom() - (i + 1) * (fm.height() + 2) - 2, 116,
                                  fm.height()), Qt.AlignmentFlag.AlignRight, c.name)
        p.setPen(QPen(QColor(20, 20, 20), 1))
        for m in self.markers:
            if not (math.isfinite(m.fpr) and math.isfinite(m.tpr)):
                continue
            p.setBrush(m.colour)
            c = self.to_screen(m.fpr, m.tpr)
            if m.diamond:
                p.drawPolygon([QPointF(c.x(), c.y() - 6), QPointF(c.x() + 6, c.y()), QPointF(c.x(), c.y() + 6),
                               QPointF(c.x() - 6, c.y())])
            else:
                p.drawEllipse(c, 3.5, 3.5)
        if self.current is not None:
            cur = self.to_screen(*self.current)
            p.setBrush(QColor(240, 180, 90))
            p.setPen(QPen(QColor(20, 20, 20), 1))
            p.drawEllipse(cur, 6, 6)
            text = point_text(*self.current)
            w = fm.horizontalAdvance(text) + 8
            x = min(max(cur.x() + 8, plot.left() + 2), plot.right() - w - 2)
            y = min(max(cur.y() + 8, plot.top() + 2), plot.bottom() - fm.height() - 4)
            box = QRectF(x, y, w, fm.height() + 2)
            p.fillRect(box, QColor(0, 0, 0, 170))
            p.setPen(QColor(240, 200, 130))
            p.drawText(box, Qt.AlignmentFlag.AlignCenter, text)
        p.end()
