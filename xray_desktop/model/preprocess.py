"""The one preprocessing function, used by training and by inference alike.

Any change here changes what the model sees: retrain, and the model card's
``preprocessing`` entry must say what was done.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

# Model input is INPUT_SIZE x INPUT_SIZE x 1. The training images are squashed to a square
# (aspect ratio not kept), so inference squashes too rather than padding.
INPUT_SIZE = 192
_HIST_BINS = 256

PREPROCESSING_DESCRIPTION = (
    f"presentation pixels in [0,1] -> resize to {INPUT_SIZE}x{INPUT_SIZE} (Pillow bilinear, "
    "antialiased, aspect not kept) -> global histogram equalisation (256 bins) -> "
    "scale to [-1, 1], float32, shape (H, W, 1)"
)


def resize(pixels: np.ndarray, size: int = INPUT_SIZE) -> np.ndarray:
    """Resize a 2-D float array to ``size`` x ``size`` with an antialiased bilinear filter."""
    img = Image.fromarray(np.ascontiguousarray(pixels, dtype=np.float32), mode="F")
    out = img.resize((size, size), Image.Resampling.BILINEAR)
    return np.asarray(out, dtype=np.float32)


# Bin centres of the equalisation histogram, (k + 0.5) / 256 (exact in binary floating point).
_EDGES = np.linspace(0.0, 1.0, _HIST_BINS + 1)
_CENTERS = (_EDGES[:-1] + _EDGES[1:]) / 2.0


def equalize(x: np.ndarray) -> np.ndarray:
    """Global histogram equalisation of a [0, 1] array, to [0, 1].

    Why: it makes the input invariant to any monotone brightness/contrast/gamma change,
    the kind of shift that separates this data set's training and test sources.

    The result is ``np.interp(x, centres, mid-ranks)`` of the 256-bin histogram, bit for bit
    (tests/model/test_preprocess_fast.py keeps that reference). For float32 it is computed
    directly, ~9x faster: the bins are 1/256 wide, so ``256 x`` (exact in binary floating
    point) gives a pixel's bin and its interpolation segment with no search.
    """
    x = np.clip(x, 0.0, 1.0)
    if x.dtype != np.float32 or np.isnan(x).any():  # not on the app's path; numpy's general rules
        return _equalize_general(x)
    scaled = (x * np.float32(_HIST_BINS)).ravel()
    # (float32 -> int32 -> intp: twice as fast as a direct cast; values are small and >= 0)
    hist = np.bincount(scaled.astype(np.int32).astype(np.intp), minlength=_HIST_BINS + 1)
    hist[_HIST_BINS - 1] += hist[_HIST_BINS]  # x == 1.0 belongs to the last bin
    hist = hist[:_HIST_BINS]
    cdf = np.cumsum(hist, dtype=np.float64)
    # mid-rank of each bin so a constant image maps to 0.5, not to 1.0
    mid = (cdf - hist / 2.0) / cdf[-1]
    # np.interp on centres c[k] = (k + 0.5) / 256 computes slope[j] * (x - c[j]) + mid[j], and
    # slope[j] * (x - c[j]) == (mid[j+1] - mid[j]) * frac(256 x - 0.5) exactly (powers of 2).
    # Clamping to [c[0], c[-1]] gives mid[0] / mid[-1] outside, as np.interp does.
    step = np.append(np.diff(mid), 0.0)
    u = np.clip(scaled, 0.5, _HIST_BINS - 0.5)
    u -= 0.5  # exact in float32
    seg = np.floor(u)
    j = seg.astype(np.int32).astype(np.intp)
    u -= seg
    out = step[j]
    out *= u.astype(np.float64)
    out += mid[j]
    return out.astype(np.float32).reshape(x.shape)


def _equalize_general(x: np.ndarray) -> np.ndarray:
    """The same equalisation through np.histogram / np.interp (NaN stays NaN)."""
    hist, _ = np.histogram(x, bins=_HIST_BINS, range=(0.0, 1.0))
    cdf = np.cumsum(hist, dtype=np.float64)
    mid = (cdf - hist / 2.0) / cdf[-1]
    return np.interp(x, _CENTERS, mid).astype(np.float32)


def resized(pixels: np.ndarray) -> np.ndarray:
    """First half of :func:`preprocess`: a finite 2-D float32 copy at INPUT_SIZE x INPUT_SIZE.

    The gate's inverted-film rule reads this too, so a large film is resampled once.
    """
    arr = np.asarray(pixels, dtype=np.float32)
    if arr.ndim != 2:
        raise ValueError(f"expected a 2-D image, got shape {arr.shape}")
    if not np.isfinite(arr).all():  # the check is a fraction of nan_to_num's copy
        arr = np.nan_to_num(arr, nan=0.0, posinf=1.0, neginf=0.0)
    return resize(arr)


def finish(small: np.ndarray) -> np.ndarray:
    """Second half of :func:`preprocess`: equalise :func:`resized`'s output and scale it to [-1, 1]."""
    eq = equalize(small)
    eq *= np.float32(2.0)
    eq -= np.float32(1.0)  # in place: the same float32 arithmetic as eq * 2.0 - 1.0
    return eq[..., np.newaxis]


def preprocess(pixels: np.ndarray) -> np.ndarray:
    """Turn a study's presentation pixels (2-D, [0, 1]) into the model input.

    Returns a float32 array of shape (INPUT_SIZE, INPUT_SIZE, 1) in [-1, 1].
    """
    return finish(resized(pixels))
