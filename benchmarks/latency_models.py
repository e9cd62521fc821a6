"""Per-study latency of model folders, measured interleaved so machine load hits each alike.

    python benchmarks/latency_models.py resources/models candidates/model-2.0.0 [--n 60] [--rounds 3]

Per study: decode + preprocess + predict + heat map + gate (what the GUI pays), the same
measure as ``make bench``'s "per-study latency"; also the bare batch-1 ``model(x)`` call.
Models load without the trust check (benchmark only). Prints medians per model.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("model_dirs", nargs="+", type=Path)
    ap.add_argument("--n", type=int, default=60)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    from bench_classifier import make_folder

    from xray_desktop.io import load_study, scan
    from xray_desktop.model.classifier import Classifier
    from xray_desktop.model.preprocess import preprocess

    folder = make_folder(args.n)
    files = [it.path for it in scan([folder]) if not it.skip_reason]
    clfs = [Classifier.load(d, require_trust=False) for d in args.model_dirs]
    full: list[list[float]] = [[] for _ in clfs]
    raw: list[list[float]] = [[] for _ in clfs]
    for _ in range(args.rounds):
        for f in files:
            for k, clf in enumerate(clfs):  # interleaved: a load spike hits every model
                t0 = time.perf_counter()
                study = load_study(f)
                clf.predict(study, heatmap=True)
                full[k].append(time.perf_counter() - t0)
                x = preprocess(study.pixels)[None]
                t0 = time.perf_counter()
                clf.raw_logits(x)
                raw[k].append(time.perf_counter() - t0)
    print(f"{len(files)} studies x {args.rounds} rounds; load average {os.getloadavg()[0]:.2f}")
    for d, fl, rw in zip(args.model_dirs, full, raw, strict=True):
        print(f"{d}: per-study latency median {statistics.median(fl) * 1000:.1f} ms "
              f"(p90 {statistics.quantiles(fl, n=10)[-1] * 1000:.1f}), raw model(x) "
              f"{statistics.median(rw) * 1000:.1f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
