"""Classification metrics and their confidence intervals, in plain numpy (no SciPy, no scikit-learn).

The one statistics module: training (validation figures for the card) and the site
measurement (``siteperf``: site report, site calibration) both use it. Intervals are 95 %
two-sided: Wilson for proportions, DeLong for the AUC.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

Z95 = 1.959963984540054  # the 0.975 quantile of the standard normal


def sigmoid(z: np.ndarray | float) -> np.ndarray:
    """Numerically stable logistic function."""
    z = np.asarray(z, dtype=np.float64)
    return np.where(z >= 0, 1 / (1 + np.exp(-np.abs(z))), np.exp(-np.abs(z)) / (1 + np.exp(-np.abs(z))))


def roc_auc(y: np.ndarray, score: np.ndarray) -> float:
    """Area under the ROC curve (Mann-Whitney U with tie correction)."""
    y = np.asarray(y) > 0.5
    score = np.asarray(score, dtype=np.float64)
    n_pos, n_neg = int(y.sum()), int((~y).sum())
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    order = np.argsort(score, kind="mergesort")
    ranks = np.empty(len(score), dtype=np.float64)
    sorted_scores = score[order]
    # average ranks over ties
    i = 0
    while i < len(score):
        j = i
        while j + 1 < len(score) and sorted_scores[j + 1] == sorted_scores[i]:
            j += 1
        ranks[order[i : j + 1]] = (i + j) / 2.0 + 1
        i = j + 1
    return float((ranks[y].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def roc_table(y: np.ndarray, prob: np.ndarray) -> list[dict[str, float]]:
    """Every distinct threshold t with sensitivity and specificity of ``prob >= t``.

    Rows are sorted by increasing threshold, so sensitivity is non-increasing and
    specificity non-decreasing down the table. Two sentinel rows (t=0 and t=1+) close it.
    """
    y = np.asarray(y) > 0.5
    prob = np.asarray(prob, dtype=np.float64)
    n_pos, n_neg = max(int(y.sum()), 1), max(int((~y).sum()), 1)
    thresholds = np.unique(np.concatenate([[0.0], prob, [1.0]]))
    rows = []
    for t in thresholds:
        call = prob >= t
        rows.append(
            {
                "threshold": float(t),
                "sensitivity": float((call & y).sum() / n_pos),
                "specificity": float((~call & ~y).sum() / n_neg),
            }
        )
    # a threshold above every score: nothing is called positive
    rows.append({"threshold": float(np.nextafter(1.0, 2.0)), "sensitivity": 0.0, "specificity": 1.0})
    return rows


def confusion_at(y: np.ndarray, prob: np.ndarray, threshold: float) -> dict[str, float]:
    """Sensitivity, specificity and accuracy of ``prob >= threshold``."""
    y = np.asarray(y) > 0.5
    call = np.asarray(prob) >= threshold
    tp, tn = int((call & y).sum()), int((~call & ~y).sum())
    n_pos, n_neg = int(y.sum()), int((~y).sum())
    return {
        "sensitivity": tp / max(n_pos, 1),
        "specificity": tn / max(n_neg, 1),
        "accuracy": (tp + tn) / max(len(y), 1),
    }


def brier(y: np.ndarray, prob: np.ndarray) -> float:
    """Mean squared error of probabilities."""
    return float(np.mean((np.asarray(prob, dtype=np.float64) - np.asarray(y, dtype=np.float64)) ** 2))


def ece(y: np.ndarray, prob: np.ndarray, bins: int = 10) -> float:
    """Expected calibration error with equal-width bins."""
    return reliability(y, prob, bins).ece


@dataclass(frozen=True)
class Reliability:
    """A reliability diagram: per equal-width bin, the mean predicted and observed rates."""

    edges: list[float]  # bins + 1 bin edges, 0 .. 1
    count: list[int]
    mean_predicted: list[float]  # NaN for an empty bin
    observed: list[float]  # fraction positive; NaN for an empty bin
    observed_ci: list[tuple[float, float]]  # Wilson 95 %
    ece: float  # count-weighted mean |observed - predicted|; NaN with no cases


def reliability(y: np.ndarray, prob: np.ndarray, bins: int = 10) -> Reliability:
    """Reliability curve and ECE (a probability of exactly 1 falls in the last bin)."""
    y = np.asarray(y, dtype=np.float64) > 0.5
    prob = np.asarray(prob, dtype=np.float64)
    idx = np.clip((prob * bins).astype(int), 0, bins - 1)
    count, pred, obs, ci = [], [], [], []
    total = 0.0
    for b in range(bins):
        m = idx == b
        k, n = int(y[m].sum()), int(m.sum())
        count.append(n)
        pred.append(float(prob[m].mean()) if n else math.nan)
        obs.append(k / n if n else math.nan)
        ci.append(wilson(k, n))
        if n:
            total += n * abs(pred[-1] - obs[-1])
    edges = [b / bins for b in range(bins + 1)]
    return Reliability(edges, count, pred, obs, ci, total / len(y) if len(y) else math.nan)


def wilson(k: int, n: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval for k successes out of n; (NaN, NaN) when n is 0.

    Chosen over the Wald interval because it stays inside [0, 1] and is not of zero
    width at 0/n or n/n, which is exactly where a small site sample lands.
    """
    if n <= 0:
        return math.nan, math.nan
    p = k / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    # exact ends at 0/n and n/n (the formula gives them up to rounding)
    return (0.0 if k == 0 else max(0.0, centre - half)), (1.0 if k == n else min(1.0, centre + half))


def auc_delong(y: np.ndarray, score: np.ndarray, z: float = Z95) -> tuple[float, tuple[float, float]]:
    """AUC with DeLong's 95 % CI (ties count one half); (NaN, (NaN, NaN)) without both classes.

    The CI is auc ± z·se, clipped to [0, 1]. It needs two cases of each class (the
    structural components' variances); below that the AUC is given without a CI. With
    perfect separation the DeLong variance is 0 and so is the CI's width: the report says
    so rather than trusting it.
    """
    y = np.asarray(y) > 0.5
    score = np.asarray(score, dtype=np.float64)
    pos, neg = score[y], score[~y]
    m, n = len(pos), len(neg)
    if m == 0 or n == 0:
        return math.nan, (math.nan, math.nan)
    # psi(x, y) = 1 if x > y, 1/2 if equal; by sorted search, O((m + n) log n)
    neg_sorted, pos_sorted = np.sort(neg), np.sort(pos)
    v10 = (np.searchsorted(neg_sorted, pos, "left") + np.searchsorted(neg_sorted, pos, "right")) / (2.0 * n)
    v01 = ((m - np.searchsorted(pos_sorted, neg, "right")) + (m - np.searchsorted(pos_sorted, neg, "left"))) / (2.0 * m)
    auc = float(v10.mean())
    if m < 2 or n < 2:
        return auc, (math.nan, math.nan)
    var = float(v10.var(ddof=1) / m + v01.var(ddof=1) / n)
    se = math.sqrt(max(var, 0.0))
    return auc, (max(0.0, auc - z * se), min(1.0, auc + z * se))


@dataclass(frozen=True)
class Confusion:
    """Counts of ``prob >= threshold`` against the reference, with rates and Wilson CIs.

    A rate with an empty denominator is NaN (and so is its CI), never 0 or 1.
    """

    threshold: float
    tp: int
    fp: int
    tn: int
    fn: int

    @property
    def n_positive(self) -> int:
        return self.tp + self.fn

    @property
    def n_negative(self) -> int:
        return self.tn + self.fp

    @staticmethod
    def _rate(k: int, n: int) -> float:
        return k / n if n else math.nan

    @property
    def sensitivity(self) -> float:
        return self._rate(self.tp, self.tp + self.fn)

    @property
    def specificity(self) -> float:
        return self._rate(self.tn, self.tn + self.fp)

    @property
    def ppv(self) -> float:
        return self._rate(self.tp, self.tp + self.fp)

    @property
    def npv(self) -> float:
        return self._rate(self.tn, self.tn + self.fn)

    def cis(self) -> dict[str, tuple[float, float]]:
        """Wilson 95 % CIs of sensitivity, specificity, PPV and NPV."""
        return {
            "sensitivity": wilson(self.tp, self.tp + self.fn),
            "specificity": wilson(self.tn, self.tn + self.fp),
            "ppv": wilson(self.tp, self.tp + self.fp),
            "npv": wilson(self.tn, self.tn + self.fn),
        }


def confusion(y: np.ndarray, prob: np.ndarray, threshold: float) -> Confusion:
    """The 2x2 table of ``prob >= threshold`` (called positive) against ``y``."""
    y = np.asarray(y) > 0.5
    call = np.asarray(prob, dtype=np.float64) >= threshold
    return Confusion(float(threshold), int((call & y).sum()), int((call & ~y).sum()),
                     int((~call & ~y).sum()), int((~call & y).sum()))


def most_specific_threshold(y: np.ndarray, prob: np.ndarray, target_sensitivity: float) -> float | None:
    """The highest threshold t whose sensitivity of ``prob >= t`` is at least the target.

    Only the positives' scores can be such a t (raising t past a positive is what lowers
    sensitivity), and tied scores move together, so the answer is exact even with ties.
    None when there are no positives.
    """
    y = np.asarray(y) > 0.5
    pos = np.sort(np.asarray(prob, dtype=np.float64)[y])[::-1]  # descending
    if pos.size == 0:
        return None
    # need k = ceil(target * m) positives at or above t; t = the k-th highest positive score
    k = max(1, math.ceil(target_sensitivity * pos.size - 1e-9))
    return float(pos[min(k, pos.size) - 1])


def margin_below(prob: np.ndarray, threshold: float) -> float:
    """A threshold halfway between ``threshold`` and the highest score below it.

    It makes the same calls on these scores as ``threshold`` does, but is not equal to
    any of them: scores read back from a CSV are rounded (predict writes 6 decimals), and
    a threshold equal to a rounded score could call that very film the other way when the
    model re-computes it at full precision.
    """
    prob = np.asarray(prob, dtype=np.float64)
    below = prob[prob < threshold]
    return float((threshold + (below.max() if below.size else 0.0)) / 2)


def histogram(values: np.ndarray, bins: int = 20, lo: float = 0.0, hi: float = 1.0) -> dict[str, list[float]]:
    """Counts and fractions in equal-width bins over [lo, hi] (values outside go to the end bins)."""
    v = np.clip(np.asarray(values, dtype=np.float64), lo, hi)
    counts, edges = np.histogram(v, bins=bins, range=(lo, hi))
    total = max(int(counts.sum()), 1)
    return {"edges": [float(e) for e in edges], "count": [int(c) for c in counts],
            "fraction": [float(c) / total for c in counts]}


def fit_temperature(y: np.ndarray, logits: np.ndarray) -> tuple[float, float]:
    """Fit p = sigmoid((logit + bias) / T) on validation by minimising the log loss.

    The bias corrects the prior shift that class-balanced training puts into the logit;
    T corrects over-confidence. Returns (T, bias). Newton steps with backtracking: the
    problem is logistic regression on one feature, convex in (1/T, bias/T).
    """
    y = np.asarray(y, dtype=np.float64)
    z = np.asarray(logits, dtype=np.float64)

    def nll(a: float, c: float) -> float:
        s = a * z + c
        return float(np.mean(np.logaddexp(0, s) - y * s))

    a, c = 1.0, 0.0  # p = sigmoid(a * z + c)
    loss = nll(a, c)
    for _ in range(200):
        p = sigmoid(a * z + c)
        g = np.array([np.mean((p - y) * z), np.mean(p - y)])
        w = p * (1 - p)
        h = np.array([[np.mean(w * z * z), np.mean(w * z)], [np.mean(w * z), np.mean(w)]]) + np.eye(2) * 1e-9
        step = np.linalg.solve(h, g)
        t = 1.0
        while t > 1e-6 and nll(a - t * step[0], c - t * step[1]) > loss:
            t /= 2
        a, c = a - t * step[0], c - t * step[1]
        new = nll(a, c)
        if loss - new < 1e-12:
            break
        loss = new
    a = max(a, 1e-3)
    return float(1.0 / a), float(c / a)
