"""Modality LUT, VOI windowing and the robust automatic window (all in raw units)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pydicom.pixels
from pydicom.dataset import Dataset

from xray_desktop.io.dicom_pixels import attr, first_float

# Robust window: these percentiles of the non-padding pixels span the display.
LOW_PCT, HIGH_PCT = 0.5, 99.5
# A window whose central 99% of pixels spans less than this is "blank or nearly uniform".
MIN_SPREAD = 0.05
# Statistics are computed on at most this many pixels (strided), so 100 Mpx stays fast.
SAMPLE_PIXELS = 1_000_000

BLANK_NOTE = "stored window left the image blank; automatic window used"


def apply_modality(stored: np.ndarray, ds: Dataset, notes: list[str]) -> np.ndarray:
    """Stored values -> modality values (Modality LUT Sequence, else Rescale Slope/Intercept)."""
    if "ModalityLUTSequence" in ds:
        try:
            out = pydicom.pixels.apply_modality_lut(stored, ds)
            return np.asarray(out, dtype=np.float32)
        except Exception:  # noqa: BLE001 - a broken LUT should not cost the image
            notes.append("invalid Modality LUT ignored")
    slope = first_float(attr(ds, "RescaleSlope"))
    intercept = first_float(attr(ds, "RescaleIntercept"))
    if ("RescaleSlope" in ds and not slope) or ("RescaleIntercept" in ds and intercept is None):
        notes.append("invalid Rescale Slope/Intercept ignored")
    slope = slope or 1.0
    intercept = intercept or 0.0
    raw = stored.astype(np.float32)
    if slope != 1.0:
        raw *= np.float32(slope)
    if intercept != 0.0:
        raw += np.float32(intercept)
    return raw


def sample(raw: np.ndarray, mask: np.ndarray | None) -> np.ndarray:
    """A strided subset of the finite, non-padding pixels (for percentiles)."""
    flat = raw.ravel()
    step = max(1, flat.size // SAMPLE_PIXELS)
    s = flat[::step]
    if mask is not None:
        s = s[~mask.ravel()[::step]]
    return s[np.isfinite(s)]


def robust_window(values: np.ndarray) -> tuple[float, float] | None:
    """(center, width) spanning the 0.5-99.5 percentiles; ``None`` for a uniform image."""
    if values.size == 0:
        return None
    lo, hi = (float(v) for v in np.percentile(values, [LOW_PCT, HIGH_PCT]))
    if hi <= lo:  # a few bright marks on a flat field: fall back to the extremes
        lo, hi = float(values.min()), float(values.max())
    if hi <= lo:
        return None
    return (lo + hi) / 2.0, hi - lo


def window_linear_exact(raw: np.ndarray, center: float, width: float) -> np.ndarray:
    """Plain linear ramp from center - width/2 (0) to center + width/2 (1)."""
    out = (raw - np.float32(center - width / 2.0)) / np.float32(width)
    return np.clip(out, 0.0, 1.0, out=out).astype(np.float32, copy=False)


def apply_window(raw: np.ndarray, center: float, width: float, function: str) -> np.ndarray:
    """DICOM PS3.3 C.11.2.1.2 VOI functions, output in [0, 1]."""
    if function == "SIGMOID":
        z = np.clip(-4.0 * (raw.astype(np.float64) - center) / width, -700.0, 700.0)
        return (1.0 / (1.0 + np.exp(z))).astype(np.float32)
    if function == "LINEAR_EXACT":
        return window_linear_exact(raw, center, width)
    # LINEAR: the standard's half-pixel-shifted ramp over (width - 1).
    out = (raw.astype(np.float32) - np.float32(center - 0.5)) / np.float32(max(width - 1.0, 1e-6)) + 0.5
    return np.clip(out, 0.0, 1.0, out=out)


def apply_lut(raw: np.ndarray, item: Dataset, signed: bool) -> tuple[np.ndarray, tuple[float, float]] | None:
    """Apply one VOI LUT Sequence item; ``None`` when it is malformed."""
    desc = item.get("LUTDescriptor")
    data = item.get("LUTData")
    if desc is None or data is None or len(desc) != 3:
        return None
    n, first, bits = (int(v) for v in desc)
    n = n or 65536  # the standard encodes 2^16 entries as 0
    if signed and first > 32767:
        first -= 65536
    if isinstance(data, bytes):
        wide = bits > 8 or len(data) >= 2 * n  # OW LUT data holds 16-bit words
        lut = np.frombuffer(data[: len(data) // 2 * 2], "<u2") if wide else np.frombuffer(data, np.uint8)
    else:
        lut = np.asarray(data if isinstance(data, Sequence) else [data], dtype=np.float64).ravel()
    n = min(n, lut.size)
    lut = lut[:n].astype(np.float32)
    if n < 2 or float(lut.max()) <= float(lut.min()):
        return None
    idx = np.clip(np.rint(raw) - first, 0, n - 1).astype(np.int64)
    out = (lut[idx] - lut.min()) / (lut.max() - lut.min())
    return out.astype(np.float32), (first + n / 2.0, float(n))


def stored_voi(
    raw: np.ndarray, ds: Dataset, signed: bool, notes: list[str]
) -> tuple[np.ndarray, tuple[float, float]] | None:
    """The stored VOI (window preferred: the viewer can reproduce it), else ``None``."""
    center = first_float(attr(ds, "WindowCenter"))
    width = first_float(attr(ds, "WindowWidth"))
    function = str(attr(ds, "VOILUTFunction", "LINEAR") or "LINEAR").strip().upper()
    if function not in ("LINEAR", "LINEAR_EXACT", "SIGMOID"):
        notes.append(f"unknown VOI LUT Function {function[:20]}; LINEAR used")
        function = "LINEAR"
    if center is not None and width is not None:
        if width >= (1.0 if function == "LINEAR" else 1e-6):
            return apply_window(raw, center, width, function), (center, width)
        notes.append("invalid stored window width ignored")
    seq = attr(ds, "VOILUTSequence")
    if seq:
        try:
            got = apply_lut(raw, seq[0], signed)
        except (TypeError, ValueError, IndexError, AttributeError):
            got = None
        if got is not None:
            return got
        notes.append("invalid VOI LUT ignored")
    return None


def is_blank(presented: np.ndarray, mask: np.ndarray | None) -> bool:
    """True when almost all pixels land on the same grey (the window missed the data)."""
    values = sample(presented, mask)
    if values.size == 0:
        return True
    lo, hi = np.percentile(values, [LOW_PCT, HIGH_PCT])
    return float(hi - lo) < MIN_SPREAD


def present(
    raw: np.ndarray, ds: Dataset, mask: np.ndarray | None, signed: bool, notes: list[str]
) -> tuple[np.ndarray, tuple[float, float]] | None:
    """Presentation values in [0, 1] before inversion, and the window used.

    ``None`` when the image is uniform (nothing to show at any window).
    """
    got = stored_voi(raw, ds, signed, notes)
    if got is not None and not is_blank(got[0], mask):
        return got
    auto = robust_window(sample(raw, mask))
    if auto is None:
        return None
    if got is not None:
        notes.append(BLANK_NOTE)
    return window_linear_exact(raw, *auto), auto
