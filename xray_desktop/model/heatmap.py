"""Class-activation maps: exact for a GAP + single-logit head, and cheap (one dot product)."""

from __future__ import annotations

import numpy as np
from PIL import Image


def cam(features: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """CAM of one image: ``features`` (h, w, c) dotted with the logit weights (c,).

    Returns the (h, w) map of logit contributions (their mean plus the bias is the logit).
    """
    return np.tensordot(features.astype(np.float32), weights.reshape(-1).astype(np.float32), axes=([2], [0]))


def normalise(m: np.ndarray) -> np.ndarray:
    """Scale a CAM to [0, 1]; a constant map becomes all zeros (nothing to point at)."""
    lo, hi = float(m.min()), float(m.max())
    if hi - lo < 1e-9:
        return np.zeros_like(m, dtype=np.float32)
    return ((m - lo) / (hi - lo)).astype(np.float32)


def upsample(m: np.ndarray, rows: int, cols: int) -> np.ndarray:
    """Bilinear resize of a small map to image resolution (what the viewer overlays)."""
    img = Image.fromarray(np.ascontiguousarray(m, dtype=np.float32), mode="F")
    return np.asarray(img.resize((cols, rows), Image.Resampling.BILINEAR), dtype=np.float32)


def heatmap(features: np.ndarray, weights: np.ndarray, rows: int, cols: int) -> np.ndarray:
    """CAM normalised to [0, 1] at image resolution."""
    return np.clip(upsample(normalise(cam(features, weights)), rows, cols), 0.0, 1.0)
