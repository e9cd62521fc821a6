"""Robustness of the bundled model to acquisition/processing shifts, on OUR validation split.

    python benchmarks/robustness.py --data ../shared/data/kermany-224 [--model-dir DIR] [--only NAME ...]

For each transform of the presentation pixels, prints AUC and sensitivity/specificity at the
default operating point. Uses only the validation files listed next to the model. Rows
"shift: ..." are the stress-validation families (one seeded draw per film, see
xray_desktop/training/stress.py); "stress set" is the whole stress-validation set
(3 seeded chains of 1-3 shifts per film), on which model 2 chooses its operating points.
"""

from __future__ import annotations

import argparse
import io
import os
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image, ImageFilter

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from xray_desktop.domain import Study
from xray_desktop.io import load_study
from xray_desktop.model import metrics
from xray_desktop.model.classifier import Classifier
from xray_desktop.resources import model_dir
from xray_desktop.training import stress
from xray_desktop.training.stress_eval import STRESS_VARIANTS, stressed_studies


def _pil(f: Callable[[Image.Image], Image.Image]) -> Callable[[np.ndarray], np.ndarray]:
    def apply(px: np.ndarray) -> np.ndarray:
        img = Image.fromarray((np.clip(px, 0, 1) * 255).astype(np.uint8))
        return np.asarray(f(img), dtype=np.float32) / 255

    return apply


def _jpeg(img: Image.Image, q: int = 40) -> Image.Image:
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=q)
    return Image.open(io.BytesIO(buf.getvalue()))


TRANSFORMS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "none": lambda p: p,
    "gamma 0.6": lambda p: p**0.6,
    "gamma 1.6": lambda p: p**1.6,
    "contrast x0.6": lambda p: 0.5 + (p - 0.5) * 0.6,
    "blur r=1.5": _pil(lambda im: im.filter(ImageFilter.GaussianBlur(1.5))),
    "unsharp mask": _pil(lambda im: im.filter(ImageFilter.UnsharpMask(3, 150))),
    "JPEG q=40": _pil(_jpeg),
    "down 2x and up": _pil(lambda im: im.resize((im.width // 2, im.height // 2)).resize(im.size)),
    "noise sd 0.03": lambda p: np.clip(p + np.random.default_rng(0).normal(0, 0.03, p.shape), 0, 1),
}
SHIFT_ROWS = {f"shift: {name}": name for name in stress.ALL_SHIFTS}
STRESS_ROW = "stress set"


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", type=Path, required=True)
    ap.add_argument("--model-dir", type=Path, help="model folder (default: the bundled model)")
    ap.add_argument("--only", nargs="+", metavar="NAME", help="only these rows (e.g. none 'stress set')")
    args = ap.parse_args()
    clf = Classifier.load(args.model_dir)
    op = clf.operating_point()
    rels = ((args.model_dir or model_dir()) / "validation_files.txt").read_text().split()
    studies = [load_study(args.data / r) for r in rels]
    y = np.array([1 if "/PNEUMONIA/" in r else 0 for r in rels])
    print(f"model {clf.version}; {len(rels)} validation images; default operating point {op.name} "
          f"(threshold {op.threshold:.4f})")
    print(f"{'transform':<30} {'AUC':>7} {'sens':>7} {'spec':>7} {'gate ok':>8}")
    rows = [*TRANSFORMS, *SHIFT_ROWS, STRESS_ROW]
    for name in rows:
        if args.only and name not in args.only:
            continue
        yy = y
        if name == STRESS_ROW:
            shifted = stressed_studies(studies)
            yy = np.repeat(y, STRESS_VARIANTS)
        elif name in SHIFT_ROWS:
            shifted = (Study(s.path, stress.single_shift(s.pixels, SHIFT_ROWS[name], i), s.metadata, s.sha256)
                       for i, s in enumerate(studies))
        else:
            shifted = (Study(s.path, TRANSFORMS[name](s.pixels).astype(np.float32), s.metadata, s.sha256)
                       for s in studies)
        preds = list(clf.predict_many(shifted, batch_size=32, heatmap=False))
        p = np.array([x.probability for x in preds])
        c = metrics.confusion_at(yy, p, op.threshold)
        gate = np.mean([x.gate.accepted for x in preds])
        print(f"{name:<30} {metrics.roc_auc(yy, p):7.4f} {c['sensitivity']:7.3f} {c['specificity']:7.3f} "
              f"{gate:8.3f}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
