"""The decision rules, written once: AI verdict and label, agreement, rates from a ROC table.

The GUI (work list, AI panel, diagnosis panel), the CLI (``predict``) and the records
(reads, exports) all call these functions, so a refused study cannot look assessed in one
place and not in another. Pure: no Qt, no TensorFlow, no I/O.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from xray_desktop.domain import Diagnosis
from xray_desktop.settings import PREVALENCE

PNEUMONIA, NORMAL, NO_LABEL = "PNEUMONIA", "NORMAL", ""
AGREE, DISAGREE, NOT_APPLICABLE = "agree", "disagree", "n/a"
NOT_ASSESSED = "Not assessed"
# Calibrated probabilities are never shown as certain: a model is never 100 % sure.
PROBABILITY_FLOOR, PROBABILITY_CEIL = 0.001, 0.999


@dataclass(frozen=True)
class Verdict:
    """What the AI may be said to have found on one study.

    ``probability`` and ``label`` are None / "" whenever the study was not assessed (the
    input gate refused it, it is outside the model's intended use, or there is no answer
    yet); ``reason`` then says why, in words for the reader.
    """

    assessed: bool
    probability: float | None = None
    label: str = NO_LABEL
    reason: str = ""


def verdict(
    probability: float | None,
    threshold: float | None,
    gate_accepted: bool | None = True,
    gate_reason: str = "",
    out_of_scope: str = "",
) -> Verdict:
    """The AI verdict for one study at ``threshold``.

    A study refused by the input gate (``gate_accepted is False``) or outside the intended
    use (``out_of_scope`` non-empty) has no probability and no label, whatever the network
    computed: a refused image's number is meaningless and must not be shown or stored.
    """
    if gate_accepted is False:
        return Verdict(False, reason=gate_reason or "input gate")
    if out_of_scope:
        return Verdict(False, reason=out_of_scope)
    if probability is None or not math.isfinite(probability):
        return Verdict(False, reason="")
    if threshold is None:
        return Verdict(True, probability=probability)
    return Verdict(True, probability=probability, label=PNEUMONIA if probability >= threshold else NORMAL)


def ai_label(
    probability: float | None, threshold: float | None, gate_accepted: bool | None = True, out_of_scope: str = ""
) -> str:
    """'PNEUMONIA' / 'NORMAL' at ``threshold``; '' when there is no usable AI answer."""
    return verdict(probability, threshold, gate_accepted, out_of_scope=out_of_scope).label


def agreement(diagnosis: Diagnosis | str | None, label: str) -> str:
    """Whether the reader agrees with the AI label: "agree", "disagree" or "n/a".

    The model is binary (pneumonia vs normal), so only PNEUMONIA and NORMAL calls are
    compared. INDETERMINATE is no call at all; OTHER (a non-pneumonia abnormality)
    neither agrees with the AI's "NORMAL" (the film is not normal) nor contradicts its
    "no pneumonia", so both give "n/a", as does a read without an AI label.
    """
    if diagnosis is None or diagnosis == "":
        return NOT_APPLICABLE
    diag = Diagnosis(diagnosis)
    if label not in (PNEUMONIA, NORMAL) or diag not in (Diagnosis.PNEUMONIA, Diagnosis.NORMAL):
        return NOT_APPLICABLE
    return AGREE if diag.value == label else DISAGREE


def format_probability(p: float | None) -> str:
    """A calibrated probability for people: "37.2 %", "> 99.9 %", "< 0.1 %", or "—"."""
    if p is None or not math.isfinite(p):
        return "—"
    if p > PROBABILITY_CEIL:
        return "> 99.9 %"
    if p < PROBABILITY_FLOOR:
        return "< 0.1 %"
    return f"{p * 100:.1f} %"


def format_percent_short(p: float | None) -> str:
    """A probability for a narrow column: "37", "> 99.9", "< 0.1", or "" when there is none.

    Whole percent in the middle; one decimal near the ends, so a 99.96 % never reads "100".
    """
    if p is None or not math.isfinite(p):
        return ""
    if p > PROBABILITY_CEIL:
        return "> 99.9"
    if p < PROBABILITY_FLOOR:
        return "< 0.1"
    return f"{p * 100:.1f}" if p < 0.01 or p > 0.99 else f"{p * 100:.0f}"


def out_of_scope_text(reason: str) -> str:
    """Words for the reader: "outside intended use (age 62 y)" from "age 62 y" or the full phrase."""
    reason = reason.strip()
    if not reason or reason.lower().startswith("outside intended use"):
        return reason
    return f"outside intended use ({reason})"


def not_assessed_text(gate_accepted: bool | None, gate_reason: str = "", out_of_scope: str = "") -> str:
    """Why a study gets no AI call, in one line for the reader; "" when nothing withholds it.

    Same precedence as :func:`verdict`: the input gate first, then the intended use.
    """
    if gate_accepted is False:
        return f"refused by the input gate: {gate_reason or 'image outside the model’s scope'}"
    return out_of_scope_text(out_of_scope)


def format_rate(x: float) -> str:
    """A rate (sensitivity, PPV...) as a percentage; "—" when undefined (NaN)."""
    return "—" if not math.isfinite(x) else f"{x * 100:.1f} %"


@dataclass(frozen=True)
class Rates:
    """Rates at one threshold from a ROC table, and predictive values at a prevalence."""

    threshold: float
    sensitivity: float
    specificity: float
    ppv: float
    npv: float
    prevalence: float


def predictive_values(sens: float, spec: float, prevalence: float) -> tuple[float, float]:
    """PPV and NPV from sensitivity, specificity and prevalence (Bayes)."""
    p = min(max(prevalence, 0.0), 1.0)
    tp, fp = sens * p, (1 - spec) * (1 - p)
    tn, fn = spec * (1 - p), (1 - sens) * p
    ppv = tp / (tp + fp) if tp + fp > 0 else float("nan")
    npv = tn / (tn + fn) if tn + fn > 0 else float("nan")
    return ppv, npv


class RocTable:
    """Sensitivity and specificity by threshold, from the card's validation or a site's reads.

    Rates between two tabulated thresholds are interpolated linearly; outside the table they
    are those of the nearest end.
    """

    def __init__(self, thresholds: np.ndarray, sensitivity: np.ndarray, specificity: np.ndarray) -> None:
        order = np.argsort(np.asarray(thresholds, dtype=np.float64), kind="stable")
        self.thresholds = np.asarray(thresholds, dtype=np.float64)[order]
        self.sensitivity = np.asarray(sensitivity, dtype=np.float64)[order]
        self.specificity = np.asarray(specificity, dtype=np.float64)[order]
        if self.thresholds.size < 2:
            raise ValueError("a ROC table needs at least two thresholds")

    def rates_at(self, threshold: float, prevalence: float = PREVALENCE[1]) -> Rates:
        """Sensitivity/specificity at ``threshold`` (interpolated) and PPV/NPV at ``prevalence``."""
        t = float(np.clip(threshold, self.thresholds[0], self.thresholds[-1]))
        sens = float(np.interp(t, self.thresholds, self.sensitivity))
        spec = float(np.interp(t, self.thresholds, self.specificity))
        ppv, npv = predictive_values(sens, spec, prevalence)
        return Rates(t, sens, spec, ppv, npv, prevalence)
