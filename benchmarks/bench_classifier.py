"""Classifier benchmark: prints ratios measured in one run on the machine at hand.

    python benchmarks/bench_classifier.py [--n 60] [--folder DIR]

Without --folder it writes N synthetic 224x224 chest phantoms (JPEG) to a temp folder.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from xray_desktop.cli import main as cli_main
from xray_desktop.io import load_study, scan
from xray_desktop.model.preprocess import preprocess


def make_folder(n: int) -> Path:
    from PIL import Image

    from xray_desktop.training.probes import reference_image

    d = Path(tempfile.mkdtemp(prefix="xray-bench-"))
    reference_image(d / "base.png", size=224)
    base = np.asarray(Image.open(d / "base.png"), dtype=np.float32)
    (d / "base.png").unlink()
    rng = np.random.default_rng(0)
    for i in range(n):
        img = np.clip(base * rng.uniform(0.8, 1.2) + rng.normal(0, 6, base.shape), 0, 255).astype(np.uint8)
        Image.fromarray(img).convert("RGB").save(d / f"study_{i:03d}.jpeg", quality=92)
    return d


def large_dicom(folder: Path, rows: int = 2500, cols: int = 2048) -> Path:
    """A 12-bit DX film of a real detector's size (the JPEG phantoms are 224 px)."""
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "io"))
    from io_helpers import build_dataset, write

    rng = np.random.default_rng(1)
    yy, xx = np.mgrid[0:rows, 0:cols]
    img = 1500 + 1500 * (np.abs(xx / cols - 0.5) < 0.08) + 400 * np.sin(yy / 70) + rng.normal(0, 40, (rows, cols))
    ds = build_dataset(np.clip(img, 0, 4095).astype(np.uint16), bits_stored=12, PatientID="BENCH",
                       ViewPosition="PA", BodyPartExamined="CHEST")
    return write(ds, folder / "large.dcm")


def timed(cmd: list[str], repeat: int = 3) -> float:
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True)
        best = min(best, time.perf_counter() - t0)
    return best


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=60)
    ap.add_argument("--folder", type=Path)
    args = ap.parse_args()
    folder = args.folder or make_folder(args.n)
    files = [it.path for it in scan([folder]) if not it.skip_reason][: max(args.n, 50)]
    print(f"{len(files)} studies from {folder}")

    # 1. start-up: process start -> model ready, vs a bare `import tensorflow`
    py = sys.executable
    t_tf = timed([py, "-c", "import tensorflow"])
    t_ready = timed([py, "-c", "from xray_desktop.model.classifier import Classifier; Classifier.load()"])

    from xray_desktop.model.classifier import Classifier

    clf = Classifier.load()
    # 2. per-study latency (decode + preprocess + predict + heat map) vs raw model(x)
    full, raw = [], []
    for f in files:
        t0 = time.perf_counter()
        study = load_study(f)
        clf.predict(study, heatmap=True)
        full.append(time.perf_counter() - t0)
        x = preprocess(study.pixels)[None]
        t0 = time.perf_counter()
        clf.raw_logits(x)
        raw.append(time.perf_counter() - t0)
    med_full, med_raw = statistics.median(full), statistics.median(raw)

    # 3. `predict` on the folder end-to-end vs a raw batched predict of the same arrays
    xs = np.stack([preprocess(load_study(f).pixels) for f in files])
    t0 = time.perf_counter()
    for i in range(0, len(xs), 16):
        clf.raw_logits(xs[i : i + 16])
    t_batch = time.perf_counter() - t0
    import csv
    import io

    from xray_desktop.model.commands import COLUMNS, _rows

    op = clf.operating_point()
    t0 = time.perf_counter()
    writer = csv.DictWriter(io.StringIO(), fieldnames=COLUMNS, extrasaction="ignore")
    for row in _rows(clf, [str(folder)], op.threshold, op.name, heatmap=True):
        writer.writerow(row)
    t_pipe = time.perf_counter() - t0
    out = Path(tempfile.mkdtemp()) / "out.csv"
    t0 = time.perf_counter()
    cli_main(["predict", str(folder), "--csv", str(out)])
    t_cli = time.perf_counter() - t0
    # 4. a detector-size DICOM: what one real study costs (absolute; no goal ratio)
    big = large_dicom(Path(tempfile.mkdtemp()))
    t_load, t_pred = [], []
    for _ in range(7):
        t0 = time.perf_counter()
        study = load_study(big)
        t1 = time.perf_counter()
        clf.predict(study, heatmap=True)
        t_load.append(t1 - t0)
        t_pred.append(time.perf_counter() - t1)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    print(f"per-study latency median {med_full * 1000:.1f} ms / raw model(x) {med_raw * 1000:.1f} ms "
          f"= {med_full / med_raw:.2f}  (goal <= 1.3)")
    print(f"predict folder ({len(files)} files, loaded model) {t_pipe:.2f} s / raw batched predict "
          f"{t_batch:.2f} s = {t_pipe / t_batch:.2f}  (goal <= 1.5)")
    print(f"  whole `xray-desktop predict` command in-process incl. model load: {t_cli:.2f} s")
    print(f"2,500 x 2,048 12-bit DICOM: load {statistics.median(t_load) * 1000:.0f} ms + predict with heat map "
          f"{statistics.median(t_pred) * 1000:.0f} ms (median of 7)")
    print(f"start-up to model ready {t_ready:.2f} s / bare import tensorflow {t_tf:.2f} s = {t_ready / t_tf:.2f}")
    print(f"peak RSS {peak:.0f} MB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
