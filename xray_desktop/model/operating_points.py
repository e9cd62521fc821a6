"""The one place operating points come from: the model card's validation, or a site profile.

The CLI (and later the GUI and the records) ask a source for "the available operating
points, their figures, and where those figures come from"; nothing else should read
thresholds from the card or a profile directly. Pure: no Qt, no TensorFlow.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from xray_desktop.decision import RocTable
from xray_desktop.model.card import ModelCard
from xray_desktop.model.site_profile import ProfileError, SiteProfile

CARD, SITE = "card", "site"


@dataclass(frozen=True)
class SourcedPoint:
    """A named threshold with its figures and the words that say where they come from."""

    name: str
    threshold: float
    sensitivity: float
    specificity: float
    sensitivity_ci: tuple[float, float] | None  # None where the source gives none
    specificity_ci: tuple[float, float] | None
    origin: str  # "validation (training source), n = 784" or "site (n = 312)"
    kind: str  # CARD or SITE
    profile_id: str = ""  # the site profile's id; "" for the card


class PointSource(Protocol):
    """What every operating-point source answers."""

    kind: str
    origin: str
    model_sha256: str
    profile_id: str

    def points(self) -> list[SourcedPoint]: ...
    def point(self, name: str | None = None) -> SourcedPoint: ...
    def roc_table(self) -> RocTable: ...


def _validation_n(card: ModelCard) -> int | None:
    val = card.data.get("training_data", {}).get("validation", {})
    n = val.get("images")
    return int(n) if isinstance(n, int | float) and not isinstance(n, bool) else None


def _sens_spec_ci(card: ModelCard, name: str) -> tuple[tuple[float, float] | None, tuple[float, float] | None]:
    """The card's CIs, which it gives only for its default point."""
    if name != card.default_operating_point:
        return None, None
    val = card.data.get("validation", {})
    try:
        return tuple(val["sensitivity"]["ci95"]), tuple(val["specificity"]["ci95"])  # type: ignore[return-value]
    except (KeyError, TypeError):
        return None, None


class CardPoints:
    """Operating points of the model card: validation figures from the training source."""

    kind = CARD
    profile_id = ""

    def __init__(self, card: ModelCard) -> None:
        self.card = card
        self.model_sha256 = card.sha256
        n = _validation_n(card)
        self.origin = "validation (training source)" + (f", n = {n}" if n else "")

    def _sourced(self, name: str | None) -> SourcedPoint:
        op = self.card.operating_point(name)
        s_ci, p_ci = _sens_spec_ci(self.card, op.name)
        return SourcedPoint(op.name, op.threshold, op.sensitivity, op.specificity, s_ci, p_ci, self.origin, CARD)

    def points(self) -> list[SourcedPoint]:
        return [self._sourced(op.name) for op in self.card.operating_points()]

    def point(self, name: str | None = None) -> SourcedPoint:
        return self._sourced(name)

    def roc_table(self) -> RocTable:
        return self.card.roc_table()


class SitePoints:
    """Operating points of a site profile, for the model it was made for (refused otherwise)."""

    kind = SITE

    def __init__(self, profile: SiteProfile, card: ModelCard) -> None:
        profile.check_model(card.sha256)
        self.profile = profile
        self.model_sha256 = card.sha256
        self.profile_id = profile.profile_id
        self.origin = f"site (n = {profile.n})"

    def _sourced(self, name: str | None) -> SourcedPoint:
        p = self.profile.point(name)
        return SourcedPoint(p.name, p.threshold, p.sensitivity, p.specificity, p.sensitivity_ci, p.specificity_ci,
                            self.origin, SITE, self.profile_id)

    def points(self) -> list[SourcedPoint]:
        return [self._sourced(p.name) for p in self.profile.points()]

    def point(self, name: str | None = None) -> SourcedPoint:
        return self._sourced(name)

    def roc_table(self) -> RocTable:
        return self.profile.roc_table()


def source_for(card: ModelCard, profile_path: Path | None = None) -> PointSource:
    """The card's points, or those of the site profile at ``profile_path`` (raises ProfileError)."""
    if profile_path is None:
        return CardPoints(card)
    return SitePoints(SiteProfile.load(profile_path), card)


def describe(point: SourcedPoint) -> str:
    """'sensitivity 95.0 % (93.1–96.7 %), specificity … — site (n = 312)' for people."""

    def pct(x: float) -> str:
        return "—" if not math.isfinite(x) else f"{x * 100:.1f} %"

    def with_ci(x: float, ci: tuple[float, float] | None) -> str:
        if ci is None or not all(math.isfinite(c) for c in ci):
            return pct(x)
        return f"{pct(x)} ({ci[0] * 100:.1f}–{ci[1] * 100:.1f} %)"

    return (f"sensitivity {with_ci(point.sensitivity, point.sensitivity_ci)}, specificity "
            f"{with_ci(point.specificity, point.specificity_ci)} — {point.origin}")


__all__ = ["CARD", "SITE", "CardPoints", "PointSource", "ProfileError", "SitePoints", "SourcedPoint", "describe",
           "source_for"]
