"""Command line of the training pipeline: decode once, fit, then write the artefacts."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np


def _log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def _cache_path(run_dir: Path) -> Path:
    return run_dir / "decoded.npz"


def load_data(data_dir: Path, run_dir: Path, val_fraction: float, seed: int):  # noqa: ANN201
    """Split by patient and decode once (cached in the run folder for resumes)."""
    from xray_desktop.training.data import decode_all, read_manifest, split_by_patient

    examples = read_manifest(data_dir)
    train, val = split_by_patient(examples, val_fraction=val_fraction, seed=seed)
    cache = _cache_path(run_dir)
    if cache.exists():
        with np.load(cache) as z:
            arrays = z["xt"], z["yt"], z["xv"], z["yv"]
        if len(arrays[0]) == len(train) and len(arrays[2]) == len(val):
            _log(f"decoded images from cache {cache}")
            return train, val, arrays
    _log(f"decoding {len(examples)} images through xray_desktop.io + preprocess")
    t0 = time.time()
    xt, yt = decode_all(data_dir, train, lambda i, n: _log(f"  decoded {i}/{n} train"))
    xv, yv = decode_all(data_dir, val)
    _log(f"decoded in {time.time() - t0:.0f} s")
    run_dir.mkdir(parents=True, exist_ok=True)
    np.savez(cache, xt=xt, yt=yt, xv=xv, yv=yv)
    return train, val, (xt, yt, xv, yv)


def main(argv: list[str] | None = None) -> int:
    """Parse arguments and run the pipeline; returns the exit code."""
    from xray_desktop.training.train import TrainConfig

    ap = argparse.ArgumentParser(prog="python -m xray_desktop.training", description=__doc__)
    ap.add_argument("--data", type=Path, required=True, help="kermany-224 folder (has train-manifest.tsv)")
    ap.add_argument("--out", type=Path, default=Path("resources/models"), help="where the model and card go")
    ap.add_argument("--run-dir", type=Path, default=Path("runs/bundled"), help="checkpoints (resumable)")
    ap.add_argument("--epochs", type=int, default=TrainConfig.epochs)
    ap.add_argument("--seed", type=int, default=TrainConfig.seed)
    ap.add_argument("--val-fraction", type=float, default=0.15)
    ap.add_argument("--time-steps", type=int, default=0, help="only time N training steps, then stop")
    ap.add_argument("--finalize-only", action="store_true", help="skip fitting; write artefacts from best checkpoint")
    args = ap.parse_args(argv)

    if not (args.data / "train-manifest.tsv").exists():
        print(f"error: {args.data} has no train-manifest.tsv", file=sys.stderr)
        return 2
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    t_start = time.time()
    cfg = TrainConfig(epochs=args.epochs, seed=args.seed, max_steps_per_epoch=args.time_steps)
    train, val, (xt, yt, xv, yv) = load_data(args.data, args.run_dir, args.val_fraction, args.seed)
    _log(f"train {len(train)} images ({int(yt.sum())} pneumonia), val {len(val)} ({int(yv.sum())} pneumonia)")

    from xray_desktop.model.preprocess import INPUT_SIZE
    from xray_desktop.training.train import fit

    if args.time_steps:
        run = args.run_dir.with_name(args.run_dir.name + "-timing")
        cfg.epochs = 1
        t0 = time.time()
        fit(xt, yt, xv[:64], yv[:64], run, cfg, INPUT_SIZE, log=_log)
        _log(f"{args.time_steps} steps + tiny eval took {time.time() - t0:.1f} s")
        return 0
    if args.finalize_only:
        from xray_desktop.training.arch import build_model

        model = build_model(INPUT_SIZE, width=cfg.width, dropout=cfg.dropout)
        model.load_weights(args.run_dir / "best.weights.h5")
    else:
        model = fit(xt, yt, xv, yv, args.run_dir, cfg, INPUT_SIZE, log=_log)
    from xray_desktop.training.finalize import write_artifacts

    state = json.loads((args.run_dir / "state.json").read_text())
    card = write_artifacts(
        model=model,
        out_dir=args.out,
        data_dir=args.data,
        train=train,
        val=val,
        arrays=(xt, yt, xv, yv),
        cfg=cfg,
        state=state,
        command=f"python -m xray_desktop.training --data {args.data} --out {args.out} --epochs {args.epochs} "
        f"--seed {args.seed}",
        finalize_command=" ".join(["python -m xray_desktop.training", *(argv if argv is not None else sys.argv[1:])])
        if args.finalize_only else "",
        wall_seconds=time.time() - t_start + sum(h["seconds"] for h in state["history"]),
        log=_log,
    )
    _log(f"done: {card['name']} {card['version']} sha256 {card['sha256'][:12]}...")
    return 0
