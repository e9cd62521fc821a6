"""The inverted-film rule read from the model-size film vs from the film's own size.

    python benchmarks/gate_midline.py --data ../shared/data/kermany-224 [--every 5]

Prints the largest difference of ``gate.midline_contrast`` between the two ways, on every
``--every``-th training film and its negative, at 224 px and upsampled to 2,500 x 2,048
(with noise), and how many verdicts (``< INVERTED_MARGIN``) change.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from xray_desktop.io import load_study
from xray_desktop.model.gate import INVERTED_MARGIN, midline_contrast, strip_contrast
from xray_desktop.model.preprocess import equalize, resize, resized


def direct(px: np.ndarray) -> float:
    """The value as computed until 2026-12 (64 x 64 straight from the film)."""
    return strip_contrast(equalize(resize(px, 64)))


def compare(films: list[np.ndarray]) -> tuple[float, float, int]:
    diffs, flips = [], 0
    for px in films:
        for p in (px, 1.0 - px):
            a, b = direct(p), midline_contrast(resized(p))
            diffs.append(abs(a - b))
            flips += (a < INVERTED_MARGIN) != (b < INVERTED_MARGIN)
    return max(diffs), float(np.percentile(diffs, 99)), flips


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", type=Path, required=True)
    ap.add_argument("--every", type=int, default=5)
    args = ap.parse_args()
    files = sorted(p for p in args.data.glob("train/*/*") if p.suffix.lower() in (".jpeg", ".jpg", ".png"))
    films = [load_study(p).pixels for p in files[:: args.every]]
    mx, p99, flips = compare(films)
    print(f"{len(films)} films and their negatives: max |difference| {mx:.5f}, p99 {p99:.5f}, verdicts changed {flips}")
    rng = np.random.default_rng(0)
    big = []
    for px in films[::10]:
        up = np.asarray(Image.fromarray(px, mode="F").resize((2048, 2500), Image.Resampling.BICUBIC), np.float32)
        big.append(np.clip(up + rng.normal(0, 0.02, up.shape).astype(np.float32), 0, 1))
    mx, p99, flips = compare(big)
    print(f"{len(big)} of them at 2,500 x 2,048: max |difference| {mx:.5f}, p99 {p99:.5f}, verdicts changed {flips}")
    print(f"(the rule refuses below {INVERTED_MARGIN}; films sit at 0.14 or more, negatives at -0.14 or less)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
