"""Inputs the model should not be trusted on (gate probes), and the selftest image."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageFilter

from xray_desktop.domain import Study, StudyMetadata
from xray_desktop.io import load_study

PER_PROBE = 100


def _study(name: str, pixels: np.ndarray, notes: list[str] | None = None) -> Study:
    px = np.clip(pixels, 0, 1).astype(np.float32)
    meta = StudyMetadata(source_format="PNG", rows=px.shape[0], cols=px.shape[1])
    return Study(path=Path(name), pixels=px, metadata=meta, sha256="", notes=notes or [])


def _blur(a: np.ndarray, radius: float) -> np.ndarray:
    img = Image.fromarray((np.clip(a, 0, 1) * 255).astype(np.uint8))
    return np.asarray(img.filter(ImageFilter.GaussianBlur(radius)), dtype=np.float32) / 255


def make_probes(data_dir: Path, val: list, seed: int = 0) -> dict[str, list[Study]]:
    """Probe sets, ``PER_PROBE`` images each: transformed films and non-chest images."""
    rng = np.random.default_rng(seed)
    picks = [val[i] for i in rng.choice(len(val), size=min(PER_PROBE, len(val)), replace=False)]
    films = [load_study(data_dir / e.rel_path).pixels for e in picks]
    probes: dict[str, list[Study]] = {
        "inverted film": [_study("inv", 1 - f) for f in films],
        "film rotated 90 degrees": [_study("rot", np.rot90(f).copy()) for f in films],
        "small crop of a film": [],
        "uniform noise": [_study("noise", rng.random((224, 224))) for _ in range(PER_PROBE)],
        "smooth noise (photo-like texture)": [
            _study("smooth", _blur(rng.random((224, 224)), float(rng.uniform(2, 8)))) for _ in range(PER_PROBE)
        ],
        "document-like page": [],
        "CT-like slice": [],
        "colour photograph": [],
    }
    for f in films:
        h, w = f.shape
        s = int(rng.uniform(0.2, 0.35) * h)
        y, x = rng.integers(0, h - s), rng.integers(0, w - s)
        probes["small crop of a film"].append(_study("crop", f[y : y + s, x : x + s].copy()))
    yy, xx = np.mgrid[0:224, 0:224] / 224.0
    for _ in range(PER_PROBE):
        page = np.ones((224, 224), np.float32) * rng.uniform(0.85, 1.0)
        for row in range(int(rng.integers(8, 20))):
            y0 = 10 + row * 10
            x1 = int(rng.integers(60, 210))
            if y0 + 4 < 224:
                page[y0 : y0 + 4, 12:x1] = rng.uniform(0.0, 0.3)
        probes["document-like page"].append(_study("doc", page))
        cx, cy, r = rng.uniform(0.4, 0.6), rng.uniform(0.4, 0.6), rng.uniform(0.3, 0.45)
        d = np.sqrt((xx - cx) ** 2 + (yy - cy) ** 2)
        ct = np.where(d < r, 0.45 + 0.1 * rng.random((224, 224)), 0.0)
        ct = np.where(np.abs(d - r) < 0.03, 1.0, ct)
        probes["CT-like slice"].append(_study("ct", _blur(ct, 1.0)))
        colour = rng.random((224, 224, 3))
        lum = colour @ np.array([0.299, 0.587, 0.114])
        probes["colour photograph"].append(_study("photo", lum, ["colour image converted to grayscale"]))
    return probes


def reference_image(path: Path, size: int = 256) -> None:
    """A deterministic synthetic chest phantom for ``selftest`` (no patient data)."""
    yy, xx = np.mgrid[0:size, 0:size] / float(size)
    img = np.full((size, size), 0.08)
    body = ((xx - 0.5) / 0.42) ** 2 + ((yy - 0.55) / 0.5) ** 2 < 1
    img[body] = 0.55
    for cx in (0.33, 0.67):
        lung = ((xx - cx) / 0.14) ** 2 + ((yy - 0.5) / 0.3) ** 2 < 1
        img[lung] = 0.22
    img[(np.abs(xx - 0.5) < 0.04) & body] = 0.85  # spine / mediastinum
    for k in range(6):  # ribs
        arc = np.abs(yy - (0.28 + 0.08 * k) - 0.05 * np.cos((xx - 0.5) * 6)) < 0.008
        img[arc & body] += 0.15
    rng = np.random.default_rng(7)
    img = _blur(img + rng.normal(0, 0.01, img.shape), 1.5)
    Image.fromarray((np.clip(img, 0, 1) * 255).astype(np.uint8)).save(path, optimize=True)
