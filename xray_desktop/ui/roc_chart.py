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

FPR_MIN = 1e-3  # the log axis starts at 0.1 %; smaller rates (0 included) are drawn on its edge
X_TICKS = (0.001, 0.01, 0.1, 1.0)
X_TITLE = ("false-positive rate (1 − specificity), log scale", "false-positive rate, log scale")
GRID = QColor(58, 61, 68)
TEXT = QColor(170, 174, 182)
CURVE_COLOURS = (QColor(74, 144, 217), QColor(120, 200, 130), QColor(200, 120, 220))


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
        self._ops: list[tuple[str, float, float]] = []
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
        self.curves = [c for c in self.curves if c.name != "validation"]
        if card is None:
            self._ops, self.current = [], None
        else:
            _t, sens, spec = card.roc_points()
            pts = sorted(zip((1 - spec).tolist(), sens.tolist(), strict=True))
            self.curves.insert(0, Curve("validation", [p[0] for p in pts], [p[1] for p in pts], CURVE_COLOURS[0]))
            self._ops = [(op.name, 1 - op.specificity, op.sensitivity) for op in card.operating_points()]
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
        p.setPen(Qt.PenStyle.NoPen)
        p.setBrush(QColor(160, 165, 175))
        for _name, x, y in self._ops:
            p.drawEllipse(self.to_screen(x, y), 3.5, 3.5)
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
