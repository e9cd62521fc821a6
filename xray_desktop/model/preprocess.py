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


def equalize(x: np.ndarray) -> np.ndarray:
    """Global histogram equalisation of a [0, 1] array, to [0, 1].

    Why: it makes the input invariant to any monotone brightness/contrast/gamma change,
    the kind of shift that separates this data set's training and test sources.
    """
    x = np.clip(x, 0.0, 1.0)
    hist, edges = np.histogram(x, bins=_HIST_BINS, range=(0.0, 1.0))
    cdf = np.cumsum(hist, dtype=np.float64)
    total = cdf[-1]
    # mid-rank of each bin so a constant image maps to 0.5, not to 1.0
    mid = (cdf - hist / 2.0) / total
    centers = (edges[:-1] + edges[1:]) / 2.0
    return np.interp(x, centers, mid).astype(np.float32)


def preprocess(pixels: np.ndarray) -> np.ndarray:
    """Turn a study's presentation pixels (2-D, [0, 1]) into the model input.

    Returns a float32 array of shape (INPUT_SIZE, INPUT_SIZE, 1) in [-1, 1].
    """
    arr = np.asarray(pixels, dtype=np.float32)
    if arr.ndim != 2:
        raise ValueError(f"expected a 2-D image, got shape {arr.shape}")
    arr = np.nan_to_num(arr, nan=0.0, posinf=1.0, neginf=0.0)
    small = resize(arr)
    eq = equalize(small)
    return (eq * 2.0 - 1.0)[..., np.newaxis]
