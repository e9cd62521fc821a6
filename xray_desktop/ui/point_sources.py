"""The AI panel's operating points: where they come from (the card or the site profile) and their presets.

A mixin of :class:`~xray_desktop.ui.prediction_panel.PredictionPanel`, kept apart so that
``prediction_panel.py`` stays about the verdict, the threshold and the figures on show. The
panel never reads a card or a profile itself: ``model.operating_points`` gives the points.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import Slot
from PySide6.QtWidgets import QPushButton

from xray_desktop.model.operating_points import CARD, SITE, PointSource, SitePoints, SourcedPoint

OP_TITLES = {"high-sensitivity": "High sensitivity", "balanced": "Balanced", "high-specificity": "High specificity"}


def point_id(point: SourcedPoint) -> str:
    """What the panel (and so each read) records as the operating point.

    The card's points by name ("balanced"); a site point with its profile, so a read says
    which profile was in force: "site:NAME@PROFILE_ID".
    """
    return point.name if point.kind == CARD else f"site:{point.name}@{point.profile_id}"


def point_title(point: SourcedPoint, source: PointSource) -> str:
    """The preset button's words: the card's titles, or a site point's own label ("Site: …")."""
    if point.kind == CARD:
        return OP_TITLES.get(point.name, point.name)
    label = ""
    if isinstance(source, SitePoints):
        label = str(source.profile.data["operating_points"].get(point.name, {}).get("label", ""))
    return label or f"Site: {point.name}"


class OperatingPoints:
    """Mixin: the point source in use, its preset buttons, jumping to a preset (see the module docstring)."""

    # Attributes and methods provided by PredictionPanel (declared for readers and type checkers).
    card: Any
    _sources: dict[str, PointSource]
    _kind: str
    _op_name: str
    source_combo: Any
    presets: Any
    preset_buttons: dict[str, QPushButton]
    roc: Any
    point_source_changed: Any
    _set: Callable[[float, str], None]

    # -- where the points and figures come from --------------------------------------------
    def source(self) -> PointSource:
        """The operating-point source in use (the card's until a model is loaded)."""
        return self._sources[self._kind]

    def source_kind(self) -> str:
        return self._kind

    def has_site_profile(self) -> bool:
        return SITE in self._sources

    def set_source(self, kind: str) -> None:
        """Use the card's or the site's points and figures, starting at that source's default point."""
        if kind not in self._sources or self.card is None:
            return
        self._use_source(kind)
        self.apply_operating_point(point_id(self.source().point()))
        self.point_source_changed.emit(kind)

    @Slot(int)
    def _on_source_combo_activated(self, index: int) -> None:
        kind = self.source_combo.itemData(index)
        if kind != self._kind:
            self.set_source(kind)

    def _use_source(self, kind: str) -> None:
        self._kind = kind
        self.source_combo.setCurrentIndex(max(self.source_combo.findData(kind), 0))
        for b in self.preset_buttons.values():
            self.presets.removeWidget(b)
            b.hide()
            b.deleteLater()
        self.preset_buttons = {}
        src = self.source()
        for p in src.points():
            b = QPushButton(point_title(p, src))
            b.setCheckable(True)
            b.setToolTip(f"Threshold {p.threshold:.4f}; figures from {p.origin}")
            b.clicked.connect(lambda _c=False, pid=point_id(p): self.apply_operating_point(pid))
            self.presets.addWidget(b)
            self.preset_buttons[point_id(p)] = b
        self.roc.set_sources(self._sources[CARD], self._sources.get(SITE) if kind == SITE else None)

    # -- presets ----------------------------------------------------------------------------
    def current_point(self) -> SourcedPoint | None:
        """The preset in use (None for a custom threshold)."""
        for p in self.source().points() if self._sources else []:
            if point_id(p) == self._op_name:
                return p
        return None

    def apply_operating_point(self, pid: str) -> None:
        """Jump to a preset: a card point by name, or a site point by :func:`point_id`."""
        for kind, src in self._sources.items():
            for p in src.points():
                if point_id(p) == pid:
                    if kind != self._kind:
                        self._use_source(kind)
                        self.point_source_changed.emit(kind)
                    self._set(p.threshold, pid)
                    return
