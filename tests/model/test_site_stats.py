"""The site statistics against hand-computed values: Wilson, DeLong, 2x2 rates, threshold choice, reliability."""

import math

import numpy as np
import pytest

from xray_desktop.model import metrics

Z = metrics.Z95


# -- Wilson -----------------------------------------------------------------------------

def test_wilson_hand_values():
    # 5/10: centre (0.5 + z²/20)/(1 + z²/10) = 0.5; half = z·sqrt(0.025 + z²/400)/(1 + z²/10)
    half = Z * math.sqrt(0.025 + Z * Z / 400) / (1 + Z * Z / 10)
    assert metrics.wilson(5, 10) == pytest.approx((0.5 - half, 0.5 + half))
    assert metrics.wilson(5, 10) == pytest.approx((0.2366, 0.7634), abs=1e-4)  # the textbook value
    # 0/n: (0, z²/(n + z²)); n/n mirrors it
    assert metrics.wilson(0, 10) == pytest.approx((0.0, Z * Z / (10 + Z * Z)))
    assert metrics.wilson(10, 10) == pytest.approx((10 / (10 + Z * Z), 1.0))
    assert metrics.wilson(1, 1) == pytest.approx((1 / (1 + Z * Z), 1.0))


def test_wilson_empty_is_undefined():
    lo, hi = metrics.wilson(0, 0)
    assert math.isnan(lo) and math.isnan(hi)


# -- AUC with DeLong's CI ----------------------------------------------------------------

def test_delong_hand_example_with_a_tie():
    # positives 0.9, 0.8, 0.4; negatives 0.7, 0.4, 0.2 (one tie at 0.4, counted 1/2)
    y = np.array([1, 1, 1, 0, 0, 0])
    s = np.array([0.9, 0.8, 0.4, 0.7, 0.4, 0.2])
    auc, (lo, hi) = metrics.auc_delong(y, s)
    # V10 = (1, 1, 1/2) -> AUC 5/6, S10 = 1/12; V01 = (2/3, 5/6, 1) -> S01 = 1/36
    assert auc == pytest.approx(5 / 6)
    se = math.sqrt((1 / 12) / 3 + (1 / 36) / 3)  # = sqrt(1/27)
    assert lo == pytest.approx(5 / 6 - Z * se)
    assert hi == 1.0  # 5/6 + 0.377 is clipped
    assert metrics.roc_auc(y, s) == pytest.approx(auc)  # same AUC as the rank formula


def test_delong_matches_pairwise_structural_components():
    rng = np.random.default_rng(5)
    y = rng.integers(0, 2, 80)
    s = np.round(rng.random(80) + 0.4 * y, 1)  # many ties
    pos, neg = s[y == 1], s[y == 0]
    psi = (pos[:, None] > neg[None, :]) + 0.5 * (pos[:, None] == neg[None, :])
    v10, v01 = psi.mean(axis=1), psi.mean(axis=0)
    se = math.sqrt(v10.var(ddof=1) / len(pos) + v01.var(ddof=1) / len(neg))
    auc, (lo, hi) = metrics.auc_delong(y, s)
    assert auc == pytest.approx(psi.mean())
    assert (lo, hi) == pytest.approx((max(0, auc - Z * se), min(1, auc + Z * se)))


@pytest.mark.parametrize("y", [np.ones(5), np.zeros(5)], ids=["all-positive", "all-negative"])
def test_auc_undefined_with_one_class(y):
    auc, (lo, hi) = metrics.auc_delong(y, np.linspace(0, 1, 5))
    assert math.isnan(auc) and math.isnan(lo) and math.isnan(hi)


def test_tiny_n_gives_auc_without_ci_and_perfect_separation_zero_width():
    auc, ci = metrics.auc_delong(np.array([1, 0]), np.array([0.7, 0.2]))
    assert auc == 1.0 and all(math.isnan(c) for c in ci)  # one case per class: no variance
    auc, ci = metrics.auc_delong(np.array([1, 1, 0, 0]), np.array([0.9, 0.8, 0.2, 0.1]))
    assert auc == 1.0 and ci == (1.0, 1.0)  # the report warns about this
    auc, _ = metrics.auc_delong(np.array([1, 1, 0, 0]), np.array([0.5, 0.5, 0.5, 0.5]))
    assert auc == 0.5  # all tied


# -- 2x2 at a threshold ------------------------------------------------------------------

def test_confusion_rates_and_cis():
    y = np.array([1, 1, 1, 1, 0, 0, 0, 0, 0, 0])
    p = np.array([0.9, 0.6, 0.5, 0.2, 0.5, 0.3, 0.1, 0.1, 0.0, 0.4])
    c = metrics.confusion(y, p, 0.5)  # p >= 0.5 is positive, so the tie at 0.5 is called positive
    assert (c.tp, c.fn, c.fp, c.tn) == (3, 1, 1, 5)
    assert (c.sensitivity, c.specificity, c.ppv, c.npv) == pytest.approx((3 / 4, 5 / 6, 3 / 4, 5 / 6))
    ci = c.cis()
    assert ci["sensitivity"] == metrics.wilson(3, 4) and ci["npv"] == metrics.wilson(5, 6)


def test_confusion_all_positive_and_all_negative_leave_rates_undefined():
    c = metrics.confusion(np.ones(4), np.array([0.9, 0.8, 0.1, 0.6]), 0.5)
    assert c.sensitivity == 0.75 and math.isnan(c.specificity) and math.isnan(c.cis()["specificity"][0])
    assert c.ppv == 1.0 and c.npv == 0.0
    c = metrics.confusion(np.zeros(3), np.array([0.9, 0.1, 0.2]), 0.5)
    assert math.isnan(c.sensitivity) and c.specificity == pytest.approx(2 / 3)
    c = metrics.confusion(np.zeros(3), np.array([0.1, 0.1, 0.2]), 0.5)
    assert math.isnan(c.ppv)  # nothing called positive


# -- the site threshold ---------------------------------------------------------------------

def test_most_specific_threshold_meets_the_target_exactly_and_handles_ties():
    y = np.array([1, 1, 1, 1, 0, 0, 0])
    p = np.array([0.9, 0.8, 0.8, 0.3, 0.85, 0.5, 0.1])
    # target 0.5 needs 2 of 4 positives: the 2nd highest positive score is 0.8, and the tie
    # with the 3rd takes sensitivity to 3/4; any higher t keeps only 0.9 (1/4)
    assert metrics.most_specific_threshold(y, p, 0.5) == 0.8
    assert metrics.confusion(y, p, 0.8).sensitivity == 0.75
    assert metrics.most_specific_threshold(y, p, 0.75) == 0.8
    assert metrics.most_specific_threshold(y, p, 0.76) == 0.3  # needs all four
    assert metrics.most_specific_threshold(y, p, 1.0) == 0.3
    assert metrics.most_specific_threshold(y, p, 0.25) == 0.9
    assert metrics.most_specific_threshold(np.zeros(3), np.array([0.1, 0.2, 0.3]), 0.9) is None


def test_most_specific_threshold_is_the_highest_that_meets_the_target():
    rng = np.random.default_rng(7)
    y = rng.integers(0, 2, 300)
    p = np.round(np.clip(rng.random(300) * 0.8 + 0.2 * y, 0, 1), 2)
    for target in (0.8, 0.9, 0.95, 0.99):
        t = metrics.most_specific_threshold(y, p, target)
        assert metrics.confusion(y, p, t).sensitivity >= target
        higher = np.unique(p[p > t])
        if higher.size:  # the next threshold up falls short
            assert metrics.confusion(y, p, higher[0]).sensitivity < target


def test_target_sensitivity_with_float_rounding():
    # 0.95 * 20 is 19.000000000000004 in floating point: still 19 positives, not 20
    y = np.r_[np.ones(20), np.zeros(5)]
    p = np.r_[np.linspace(0.99, 0.6, 20), np.full(5, 0.1)]
    t = metrics.most_specific_threshold(y, p, 0.95)
    assert metrics.confusion(y, p, t).tp == 19


# -- calibration and drift -----------------------------------------------------------------

def test_reliability_hand_example():
    y = np.array([0, 1, 1, 1, 0])
    p = np.array([0.05, 0.15, 0.95, 1.0, 0.92])
    r = metrics.reliability(y, p, bins=10)
    assert r.count == [1, 1, 0, 0, 0, 0, 0, 0, 0, 3]  # 1.0 falls in the last bin
    assert r.observed[0] == 0 and r.observed[1] == 1 and math.isnan(r.observed[2])
    assert r.observed[9] == pytest.approx(2 / 3) and r.mean_predicted[9] == pytest.approx(2.87 / 3)
    # ECE = (1·0.05 + 1·0.85 + 3·|2/3 - 0.9567|) / 5
    assert r.ece == pytest.approx((0.05 + 0.85 + 3 * abs(2 / 3 - 2.87 / 3)) / 5)
    assert metrics.ece(y, p) == pytest.approx(r.ece)
    assert r.observed_ci[9] == metrics.wilson(2, 3)
    assert math.isnan(metrics.reliability(np.array([]), np.array([])).ece)


def test_histogram_fractions():
    h = metrics.histogram(np.array([0.0, 0.1, 0.55, 1.0, 1.2]), bins=2)
    assert h["edges"] == [0.0, 0.5, 1.0] and h["count"] == [2, 3] and h["fraction"] == [0.4, 0.6]


def test_margin_below_makes_the_same_calls_away_from_every_score():
    p = np.array([0.1, 0.951204, 0.951205, 0.99])
    t = metrics.margin_below(p, 0.951205)
    assert t == pytest.approx(0.9512045) and ((p >= t) == (p >= 0.951205)).all()
    assert metrics.margin_below(np.array([0.4, 0.6]), 0.4) == 0.2  # nothing below: halfway to 0
