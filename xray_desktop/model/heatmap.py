"""Class-activation maps: exact for a GAP + single-logit head, and cheap (one dot product).

The map is scaled *absolutely*: a cell's colour says how much it adds to the logit, on the
same scale for every study (``SCALE_LOGIT``: full colour; zero or less: clear). Scaling
each map to its own maximum made a normal film (AI 5 %) glow as red as a pneumonia.
"""

from __future__ import annotations

import numpy as np
from PIL import Image


def cam(features: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """CAM of one image: ``features`` (h, w, c) dotted with the logit weights (c,).

    Returns the (h, w) map of logit contributions (their mean plus the bias is the logit).
    """
    # The numpy definition (training, benchmarks, tests); the app computes the same sums in the
    # model graph (classifier._head). einsum, not tensordot: no BLAS threads woken.
    return np.einsum("hwc,c->hw", np.asarray(features, np.float32), weights.reshape(-1).astype(np.float32))


# A cell adding this much to the logit is drawn in full colour. 20 is about the median
# peak cell on validation pneumonia films for the bundled model (normal films peak near 6),
# measured with the bundled model on 25 + 25 training films (see the architecture notes).
SCALE_LOGIT = 20.0


def absolute(m: np.ndarray, scale: float = SCALE_LOGIT) -> np.ndarray:
    """Logit contributions to [0, 1] on a fixed scale: 0 (or against pneumonia) -> 0, ``scale`` -> 1."""
    return np.clip(np.asarray(m, dtype=np.float32) / np.float32(scale), 0.0, 1.0)


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


# The heat map's long side at most: the viewer stretches it over the film (smoothly). Why: a
# map of a 6 x 6 CAM has no detail to lose at 512 px, and at a 2,500 x 2,048 film's own size
# it cost 26 ms to draw here and 210 ms to colour on the GUI thread, and held 20 MB a study.
MAX_SIDE = 512


def heat_shape(rows: int, cols: int, max_side: int = MAX_SIDE) -> tuple[int, int]:
    """(rows, cols) of a film's heat map: the film's own, scaled down to ``max_side`` at most (aspect kept)."""
    long = max(rows, cols)
    if long <= max_side:
        return rows, cols
    f = max_side / long
    return max(1, round(rows * f)), max(1, round(cols * f))


def from_cam(m: np.ndarray, rows: int, cols: int, scale: float = SCALE_LOGIT) -> np.ndarray:
    """A CAM (h, w) on the absolute scale (see the module docstring), in [0, 1] at ``rows`` x ``cols``."""
    return np.clip(upsample(absolute(m, scale), rows, cols), 0.0, 1.0)


def heatmap(features: np.ndarray, weights: np.ndarray, rows: int, cols: int,
            scale: float = SCALE_LOGIT) -> np.ndarray:
    """:func:`from_cam` of the CAM of ``features`` (h, w, c)."""
    return from_cam(cam(features, weights), rows, cols, scale)
