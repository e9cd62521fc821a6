"""Classification metrics in plain numpy (no scikit-learn dependency)."""

from __future__ import annotations

import numpy as np


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
    y = np.asarray(y, dtype=np.float64)
    prob = np.asarray(prob, dtype=np.float64)
    idx = np.minimum((prob * bins).astype(int), bins - 1)
    total = 0.0
    for b in range(bins):
        m = idx == b
        if m.any():
            total += m.sum() * abs(prob[m].mean() - y[m].mean())
    return float(total / max(len(y), 1))


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
