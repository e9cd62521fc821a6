"""Site figures side by side with the card's validation figures, as one JSON-ready dict.

``evaluate`` is shared by ``site-report`` and ``site-calibrate``; ``render_text`` turns its
result into the plain-text table both commands print. Pure: no Qt, no TensorFlow.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from xray_desktop.model import metrics
from xray_desktop.model.card import ModelCard
from xray_desktop.model.operating_points import CardPoints, SourcedPoint
from xray_desktop.siteperf.data import Cases, changes_text

MIN_FOR_NARROW_CI = 50  # below this many positives or negatives, say the intervals are wide
HIST_BINS = 20


def validation_scores(card: ModelCard) -> tuple[np.ndarray, np.ndarray] | None:
    """The validation probabilities of positives and negatives, rebuilt from the card's ROC table.

    The card tabulates every distinct validation probability t with the sensitivity and
    specificity of ``p >= t``; with the class sizes, the differences between consecutive
    rows are the number of films at each probability. None when the card lacks the sizes.
    """
    val = card.data.get("training_data", {}).get("validation", {})
    n_pos, n_neg = val.get("pneumonia"), val.get("normal")
    if not isinstance(n_pos, int) or not isinstance(n_neg, int) or n_pos <= 0 or n_neg <= 0:
        return None
    t, sens, spec = card.roc_points()
    pos_ge = np.rint(sens * n_pos).astype(int)  # positives with p >= t
    neg_ge = np.rint((1 - spec) * n_neg).astype(int)
    pos_at = np.maximum(pos_ge - np.r_[pos_ge[1:], 0], 0)
    neg_at = np.maximum(neg_ge - np.r_[neg_ge[1:], 0], 0)
    tc = np.clip(t, 0.0, 1.0)
    return np.repeat(tc, pos_at), np.repeat(tc, neg_at)


def clean(value: Any) -> Any:
    """JSON-ready: NaN/inf -> None, tuples -> lists, numpy scalars -> Python."""
    if isinstance(value, dict):
        return {str(k): clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [clean(v) for v in value]
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        f = float(value)
        return f if math.isfinite(f) else None
    return value


def _outside(value: float, ci: tuple[float, float]) -> bool:
    lo, hi = ci
    return all(math.isfinite(x) for x in (value, lo, hi)) and not lo <= value <= hi


def _point_entry(cases: Cases, card: ModelCard, p: SourcedPoint, warnings: list[str]) -> dict[str, Any]:
    c = metrics.confusion(cases.y, cases.prob, p.threshold)
    ci = c.cis()
    # the validation figures at this very threshold (the card's ROC, interpolated)
    val = card.rates_at(p.threshold)
    entry = {
        "threshold": p.threshold, "source": p.kind, "origin": p.origin,
        "sensitivity": c.sensitivity, "specificity": c.specificity,
        "sensitivity_ci": ci["sensitivity"], "specificity_ci": ci["specificity"],
        "ppv": c.ppv, "ppv_ci": ci["ppv"], "npv": c.npv, "npv_ci": ci["npv"],
        "tp": c.tp, "fp": c.fp, "tn": c.tn, "fn": c.fn,
        "validation_sensitivity": val.sensitivity, "validation_specificity": val.specificity,
    }
    for what, site, val_fig in (("sensitivity", c.sensitivity, val.sensitivity),
                                ("specificity", c.specificity, val.specificity)):
        site_ci = ci[what]
        if _outside(val_fig, site_ci):
            warnings.append(
                f"'{p.name}' (threshold {p.threshold:.4f}): site {what} {site * 100:.1f} % "
                f"(95 % CI {site_ci[0] * 100:.1f}–{site_ci[1] * 100:.1f} %) excludes the validation figure "
                f"{val_fig * 100:.1f} %: the card's figure does not hold here")
    return entry


def evaluate(cases: Cases, card: ModelCard, site_points: list[SourcedPoint] | None = None) -> dict[str, Any]:
    """Every site figure, with the card's validation figures beside it and the warnings they call for."""
    n, n_pos, n_neg = len(cases.y), cases.n_positive, cases.n_negative
    warnings: list[str] = []
    auc, auc_ci = metrics.auc_delong(cases.y, cases.prob)
    validation = card.data.get("validation", {})
    val_auc = validation.get("auc", {}).get("value")
    card_source = CardPoints(card)
    if isinstance(val_auc, float) and _outside(val_auc, auc_ci):
        warnings.append(f"site AUC {auc:.3f} (95 % CI {auc_ci[0]:.3f}–{auc_ci[1]:.3f}) excludes the validation "
                        f"AUC {val_auc:.3f}")
    if math.isfinite(auc) and auc_ci[0] == auc_ci[1]:
        warnings.append("the AUC's DeLong interval has zero width (the classes are perfectly separated in this "
                        "sample); it understates the uncertainty")
    if n_pos < MIN_FOR_NARROW_CI or n_neg < MIN_FOR_NARROW_CI:
        warnings.append(f"only {n_pos} positive and {n_neg} negative cases: the intervals are wide; "
                        f"{MIN_FOR_NARROW_CI} of each is the minimum for calibrating")
    points = {p.name: _point_entry(cases, card, p, warnings) for p in card_source.points()}
    for p in site_points or []:
        points[f"site: {p.name}" if p.name in points else p.name] = _point_entry(cases, card, p, warnings)

    rel = metrics.reliability(cases.y, cases.prob, bins=10)
    calibration = {
        "ece": rel.ece, "validation_ece": validation.get("ece", {}).get("value"),
        "bins": [{"lo": rel.edges[i], "hi": rel.edges[i + 1], "n": rel.count[i],
                  "mean_predicted": rel.mean_predicted[i], "observed": rel.observed[i],
                  "observed_ci": rel.observed_ci[i]} for i in range(len(rel.count))],
    }
    drift: dict[str, Any] = {"probability": {"site": metrics.histogram(cases.prob, HIST_BINS)}}
    val_scores = validation_scores(card)
    if val_scores is not None:
        drift["probability"]["validation"] = metrics.histogram(np.r_[val_scores[0], val_scores[1]], HIST_BINS)
    if cases.ood is not None and np.isfinite(cases.ood).any():
        ood = cases.ood[np.isfinite(cases.ood)]
        hi = float(card.data.get("gate", {}).get("ood_threshold") or max(float(ood.max()), 1.0))
        drift["gate_score"] = {"site": metrics.histogram(ood, HIST_BINS, 0.0, hi), "gate_threshold": hi}
    report = {
        "reference_standard": cases.reference,
        "model": {"name": card.name, "version": card.version, "sha256": card.sha256},
        "source": cases.source,
        "n_reads": n, "n_positive": n_pos, "n_negative": n_neg, "prevalence": n_pos / n if n else math.nan,
        "excluded": cases.excluded,
        "auc": auc, "auc_ci": auc_ci,
        "validation": {"origin": card_source.origin, "auc": val_auc,
                       "auc_ci": validation.get("auc", {}).get("ci95"), "ece": calibration["validation_ece"]},
        "operating_points": points,
        "calibration": calibration,
        "drift": drift,
        "warnings": warnings,
    }
    return clean(report)


def _pct(x: float | None) -> str:
    return "—" if x is None else f"{x * 100:.1f} %"


def _ci(ci: list[float | None] | None) -> str:
    if not ci or ci[0] is None or ci[1] is None:
        return ""
    return f" ({ci[0] * 100:.1f}–{ci[1] * 100:.1f})"


def render_text(report: dict[str, Any]) -> str:
    """The report as a few lines and one table, for a terminal."""
    auc, ci = report["auc"], report["auc_ci"]
    auc_text = "—" if auc is None else f"{auc:.3f}" + (
        f" (95 % CI {ci[0]:.3f}–{ci[1]:.3f})" if ci and ci[0] is not None else "")
    val = report["validation"]
    lines = [
        f"Model: {report['model']['name']} {report['model']['version']} (SHA-256 {report['model']['sha256'][:12]}…)",
        f"Reference standard: {report['reference_standard']}.",
        f"Cases: {report['n_reads']} ({report['n_positive']} PNEUMONIA, {report['n_negative']} NORMAL, "
        f"prevalence {_pct(report['prevalence'])})",
    ]
    prof = report.get("site_profile")
    if prof:
        lines.append(f"Site profile in force: {prof['profile_id']} (n = {prof['n']}), {prof['path']}")
    if report["excluded"]:
        lines.append("Left out: " + ", ".join(f"{v} {k}" for k, v in report["excluded"].items()))
    if report.get("read_first") is not None:
        lines.append(changes_text(report["read_first"]))
    lines.append(f"AUC: {auc_text}   validation AUC: {val['auc']:.3f}" if val.get("auc") is not None
                 else f"AUC: {auc_text}")
    ece, vece = report["calibration"]["ece"], report["calibration"]["validation_ece"]
    if ece is not None:
        lines.append(f"ECE: {ece:.3f}" + (f"   validation ECE: {vece:.3f}" if vece is not None else ""))
    lines.append("")
    lines.append(f"{'operating point':<22}{'threshold':>10}  {'sensitivity (95 % CI)':<24}{'specificity (95 % CI)':<24}"
                 f"{'PPV':>8}{'NPV':>8}  validation sens/spec")
    for name, op in report["operating_points"].items():
        lines.append(
            f"{name:<22}{op['threshold']:>10.4f}  {_pct(op['sensitivity']) + _ci(op['sensitivity_ci']):<24}"
            f"{_pct(op['specificity']) + _ci(op['specificity_ci']):<24}{_pct(op['ppv']):>8}{_pct(op['npv']):>8}  "
            f"{_pct(op['validation_sensitivity'])} / {_pct(op['validation_specificity'])}")
    lines.append(f"(validation = {val['origin']}; PPV/NPV at this sample's prevalence)")
    for w in report["warnings"]:
        lines.append(f"WARNING: {w}")
    return "\n".join(lines) + "\n"
