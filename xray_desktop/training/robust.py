"""Model 2 members: trained on raw-pixel shifts, checkpoint chosen on the stress-validation set.

Unlike ``train.py`` (1.0.0: augmentation of already equalised tensors), every training image
here is shifted in presentation-pixel space (``stress.augment``: unsharp masking, LUT curves,
noise, blur, resampling, JPEG, geometry, borders, markers) and only then preprocessed, so the
network sees what the app computes for a film from another site. Backend-agnostic Keras 3:
a NumPy ``PyDataset`` feeds ``model.fit``; no TensorFlow ops.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from xray_desktop.model.metrics import roc_auc
from xray_desktop.model.preprocess import preprocess
from xray_desktop.training import stress
from xray_desktop.training.train import compile_for_training


@dataclass
class MemberConfig:
    """Every knob of one member's run; written next to its checkpoints."""

    seed: int = 1
    width: int = 32
    pool: int = 2  # average-pool the 192-px input to 96 px inside the model
    epochs: int = 8
    batch_size: int = 32
    learning_rate: float = 2e-3
    weight_decay: float = 1e-4
    warmup_epochs: int = 1
    dropout: float = 0.3
    label_smoothing: float = 0.05
    augment_p: float = 0.85
    max_steps_per_epoch: int = 0  # >0 only to time a few steps


def _dataset(raw: np.ndarray, y: np.ndarray, weights: np.ndarray, cfg: MemberConfig, epoch_box: list[int]) -> Any:
    """A NumPy PyDataset: batch ``i`` of epoch ``e`` is the same for a given seed (resumable)."""
    import keras

    class Shifted(keras.utils.PyDataset):
        def __init__(self) -> None:
            super().__init__(workers=1, use_multiprocessing=False)

        def __len__(self) -> int:
            n = math.ceil(len(raw) / cfg.batch_size)
            return min(n, cfg.max_steps_per_epoch) if cfg.max_steps_per_epoch else n

        def __getitem__(self, i: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
            epoch = epoch_box[0]
            order = np.random.default_rng([cfg.seed, epoch]).permutation(len(raw))
            idx = order[i * cfg.batch_size : (i + 1) * cfg.batch_size]
            rng = np.random.default_rng([cfg.seed, epoch, i, 7])
            x = np.stack([preprocess(stress.augment(raw[j].astype(np.float32) / 255.0, rng, cfg.augment_p))
                          for j in idx])
            return x, y[idx], weights[idx]

    return Shifted()


def predict_logits(model: Any, x: np.ndarray, batch: int = 64) -> np.ndarray:
    """Logits for a float array, in batches, inference mode."""
    out = [np.asarray(model(x[i : i + batch].astype(np.float32), training=False)).reshape(-1)
           for i in range(0, len(x), batch)]
    return np.concatenate(out) if out else np.zeros((0,), np.float32)


def epoch_subset(n_images: int, variants: int) -> np.ndarray:
    """Rows of the image-major stress set scored each epoch: one variant per film, rotating.

    Why: scoring all variants every epoch costs minutes on two cores; the card scores them all.
    """
    i = np.arange(n_images)
    return i * variants + i % variants


def fit_member(
    raw_train: np.ndarray, y_train: np.ndarray, val: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray],
    run_dir: Path, cfg: MemberConfig, input_size: int, log: Any = print,
) -> Any:
    """Train (or resume) one member in ``run_dir``; returns it at its best stressed-val AUC."""
    import keras

    from xray_desktop.training.arch import build_model

    xv, yv, xs, ys = val  # xs/ys: the per-epoch subset of the stress set
    run_dir.mkdir(parents=True, exist_ok=True)
    state_path, last_path, best_path = run_dir / "state.json", run_dir / "last.keras", run_dir / "best.weights.h5"
    keras.utils.set_random_seed(cfg.seed)
    state: dict[str, Any] = {"epoch": 0, "best_auc": -1.0, "best_epoch": -1, "history": [], "done": False}
    pos = float(y_train.mean())
    weights = np.where(y_train > 0.5, 0.5 / pos, 0.5 / (1 - pos)).astype(np.float32)
    if state_path.exists() and json.loads(state_path.read_text()).get("done") and best_path.exists():
        model = build_model(input_size, width=cfg.width, dropout=cfg.dropout, pool=cfg.pool)
        model.load_weights(best_path)
        log(f"member seed {cfg.seed} width {cfg.width}: already trained")
        return model
    epoch_box = [0]
    ds = _dataset(raw_train, y_train.astype(np.float32), weights, cfg, epoch_box)
    steps = len(ds)
    if state_path.exists() and last_path.exists():
        state = json.loads(state_path.read_text())
        model = keras.models.load_model(last_path, safe_mode=True)
        log(f"resuming after epoch {state['epoch']} (best stressed AUC {state['best_auc']:.4f})")
    else:
        model = build_model(input_size, width=cfg.width, dropout=cfg.dropout, pool=cfg.pool)
        compile_for_training(model, cfg, steps)
        (run_dir / "config.json").write_text(json.dumps(asdict(cfg), indent=2))
    log(f"member seed {cfg.seed} width {cfg.width}: {model.count_params():,} parameters; {steps} steps/epoch")
    for epoch in range(state["epoch"], cfg.epochs):
        t0 = time.time()
        epoch_box[0] = epoch
        hist = model.fit(ds, epochs=epoch + 1, initial_epoch=epoch, verbose=0)
        t_fit = time.time() - t0
        clean = float("nan")  # clean AUC is scored once at the end (card); saturated anyway
        stressed = roc_auc(ys, predict_logits(model, xs))
        improved = not stressed <= state["best_auc"]
        if improved:
            state.update(best_auc=stressed, best_epoch=epoch + 1)
            model.save_weights(best_path)
        state["epoch"] = epoch + 1
        state["history"].append({"epoch": epoch + 1, "loss": float(hist.history["loss"][-1]), "val_auc": clean,
                                 "stressed_auc": stressed, "seconds": time.time() - t0, "fit_seconds": t_fit})
        model.save(last_path)
        state_path.write_text(json.dumps(state, indent=2))
        log(f"epoch {epoch + 1}/{cfg.epochs}  loss {state['history'][-1]['loss']:.4f}  val AUC {clean:.4f}  "
            f"stressed AUC {stressed:.4f}{'  *best' if improved else ''}  ({time.time() - t0:.0f} s, fit {t_fit:.0f})")
    state["done"] = True
    state_path.write_text(json.dumps(state, indent=2))
    model.load_weights(best_path)
    return model
