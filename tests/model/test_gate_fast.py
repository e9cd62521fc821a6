"""The numpy gate and heat map (the reference for training and the graph head) match the plain BLAS forms."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from xray_desktop.domain import Study, StudyMetadata
from xray_desktop.model.gate import INVERTED_MARGIN, OodModel, midline_contrast, rule_check
from xray_desktop.model.heatmap import cam, heatmap


def _study(px: np.ndarray) -> Study:
    return Study(Path("x"), px, StudyMetadata(rows=px.shape[0], cols=px.shape[1]), "0")


def _film(seed: int, shape=(224, 224)) -> np.ndarray:
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0 : shape[0], 0 : shape[1]]
    lungs = 0.25 + 0.5 * (np.abs(xx / shape[1] - 0.5) < 0.08)  # bright mediastinum
    return np.clip(lungs + 0.1 * np.sin(yy / 9.0) + 0.05 * rng.standard_normal(shape), 0, 1).astype(np.float32)


def _reference_verdict(px: np.ndarray) -> tuple[bool, str]:
    """The pixel rules as written before (mean of a bool mask, nan_to_num always)."""
    if float(px.std()) < 0.02:
        return False, "blank"
    if float(((px < 0.02) | (px > 0.98)).mean()) > 0.9:
        return False, "saturated"
    from xray_desktop.model.preprocess import equalize, resize

    a = equalize(resize(np.nan_to_num(np.asarray(px, np.float32)), 64))
    h, w = a.shape
    rows = slice(int(0.3 * h), int(0.7 * h))
    centre = a[rows, int(0.42 * w) : int(0.58 * w)].mean()
    lungs = np.concatenate([a[rows, int(0.15 * w) : int(0.35 * w)].ravel(),
                            a[rows, int(0.65 * w) : int(0.85 * w)].ravel()]).mean()
    if float(centre - lungs) < INVERTED_MARGIN:
        return False, "inverted"
    return True, ""


def _pixel_cases() -> list[np.ndarray]:
    rng = np.random.default_rng(11)
    cases = [_film(s) for s in range(6)] + [1.0 - _film(s) for s in range(6)]
    cases.append(np.full((100, 100), 0.5, np.float32))
    cases.append((rng.random((100, 100)) > 0.5).astype(np.float32))
    sat = np.full((100, 100), 0.5, np.float32)
    sat.flat[: 9000] = 0.0  # exactly 90 % saturated: not over the limit
    cases.append(sat)
    sat2 = sat.copy()
    sat2.flat[9000] = 1.0  # 90.01 %: over it
    cases.append(sat2)
    nan = _film(9)
    nan[10:20, 10:20] = np.nan
    nan[30, 30] = np.inf
    cases.append(nan)
    cases.append(rng.random((300, 200)).astype(np.float32))
    return cases


@pytest.mark.parametrize("i", range(len(_pixel_cases())))
def test_rule_verdicts_unchanged(i):
    px = _pixel_cases()[i]
    ok, words = _reference_verdict(px)
    g = rule_check(_study(px))
    assert g.accepted == ok and words in g.reason, (g, ok, words)


def test_midline_contrast_same_with_and_without_non_finite_pixels():
    from xray_desktop.model.preprocess import resized

    px = _film(3)
    assert midline_contrast(resized(px)) == midline_contrast(resized(np.nan_to_num(px)))
    bad = px.copy()
    bad[0, 0] = np.nan
    assert np.isfinite(midline_contrast(resized(bad)))


def _direct_midline(px: np.ndarray) -> float:
    """The rule's value as computed until 2026-12: the film resampled to 64 x 64 from its own size."""
    from xray_desktop.model.gate import strip_contrast
    from xray_desktop.model.preprocess import equalize, resize

    return strip_contrast(equalize(resize(np.asarray(px, np.float32), 64)))


@pytest.mark.parametrize("shape", [(224, 224), (240, 210), (2500, 2048)])
def test_midline_from_the_model_size_film_matches_the_full_size_value(shape):
    """The rule now reads the resampled model input; the value moves far less than its margin."""
    from xray_desktop.model.preprocess import resized

    for seed in range(3):
        for px in (_film(seed, shape), 1.0 - _film(seed, shape)):
            assert abs(midline_contrast(resized(px)) - _direct_midline(px)) < 0.005


@pytest.fixture(scope="module")
def ood() -> OodModel:
    return OodModel.fit(np.random.default_rng(0).normal(size=(1500, 768)), threshold=40.0)


@pytest.mark.parametrize("n", [1, 5, 16, 17, 200])
def test_ood_score_equals_the_blas_quadratic_form(ood, n):
    rng = np.random.default_rng(n)
    x = rng.normal(size=(n, 768)) * rng.uniform(0.5, 2.0, size=(n, 1))
    d = x - ood.mean
    want = np.sqrt(((d @ ood.precision) * d).sum(axis=1))
    np.testing.assert_allclose(ood.score(x), want, rtol=1e-12)
    for row, w in zip(x, want, strict=True):
        g = ood.check(row[None])
        assert g.accepted == (w <= ood.threshold) and g.ood_score == pytest.approx(w, rel=1e-12)


def test_heatmap_equals_the_tensordot_cam():
    rng = np.random.default_rng(5)
    feats = (rng.random((6, 6, 768), dtype=np.float32) * 3).astype(np.float32)
    w = rng.normal(0, 0.05, 768).astype(np.float32)
    want = np.tensordot(feats, w, axes=([2], [0]))
    np.testing.assert_allclose(cam(feats, w), want, rtol=1e-5, atol=1e-5)
    from xray_desktop.model.heatmap import absolute, upsample

    ref = np.clip(upsample(absolute(want, 5.0), 224, 200), 0.0, 1.0)
    got = heatmap(feats, w, 224, 200, scale=5.0)
    assert got.shape == (224, 200) and got.dtype == np.float32
    np.testing.assert_allclose(got, ref, atol=1e-5)
