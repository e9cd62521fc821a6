"""The site window's two small plots: reliability diagram and probability histograms (QPainter).

Same look as the ROC chart (``roc_chart.py``): dark plot area, grey grid, named series.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QPointF, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QPainter, QPen
from PySide6.QtWidgets import QSizePolicy, QWidget

from xray_desktop.ui.roc_chart import CURVE_COLOURS, GRID, SITE_COLOUR, TEXT

VALIDATION_COLOUR = CURVE_COLOURS[0]


class _Axes(QWidget):
    """Linear axes 0..1 (x) by 0..y_max (y), a title, axis names and a legend."""

    def __init__(self, title: str, x_title: str, y_title: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.title, self.x_title, self.y_title = title, x_title, y_title
        self.y_max = 1.0
        self.legend: list[tuple[str, QColor]] = []
        self.setMinimumSize(260, 210)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)

    def sizeHint(self) -> QSize:
        return QSize(340, 250)

    def plot_rect(self) -> QRectF:
        fm = self.fontMetrics()
        left = fm.horizontalAdvance("0.00") + fm.height() + 10
        return QRectF(left, fm.height() + 10, max(self.width() - left - 12, 40),
                      max(self.height() - 3 * fm.height() - 18, 40))

    def to_screen(self, x: float, y: float) -> QPointF:
        r = self.plot_rect()
        y = min(max(y, 0.0), self.y_max)
        return QPointF(r.left() + min(max(x, 0.0), 1.0) * r.width(), r.bottom() - y / self.y_max * r.height())

    def paintEvent(self, _event: Any) -> None:
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        r, fm = self.plot_rect(), p.fontMetrics()
        p.fillRect(r, QColor(18, 19, 21))
        p.setPen(QPen(GRID, 1))
        for i in range(6):
            a, b = self.to_screen(i / 5, 0), self.to_screen(0, self.y_max * i / 5)
            p.drawLine(QPointF(a.x(), r.top()), QPointF(a.x(), r.bottom()))
            p.drawLine(QPointF(r.left(), b.y()), QPointF(r.right(), b.y()))
        p.setPen(TEXT)
        p.drawText(QRectF(r.left(), 2, r.width(), fm.height()), Qt.AlignmentFlag.AlignLeft, self.title)
        for i in range(6):
            a, b = self.to_screen(i / 5, 0), self.to_screen(0, self.y_max * i / 5)
            p.drawText(QRectF(a.x() - 20, r.bottom() + 2, 40, fm.height()), Qt.AlignmentFlag.AlignCenter,
                       f"{i / 5:.1f}")
            p.drawText(QRectF(fm.height(), b.y() - fm.height() / 2, r.left() - fm.height() - 4, fm.height()),
                       Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter, f"{self.y_max * i / 5:.2f}")
        p.drawText(QRectF(r.left(), r.bottom() + fm.height() + 2, r.width(), fm.height()),
                   Qt.AlignmentFlag.AlignCenter, self.x_title)
        p.save()
        p.translate(fm.height() / 2 + 2, r.center().y())
        p.rotate(-90)
        p.drawText(QRectF(-r.height() / 2, -fm.height() / 2, r.height(), fm.height()), Qt.AlignmentFlag.AlignCenter,
                   self.y_title)
        p.restore()
        p.setClipRect(r.adjusted(-4, -4, 4, 4))
        self.draw(p)
        for i, (name, colour) in enumerate(self.legend):
            p.setPen(colour)
            p.drawText(QRectF(r.left() + 6, r.top() + 4 + i * (fm.height() + 2), r.width() - 12, fm.height()),
                       Qt.AlignmentFlag.AlignLeft, name)
        p.end()

    def draw(self, p: QPainter) -> None:
        """The data (subclasses)."""


class ReliabilityChart(_Axes):
    """Observed PNEUMONIA rate against mean AI probability per bin, with 95 % whiskers, over the diagonal."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Reliability (site)", "mean AI probability", "observed PNEUMONIA rate", parent)
        self.bins: list[dict[str, Any]] = []
        self.legend = [("perfect calibration", TEXT), ("site, 95 % CI", SITE_COLOUR)]

    def set_bins(self, bins: list[dict[str, Any]]) -> None:
        """The report's ``calibration.bins`` (empty bins are skipped)."""
        self.bins = [b for b in bins if b.get("n") and b.get("mean_predicted") is not None]
        self.update()

    def draw(self, p: QPainter) -> None:
        p.setPen(QPen(TEXT, 1, Qt.PenStyle.DashLine))
        p.drawLine(self.to_screen(0, 0), self.to_screen(1, 1))
        for b in self.bins:
            x, y = b["mean_predicted"], b["observed"]
            lo, hi = b.get("observed_ci") or (None, None)
            p.setPen(QPen(SITE_COLOUR, 1))
            if lo is not None and hi is not None:
                p.drawLine(self.to_screen(x, lo), self.to_screen(x, hi))
            p.setBrush(SITE_COLOUR)
            p.setPen(QPen(QColor(20, 20, 20), 1))
            p.drawEllipse(self.to_screen(x, y), 3 + min(b["n"], 400) / 100, 3 + min(b["n"], 400) / 100)


class HistogramChart(_Axes):
    """Fraction of films per AI-probability bin: site against validation, side by side (drift)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("AI probability: site vs validation", "AI probability", "fraction of films", parent)
        self.site: dict[str, Any] | None = None
        self.validation: dict[str, Any] | None = None

    def set_histograms(self, hists: dict[str, Any]) -> None:
        """The report's ``drift.probability`` ({"site": {...}, "validation": {...}?})."""
        self.site, self.validation = hists.get("site"), hists.get("validation")
        fracs = [f for h in (self.site, self.validation) if h for f in h["fraction"] if f is not None]
        self.y_max = min(1.0, max(fracs, default=1.0) * 1.15) or 1.0
        self.legend = ([("validation", VALIDATION_COLOUR)] if self.validation else []) + [("site", SITE_COLOUR)]
        self.update()

    def draw(self, p: QPainter) -> None:
        if not self.site:
            return
        edges = self.site["edges"]
        p.setPen(Qt.PenStyle.NoPen)
        for i in range(len(edges) - 1):
            a, b = edges[i], edges[i + 1]
            mid = (a + b) / 2 if self.validation else a
            if self.validation:
                p.setBrush(VALIDATION_COLOUR)
                p.drawRect(QRectF(self.to_screen(a, self.validation["fraction"][i]), self.to_screen(mid, 0)))
            p.setBrush(SITE_COLOUR)
            p.drawRect(QRectF(self.to_screen(mid, self.site["fraction"][i]), self.to_screen(b, 0)))
