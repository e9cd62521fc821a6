"""The fast preprocessing and gate paths equal the plain reference implementations.

The references are the code these functions replaced (np.histogram + np.interp; nan_to_num
always): preprocess is shared with training, so its output must not move.
"""

from __future__ import annotations

import numpy as np
import pytest

from xray_desktop.model.preprocess import INPUT_SIZE, equalize, preprocess, resize


def equalize_reference(x: np.ndarray) -> np.ndarray:
    x = np.clip(x, 0.0, 1.0)
    hist, edges = np.histogram(x, bins=256, range=(0.0, 1.0))
    cdf = np.cumsum(hist, dtype=np.float64)
    mid = (cdf - hist / 2.0) / cdf[-1]
    centers = (edges[:-1] + edges[1:]) / 2.0
    return np.interp(x, centers, mid).astype(np.float32)


def preprocess_reference(pixels: np.ndarray) -> np.ndarray:
    arr = np.nan_to_num(np.asarray(pixels, dtype=np.float32), nan=0.0, posinf=1.0, neginf=0.0)
    return (equalize_reference(resize(arr)) * 2.0 - 1.0)[..., np.newaxis]


def _inputs() -> list[np.ndarray]:
    rng = np.random.default_rng(7)
    k = np.arange(257) / 256.0
    out = [
        rng.random((192, 192), dtype=np.float32),
        rng.random((64, 64)),  # float64
        (rng.integers(0, 256, (192, 192)) / 255.0).astype(np.float32),  # 8-bit films
        (rng.integers(0, 4096, (150, 170)) / 4095.0).astype(np.float32),  # 12-bit films
        rng.choice(np.concatenate([k, (k[:-1] + k[1:]) / 2]), (100, 120)).astype(np.float32),  # edges, centres
        rng.normal(0.5, 0.6, (80, 90)).astype(np.float32),  # outside [0, 1]: clipped
        np.full((50, 50), 0.3, np.float32),
        np.zeros((10, 10), np.float32),
        np.ones((10, 10), np.float32),
        np.array([[0.0, 1.0 / 512, 1.0 - 1.0 / 512, 1.0]], np.float32),
        rng.beta(0.3, 0.3, (192, 192)).astype(np.float32) ** 3,  # crowded near 0 and 1
    ]
    for seed in range(20):
        r = np.random.default_rng(seed)
        out.append(np.clip(r.normal(r.random(), r.random() * 0.3, (96, 96)), 0, 1).astype(np.float32))
    return out


@pytest.mark.parametrize("i", range(len(_inputs())))
def test_equalize_equals_the_histogram_interp_reference(i):
    x = _inputs()[i]
    got = equalize(x)
    assert got.dtype == np.float32 and got.shape == x.shape
    np.testing.assert_array_equal(got, equalize_reference(x))


def test_equalize_keeps_nan_as_numpy_did():
    x = np.random.default_rng(1).random((20, 20)).astype(np.float32)
    x[3, 4] = np.nan
    got, ref = equalize(x), equalize_reference(x)
    assert np.isnan(got[3, 4])
    np.testing.assert_array_equal(got, ref)


@pytest.mark.parametrize("shape", [(224, 224), (300, 260), (1024, 900), (97, 301)])
def test_preprocess_equals_the_reference_on_random_films(shape):
    rng = np.random.default_rng(sum(shape))
    yy, xx = np.mgrid[0 : shape[0], 0 : shape[1]]
    base = 0.5 + 0.3 * np.sin(xx / 17.0) * np.cos(yy / 23.0)
    film = np.clip(base + 0.1 * rng.standard_normal(shape), 0, 1).astype(np.float32)
    got = preprocess(film)
    assert got.shape == (INPUT_SIZE, INPUT_SIZE, 1) and got.dtype == np.float32
    np.testing.assert_array_equal(got, preprocess_reference(film))


def test_preprocess_non_finite_pixels_as_before():
    film = np.random.default_rng(3).random((200, 210)).astype(np.float32)
    film[0, :5] = [np.nan, np.inf, -np.inf, np.nan, 2.0]
    np.testing.assert_array_equal(preprocess(film), preprocess_reference(film))
