"""Model 2: train the ensemble members in sequence (resumable), then write the artefacts.

    python -m xray_desktop.training.v2 --data ../shared/data/kermany-224 --out resources/models

Same patient-wise validation split as 1.0.0 (seed 1234, 15 %). Each member lives in
``RUN_DIR/member-SEED-wWIDTH`` and checkpoints every epoch; a finished member is skipped, so
re-running the command after an interruption resumes where it stopped.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

from xray_desktop.training.stress_eval import STRESS_VARIANTS, stress_set

SPLIT_SEED = 1234  # the 1.0.0 validation split: comparisons stay fair
DEFAULT_MEMBERS = "11:32:8,12:32:6,13:32:6"


def _log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def parse_members(text: str, epochs: int) -> list[tuple[int, int, int]]:
    """'SEED:WIDTH[:EPOCHS],...' -> [(seed, width, epochs), ...] (epochs default: ``epochs``)."""
    out = []
    for part in text.split(","):
        fields = [int(f) for f in part.strip().split(":")]
        if not 1 <= len(fields) <= 3 or min(fields) <= 0:
            raise ValueError(f"bad member {part!r}: want SEED:WIDTH[:EPOCHS], positive integers")
        seed, width, n = (fields + [32, epochs][len(fields) - 1 :])[:3]
        out.append((seed, width, n))
    if not out or len({s for s, _, _ in out}) != len(out):
        raise ValueError("members need distinct seeds")
    return out


def load_raw(data_dir: Path, run_dir: Path) -> tuple[list, list, np.ndarray, np.ndarray, list[np.ndarray], np.ndarray]:
    """Split as 1.0.0 did and decode once: train pixels as uint8 (cached), val pixels as float32."""
    from xray_desktop.io import load_study
    from xray_desktop.training.data import read_manifest, split_by_patient

    train, val = split_by_patient(read_manifest(data_dir), val_fraction=0.15, seed=SPLIT_SEED)
    cache = run_dir / "raw-train.npz"
    if cache.exists():
        with np.load(cache) as z:
            raw, yt = z["raw"], z["y"]
    else:
        _log(f"decoding {len(train)} training images")
        raw = np.stack([np.round(load_study(data_dir / e.rel_path).pixels * 255).astype(np.uint8) for e in train])
        yt = np.array([e.label for e in train], np.float32)
        run_dir.mkdir(parents=True, exist_ok=True)
        np.savez(cache, raw=raw, y=yt)
    val_px = [load_study(data_dir / e.rel_path).pixels for e in val]
    yv = np.array([e.label for e in val], np.float32)
    return train, val, raw, yt, val_px, yv


def val_tensors(val_px: list[np.ndarray], yv: np.ndarray, run_dir: Path) -> tuple[np.ndarray, ...]:
    """Clean and stressed validation tensors (float16 cache, for checkpoint choice only)."""
    from xray_desktop.model.preprocess import preprocess

    cache = run_dir / "val-tensors.npz"
    if cache.exists():
        with np.load(cache) as z:
            xv, xs = z["xv"], z["xs"]
        return xv, yv, xs, np.repeat(yv, STRESS_VARIANTS)
    _log(f"building the stress-validation set ({len(val_px)} films x {STRESS_VARIANTS} variants)")
    xv = np.stack([preprocess(p) for p in val_px]).astype(np.float16)
    xs, _ = stress_set(val_px)
    np.savez(cache, xv=xv, xs=xs.astype(np.float16))
    return xv, yv, xs.astype(np.float16), np.repeat(yv, STRESS_VARIANTS)


def main(argv: list[str] | None = None) -> int:
    """Parse arguments, train every member, write the ensemble; returns the exit code."""
    from xray_desktop.training.robust import MemberConfig

    ap = argparse.ArgumentParser(prog="python -m xray_desktop.training.v2", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, required=True, help="kermany-224 folder (has train-manifest.tsv)")
    ap.add_argument("--out", type=Path, default=Path("resources/models"), help="where the model and card go")
    ap.add_argument("--run-dir", type=Path, default=Path("runs/v2"), help="checkpoints (resumable)")
    ap.add_argument("--members", default=DEFAULT_MEMBERS, help="SEED:WIDTH[:EPOCHS] list (default %(default)s)")
    ap.add_argument("--epochs", type=int, default=MemberConfig.epochs)
    ap.add_argument("--time-steps", type=int, default=0, help="only time N training steps of one member")
    ap.add_argument("--train-only", action="store_true", help="train the members, write no artefacts")
    ap.add_argument("--finalize-only", action="store_true", help="no training: write artefacts from checkpoints")
    args = ap.parse_args(argv)
    if not (args.data / "train-manifest.tsv").exists():
        print(f"error: {args.data} has no train-manifest.tsv", file=sys.stderr)
        return 2
    try:
        members = parse_members(args.members, args.epochs)
    except ValueError as exc:
        print(f"error: --members: {exc}", file=sys.stderr)
        return 2
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    t_start = time.time()
    train, val, raw, yt, val_px, yv = load_raw(args.data, args.run_dir)
    _log(f"train {len(train)} ({int(yt.sum())} pneumonia), val {len(val)} ({int(yv.sum())} pneumonia)")
    xv, _, xs, ys = val_tensors(val_px, yv, args.run_dir)
    from xray_desktop.training.robust import epoch_subset

    pick = epoch_subset(len(yv), STRESS_VARIANTS)
    tensors = (xv, yv, xs[pick], ys[pick])

    from xray_desktop.model.preprocess import INPUT_SIZE
    from xray_desktop.training.robust import fit_member

    if args.time_steps:
        seed, width, _ = members[0]
        cfg = MemberConfig(seed=seed, width=width, epochs=1, max_steps_per_epoch=args.time_steps)
        sub = (tensors[0][:64], tensors[1][:64], tensors[2][:64], tensors[3][:64])
        t0 = time.time()
        fit_member(raw, yt, sub, args.run_dir.with_name(args.run_dir.name + f"-timing-w{width}"), cfg, INPUT_SIZE,
                   log=_log)
        _log(f"{args.time_steps} steps + tiny eval took {time.time() - t0:.1f} s")
        return 0
    configs = [MemberConfig(seed=s, width=w, epochs=n) for s, w, n in members]
    if not args.finalize_only:
        for cfg in configs:
            fit_member(raw, yt, tensors, args.run_dir / f"member-{cfg.seed}-w{cfg.width}", cfg, INPUT_SIZE, log=_log)
    if args.train_only:
        return 0
    from xray_desktop.training.ensemble_card import write_ensemble

    command = f"python -m xray_desktop.training.v2 --data {args.data} --out {args.out}"  # + the members shipped
    card = write_ensemble(out_dir=args.out, data_dir=args.data, run_dir=args.run_dir, configs=configs,
                          train=train, val=val, raw_train=raw, val_px=val_px, command=command,
                          wall_seconds=time.time() - t_start, log=_log)
    _log(f"done: {card['name']} {card['version']} sha256 {card['sha256'][:12]}...")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
