"""Acquisition/processing shifts of presentation pixels, pure NumPy + Pillow (no TensorFlow).

Used twice: to build the *stress-validation* set (validation films under shifts a new site
brings: edge enhancement, LUT curves, noise, blur, resampling, JPEG, geometry, collimation,
burned-in markers, local equalisation) and, with other random draws, as training
augmentation. Shifts act on the raw [0, 1] pixels BEFORE ``preprocess`` (histogram
equalisation would otherwise undo or distort them), exactly as a site's processing would.

Everything is deterministic given a ``numpy.random.Generator``; ``stress_variant`` derives
its generator from (seed, image index, variant) so the stress set never changes.
"""

from __future__ import annotations

import io
from collections.abc import Callable

import numpy as np
from PIL import Image, ImageDraw

Shift = Callable[[np.ndarray, np.random.Generator], np.ndarray]


# -- building blocks -------------------------------------------------------------------
def gaussian_blur(a: np.ndarray, sigma: float) -> np.ndarray:
    """Separable Gaussian blur with reflected borders (sigma in pixels)."""
    if sigma <= 0:
        return a.astype(np.float32, copy=True)
    r = max(1, int(3 * sigma + 0.5))
    r = min(r, min(a.shape) - 1)
    x = np.arange(-r, r + 1, dtype=np.float64)
    k = np.exp(-0.5 * (x / sigma) ** 2)
    k /= k.sum()
    out = a.astype(np.float32)
    for axis in (0, 1):
        pad = [(r, r) if ax == axis else (0, 0) for ax in (0, 1)]
        p = np.pad(out, pad, mode="reflect")
        n = out.shape[axis]
        acc = np.zeros_like(out)
        for i, w in enumerate(k):
            acc += np.float32(w) * (p[i : i + n] if axis == 0 else p[:, i : i + n])
        out = acc
    return out


def _to_u8(a: np.ndarray) -> Image.Image:
    return Image.fromarray((np.clip(a, 0, 1) * 255 + 0.5).astype(np.uint8))


def _from_img(img: Image.Image) -> np.ndarray:
    return np.asarray(img, dtype=np.float32) / 255.0


# -- the shifts (each: pixels in [0,1], rng -> pixels in [0,1]) ---------------------------
def unsharp(a: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Edge enhancement as CR/DX consoles apply it: a + amount * (a - blur(a, radius))."""
    radius = float(rng.choice([1.0, 2.0, 3.0, 5.0, 8.0, 12.0]) * rng.uniform(0.8, 1.25))
    amount = float(rng.uniform(0.4, 2.0))
    return np.clip(a + amount * (a - gaussian_blur(a, radius)), 0, 1)


def local_equalisation(a: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Dynamic-range compression / 'different equalisation': divide out a large-scale trend."""
    sigma = float(rng.uniform(15, 40))
    strength = float(rng.uniform(0.4, 0.9))
    low = gaussian_blur(a, sigma)
    out = a - strength * (low - low.mean())
    lo, hi = np.percentile(out, [0.5, 99.5])
    return np.clip((out - lo) / max(hi - lo, 1e-3), 0, 1)


def lut_curve(a: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Gamma, sigmoid contrast, a window/level clip or a random monotone LUT."""
    kind = int(rng.integers(0, 4))
    if kind == 0:
        return np.clip(a, 0, 1) ** float(np.exp(rng.uniform(-0.7, 0.7)))
    if kind == 1:
        g = float(rng.uniform(4, 10))
        c = float(rng.uniform(0.35, 0.65))
        s = 1 / (1 + np.exp(-g * (a - c)))
        lo, hi = 1 / (1 + np.exp(g * c)), 1 / (1 + np.exp(-g * (1 - c)))
        return np.clip((s - lo) / (hi - lo), 0, 1).astype(np.float32)
    if kind == 2:
        lo = float(rng.uniform(0.0, 0.25))
        hi = float(rng.uniform(0.75, 1.0))
        return np.clip((a - lo) / (hi - lo), 0, 1)
    knots = np.sort(rng.uniform(0, 1, 4))
    xs = np.concatenate([[0.0], np.sort(rng.uniform(0.1, 0.9, 4)), [1.0]])
    ys = np.concatenate([[0.0], knots, [1.0]])
    return np.interp(a, xs, ys).astype(np.float32)


def noise(a: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Additive or signal-dependent (quantum-like) noise, sometimes slightly correlated."""
    sd = float(rng.uniform(0.01, 0.05))
    n = rng.normal(0, 1, a.shape).astype(np.float32)
    if rng.random() < 0.3:
        n = gaussian_blur(n, 0.7) * 1.8
    if rng.random() < 0.5:
        n *= np.sqrt(np.clip(1 - a, 0.05, 1))  # fewer photons where the film is bright
    return np.clip(a + sd * n, 0, 1)


def blur(a: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Detector / motion unsharpness."""
    return np.clip(gaussian_blur(a, float(rng.uniform(0.5, 2.0))), 0, 1)


def resample(a: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Lower native resolution: down by 0.35-0.8 and back up with another filter."""
    h, w = a.shape
    f = float(rng.uniform(0.35, 0.8))
    filters = [Image.Resampling.NEAREST, Image.Resampling.BILINEAR, Image.Resampling.BICUBIC]
    img = Image.fromarray(np.ascontiguousarray(a, dtype=np.float32), mode="F")
    small = img.resize((max(8, int(w * f)), max(8, int(h * f))), filters[int(rng.integers(1, 3))])
    return np.clip(np.asarray(small.resize((w, h), filters[int(rng.integers(0, 3))]), np.float32), 0, 1)


def jpeg(a: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Lossy export (PACS/teleradiology)."""
    buf = io.BytesIO()
    _to_u8(a).save(buf, "JPEG", quality=int(rng.integers(15, 70)))
    return _from_img(Image.open(io.BytesIO(buf.getvalue())))


def geometry(a: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Other positioning/field of view: rotation, scale, shift; uncovered area black."""
    h, w = a.shape
    ang = np.deg2rad(rng.uniform(-8, 8))
    s = float(rng.uniform(0.85, 1.2))
    tx, ty = rng.uniform(-0.07, 0.07, 2) * (w, h)
    c, si = np.cos(ang) / s, np.sin(ang) / s
    cx, cy = w / 2, h / 2
    # inverse map output -> input, about the centre
    coeffs = (c, si, cx - c * cx - si * cy - tx, -si, c, cy + si * cx - c * cy - ty)
    img = Image.fromarray(np.ascontiguousarray(a, dtype=np.float32), mode="F")
    out = img.transform((w, h), Image.Transform.AFFINE, coeffs, Image.Resampling.BILINEAR, fillcolor=0.0)
    return np.clip(np.asarray(out, np.float32), 0, 1)


def collimation(a: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Collimator shadows / film-holder borders on some sides, dark or bright."""
    out = a.copy()
    h, w = a.shape
    value = float(rng.uniform(0.0, 0.08)) if rng.random() < 0.7 else float(rng.uniform(0.9, 1.0))
    sides = rng.random(4) < 0.6
    if not sides.any():
        sides[int(rng.integers(0, 4))] = True
    for side, on in enumerate(sides):
        if not on:
            continue
        k = int(rng.uniform(0.03, 0.14) * (h if side < 2 else w))
        if side == 0:
            out[:k] = value
        elif side == 1:
            out[h - k :] = value
        elif side == 2:
            out[:, :k] = value
        else:
            out[:, w - k :] = value
    return out


_MARKER_TEXT = ("L", "R", "AP", "PA", "PORTABLE", "SUPINE", "ERECT", "L  AP", "R 1")


def markers(a: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Burned-in side markers, text and a bright/dark rectangle label in corners."""
    h, w = a.shape
    out = a.copy()
    for _ in range(int(rng.integers(1, 4))):
        text = str(rng.choice(_MARKER_TEXT))
        small = Image.new("L", (8 * len(text) + 4, 14), 0)
        ImageDraw.Draw(small).text((2, 1), text, fill=255)
        scale = float(rng.uniform(1.0, 2.5))
        big = small.resize((max(4, int(small.width * scale)), max(4, int(small.height * scale))),
                           Image.Resampling.BILINEAR)
        mask = np.asarray(big, np.float32) / 255.0
        mh, mw = min(mask.shape[0], h), min(mask.shape[1], w)
        mask = mask[:mh, :mw]
        corner_y = int(rng.uniform(0.01, 0.2) * h) if rng.random() < 0.5 else h - mh - int(rng.uniform(0.01, 0.2) * h)
        corner_x = int(rng.uniform(0.01, 0.3) * w) if rng.random() < 0.5 else w - mw - int(rng.uniform(0.01, 0.3) * w)
        y, x = int(np.clip(corner_y, 0, h - mh)), int(np.clip(corner_x, 0, w - mw))
        ink = 1.0 if rng.random() < 0.8 else 0.0
        if rng.random() < 0.3:  # a label box behind the text
            out[y : y + mh, x : x + mw] = 1.0 - ink
        region = out[y : y + mh, x : x + mw]
        out[y : y + mh, x : x + mw] = region * (1 - mask) + ink * mask
    return out


# Families used for training augmentation AND the stress set ...
SHIFTS: dict[str, Shift] = {
    "unsharp mask": unsharp,
    "LUT curve": lut_curve,
    "noise": noise,
    "blur": blur,
    "resampling": resample,
    "JPEG": jpeg,
    "crop/scale/rotation": geometry,
    "collimation border": collimation,
    "burned-in markers": markers,
}
# ... and one family the training never sees, so the stress set also tests a shift held out.
HELD_OUT: dict[str, Shift] = {"local equalisation": local_equalisation}
ALL_SHIFTS: dict[str, Shift] = {**SHIFTS, **HELD_OUT}
# Order a site's chain applies them in (geometry/markers/borders first, export last).
_ORDER = ("crop/scale/rotation", "collimation border", "burned-in markers", "blur", "resampling", "noise",
          "local equalisation", "unsharp mask", "LUT curve", "JPEG")


def apply_chain(a: np.ndarray, names: list[str], rng: np.random.Generator) -> np.ndarray:
    """Apply the named shifts in acquisition order; returns float32 in [0, 1]."""
    out = np.clip(np.asarray(a, np.float32), 0, 1)
    for name in sorted(names, key=_ORDER.index):
        out = np.clip(ALL_SHIFTS[name](out, rng), 0, 1).astype(np.float32)
    return out


def random_chain(rng: np.random.Generator, pool: dict[str, Shift], max_shifts: int = 3) -> list[str]:
    """1..max_shifts distinct shift names; unsharp masking is drawn half the time (it hurts most)."""
    names = list(pool)
    k = int(rng.integers(1, max_shifts + 1))
    picked = [str(n) for n in rng.choice(names, size=min(k, len(names)), replace=False)]
    if "unsharp mask" in pool and "unsharp mask" not in picked and rng.random() < 0.35:
        picked.append("unsharp mask")
    return picked


def augment(a: np.ndarray, rng: np.random.Generator, p: float = 0.85) -> np.ndarray:
    """Training augmentation: with probability ``p`` a random chain of the training shifts."""
    if rng.random() >= p:
        return np.clip(np.asarray(a, np.float32), 0, 1)
    return apply_chain(a, random_chain(rng, SHIFTS), rng)


STRESS_SEED = 20261204


def stress_variant(a: np.ndarray, index: int, variant: int, seed: int = STRESS_SEED) -> tuple[np.ndarray, list[str]]:
    """Variant ``variant`` of validation image ``index``: a deterministic chain of 1-3 shifts.

    Variant 0 of every image always includes unsharp masking (the site-to-site shift that
    hurt 1.0.0 most); the other variants draw from all families, the held-out one included.
    """
    rng = np.random.default_rng([seed, index, variant])
    names = random_chain(rng, ALL_SHIFTS)
    if variant == 0 and "unsharp mask" not in names:
        names.append("unsharp mask")
    return apply_chain(a, names, rng), sorted(names, key=_ORDER.index)


def single_shift(a: np.ndarray, name: str, index: int, seed: int = STRESS_SEED) -> np.ndarray:
    """One named shift with a deterministic draw (for the per-family robustness table)."""
    rng = np.random.default_rng([seed, index, 1000 + list(ALL_SHIFTS).index(name)])
    return apply_chain(a, [name], rng)
