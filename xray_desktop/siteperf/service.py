"""One site report from a reads database: what ``site-report --db`` and the GUI's window compute.

Pure (no Qt): the GUI runs :func:`site_result` on a worker thread, never on its own.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from xray_desktop.model import metrics
from xray_desktop.model.card import ModelCard
from xray_desktop.model.operating_points import SitePoints
from xray_desktop.model.site_profile import SiteProfile
from xray_desktop.records.store import Store
from xray_desktop.siteperf.data import Cases, cases_from_reads, changes_after_ai
from xray_desktop.siteperf.report import evaluate


@dataclass
class SiteResult:
    """A site report (None when the data cannot give one), its cases, the site ROC, or why not."""

    report: dict[str, Any] | None
    cases: Cases
    site_roc: list[dict[str, float]] = field(default_factory=list)  # threshold, sensitivity, specificity
    message: str = ""  # for a person, when there is no report


def cases_from_store(store: Store, card: ModelCard, since: date | None = None, reviewer: str | None = None,
                     read_first_only: bool = False) -> Cases:
    """The newest read of each study (superseded reads out, and counted), for the card's model.

    ``cases.read_first`` gets :func:`~xray_desktop.siteperf.data.changes_after_ai` of the same reads.
    """
    every = store.reads(latest_only=False)
    newest = {r.study_key: r for r in every}  # id order: each study's newest read
    latest = sorted(newest.values(), key=lambda r: r.id)
    cases = cases_from_reads(latest, card.sha256, since=since, reviewer=reviewer, read_first_only=read_first_only)
    if len(every) > len(latest):
        cases.excluded = {"earlier reads of the same study (superseded)": len(every) - len(latest), **cases.excluded}
    cases.read_first = changes_after_ai(every, since=since, reviewer=reviewer)
    return cases


def build_report(cases: Cases, card: ModelCard, profile: SiteProfile | None = None) -> dict[str, Any]:
    """Site vs validation figures at the card's points and at ``profile``'s (refused if for another model)."""
    site_points = SitePoints(profile, card).points() if profile is not None else []
    report = evaluate(cases, card, site_points)
    if profile is not None:
        report["site_profile"] = {"profile_id": profile.profile_id, "path": str(profile.path), "n": profile.n}
    if cases.read_first is not None:
        report["read_first"] = cases.read_first
    return report


def no_report_reason(cases: Cases) -> str:
    """Why these cases give no report ("" when they do): a report needs a PNEUMONIA and a NORMAL case."""
    if cases.n_positive and cases.n_negative:
        return ""
    left = "; left out: " + ", ".join(f"{v} {k}" for k, v in cases.excluded.items()) if cases.excluded else ""
    return (f"No site figures yet: {len(cases.y)} usable confirmed read{'s' if len(cases.y) != 1 else ''} "
            f"({cases.n_positive} PNEUMONIA, {cases.n_negative} NORMAL) with an AI probability from this model"
            f"{left}. The report needs at least one PNEUMONIA and one NORMAL read; its intervals stay wide "
            "below 50 of each.")


def site_result(store: Store, card: ModelCard, profile: SiteProfile | None = None) -> SiteResult:
    """Everything the GUI's "Site performance" window shows (no exception for an empty database)."""
    cases = cases_from_store(store, card)
    reason = no_report_reason(cases)
    if reason:
        return SiteResult(None, cases, [], reason)
    return SiteResult(build_report(cases, card, profile), cases, metrics.roc_table(cases.y, cases.prob))
