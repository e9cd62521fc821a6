"""Median peak CAM cell (logit units) on 25 pneumonia + 25 normal TRAINING films (not validation).

    python benchmarks/heat_scale.py --data ../shared/data/kermany-224 [--model-dir DIR]

The heat map draws a cell adding ``heatmap.SCALE_LOGIT`` (20) to the logit in full colour,
set from 1.0.0's median pneumonia peak; a new model checks its own peaks against it.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", type=Path, required=True)
    ap.add_argument("--model-dir", type=Path, help="model folder (default: the bundled model)")
    args = ap.parse_args()
    from xray_desktop.io import load_study
    from xray_desktop.model.classifier import Classifier
    from xray_desktop.model.preprocess import preprocess
    from xray_desktop.resources import model_dir
    from xray_desktop.training.data import read_manifest

    folder = args.model_dir or model_dir()
    val = set((folder / "validation_files.txt").read_text().split())
    films = [e for e in read_manifest(args.data) if e.rel_path not in val]
    rng = np.random.default_rng(0)
    clf = Classifier.load(folder, require_trust=False)
    for label in (1, 0):
        pick = [films[i] for i in rng.permutation(len(films)) if films[i].label == label][:25]
        x = np.stack([preprocess(load_study(args.data / e.rel_path).pixels) for e in pick])
        feats, logits = clf._run(x)
        peaks = [float((f @ clf._weights).max()) for f in feats]
        print(f"{clf.version} {'pneumonia' if label else 'normal'}: median peak cell {np.median(peaks):.2f}, "
              f"median logit {np.median(logits):.2f}, grid {feats.shape[1]}x{feats.shape[2]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
