"""The stress-validation shifts: deterministic, in range, and each one really shifts the film."""

import numpy as np
import pytest

from xray_desktop.training import stress


def _film(seed: int = 0) -> np.ndarray:
    yy, xx = np.mgrid[0:224, 0:224] / 224.0
    rng = np.random.default_rng(seed)
    img = 0.5 + 0.3 * np.sin(12 * xx) * np.cos(9 * yy) + 0.05 * rng.normal(size=(224, 224))
    return np.clip(img, 0, 1).astype(np.float32)


@pytest.mark.parametrize("name", list(stress.ALL_SHIFTS))
def test_every_shift_is_deterministic_in_range_and_changes_the_film(name):
    film = _film()
    a = stress.single_shift(film, name, index=3)
    b = stress.single_shift(film, name, index=3)
    assert a.dtype == np.float32 and a.shape == film.shape
    assert 0.0 <= a.min() and a.max() <= 1.0
    assert np.array_equal(a, b)
    assert np.abs(a - film).mean() > 1e-3


def test_unsharp_masking_adds_high_frequency_energy():
    film = stress.gaussian_blur(_film(), 2.0)

    def hf(a: np.ndarray) -> float:
        return float(np.abs(np.diff(a, axis=0)).mean() + np.abs(np.diff(a, axis=1)).mean())

    for seed in range(10):
        assert hf(stress.unsharp(film, np.random.default_rng(seed))) > 1.05 * hf(film)


def test_gaussian_blur_keeps_the_mean_and_a_constant_image():
    flat = np.full((40, 30), 0.3, np.float32)
    assert np.allclose(stress.gaussian_blur(flat, 3.0), 0.3, atol=1e-6)
    film = _film()
    assert abs(float(stress.gaussian_blur(film, 1.5).mean() - film.mean())) < 1e-3


def test_stress_variants_are_fixed_by_seed_and_variant_zero_is_edge_enhanced():
    film = _film()
    a, names_a = stress.stress_variant(film, 5, 0)
    b, names_b = stress.stress_variant(film, 5, 0)
    c, _ = stress.stress_variant(film, 5, 1)
    assert np.array_equal(a, b) and names_a == names_b
    assert not np.array_equal(a, c)
    for i in range(20):
        assert "unsharp mask" in stress.stress_variant(film, i, 0)[1]


def test_held_out_shift_is_never_used_for_training():
    assert "local equalisation" not in stress.SHIFTS
    rng = np.random.default_rng(0)
    for _ in range(200):
        assert "local equalisation" not in stress.random_chain(rng, stress.SHIFTS)


def test_augment_can_be_switched_off():
    film = _film()
    assert np.array_equal(stress.augment(film, np.random.default_rng(0), p=0.0), film)
    assert not np.array_equal(stress.augment(film, np.random.default_rng(0), p=1.0), film)


def test_member_list_parses_and_refuses_nonsense():
    from xray_desktop.training.v2 import parse_members

    assert parse_members("11:32:8,12:40", 6) == [(11, 32, 8), (12, 40, 6)]
    assert parse_members("7", 5) == [(7, 32, 5)]
    for bad in ("1:32,1:40", "a:b", "1:0", "1:2:3:4"):
        with pytest.raises(ValueError):
            parse_members(bad, 5)
