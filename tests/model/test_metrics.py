import numpy as np
import pytest

from xray_desktop.model import metrics


def brute_auc(y, s):
    pos, neg = s[y == 1], s[y == 0]
    wins = (pos[:, None] > neg[None, :]).sum() + 0.5 * (pos[:, None] == neg[None, :]).sum()
    return wins / (len(pos) * len(neg))


def test_auc_matches_pairwise_definition_with_ties():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 300)
    s = np.round(rng.random(300) + 0.3 * y, 1)  # many ties
    assert metrics.roc_auc(y, s) == pytest.approx(brute_auc(y, s))


def test_roc_table_is_monotone_and_closed():
    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, 200)
    p = np.clip(rng.random(200) * 0.7 + 0.3 * y, 0, 1)
    rows = metrics.roc_table(y, p)
    t = [r["threshold"] for r in rows]
    assert t == sorted(t)
    sens = [r["sensitivity"] for r in rows]
    spec = [r["specificity"] for r in rows]
    assert all(a >= b for a, b in zip(sens, sens[1:], strict=False))
    assert all(a <= b for a, b in zip(spec, spec[1:], strict=False))
    assert (sens[0], spec[0]) == (1.0, 0.0) and (sens[-1], spec[-1]) == (0.0, 1.0)


def test_fit_temperature_recovers_known_calibration():
    rng = np.random.default_rng(2)
    z = rng.normal(0, 6, 20000)
    true_t, true_b = 3.0, 2.0
    y = (rng.random(20000) < metrics.sigmoid((z + true_b) / true_t)).astype(float)
    t, b = metrics.fit_temperature(y, z)
    assert t == pytest.approx(true_t, rel=0.1)
    assert b == pytest.approx(true_b, abs=0.4)


def test_fit_temperature_is_stable_on_separable_shifted_logits():
    # the failure seen in practice: well-separated, shifted logits made plain Newton diverge
    y = np.r_[np.zeros(200), np.ones(580)]
    z = np.r_[np.random.default_rng(3).normal(-9, 2, 200), np.random.default_rng(4).normal(1, 2, 580)]
    t, b = metrics.fit_temperature(y, z)
    p = metrics.sigmoid((z + b) / t)
    assert 0.05 < t < 50
    assert metrics.roc_auc(y, p) == pytest.approx(metrics.roc_auc(y, z))


def test_brier_and_ece():
    y = np.array([0, 1, 1, 0])
    assert metrics.brier(y, np.array([0, 1, 1, 0])) == 0
    assert metrics.ece(y, np.array([0.5, 0.5, 0.5, 0.5])) == pytest.approx(0.0)
    assert metrics.ece(y, np.array([1.0, 0.0, 0.0, 1.0])) == pytest.approx(1.0)
