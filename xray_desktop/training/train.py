"""Fit the network with augmentation, checkpointing every epoch so a run can resume."""

from __future__ import annotations

import json
import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from xray_desktop.model.metrics import roc_auc


@dataclass
class TrainConfig:
    """Every knob of a training run; written next to the checkpoints."""

    seed: int = 1234
    epochs: int = 30
    batch_size: int = 32
    learning_rate: float = 2e-3
    weight_decay: float = 1e-4
    warmup_epochs: int = 1
    patience: int = 8
    width: int = 48
    dropout: float = 0.3
    label_smoothing: float = 0.05
    max_steps_per_epoch: int = 0  # >0 only to time a few steps



def compile_for_training(model: Any, cfg: Any, steps: int) -> None:
    """AdamW on a warm-up + cosine schedule, smoothed BCE on logits (1.0.0 and model-2 members alike)."""
    import keras

    total, warm = steps * cfg.epochs, steps * cfg.warmup_epochs
    schedule = keras.optimizers.schedules.CosineDecay(
        cfg.learning_rate / 10, max(total - warm, 1), alpha=0.01,
        warmup_target=cfg.learning_rate, warmup_steps=warm,
    )
    model.compile(
        optimizer=keras.optimizers.AdamW(schedule, weight_decay=cfg.weight_decay),
        loss=keras.losses.BinaryCrossentropy(from_logits=True, label_smoothing=cfg.label_smoothing),
    )

def _augmenter(seed: int) -> Any:
    """Geometric + intensity augmentation, applied to batches in tf.data (not saved)."""
    import keras
    import tensorflow as tf
    from keras import layers

    geo = keras.Sequential(
        [
            layers.RandomRotation(0.03, fill_mode="constant", fill_value=-1.0, seed=seed),
            layers.RandomTranslation(0.08, 0.08, fill_mode="constant", fill_value=-1.0, seed=seed + 1),
            layers.RandomZoom((-0.15, 0.15), fill_mode="constant", fill_value=-1.0, seed=seed + 2),
        ],
        name="augment",
    )
    gen = tf.random.Generator.from_seed(seed + 3)

    def augment(x: Any, y: Any) -> tuple[Any, Any]:
        x = tf.cast(x, tf.float32)
        x = geo(x, training=True)
        n = tf.shape(x)[0]
        # intensity: gamma, contrast, brightness, noise (why: the test source is shifted)
        x01 = tf.clip_by_value((x + 1.0) / 2.0, 0.0, 1.0)
        gamma = tf.exp(gen.uniform([n, 1, 1, 1], -0.35, 0.35))
        x01 = tf.pow(x01 + 1e-6, gamma)
        contrast = gen.uniform([n, 1, 1, 1], 0.8, 1.2)
        bright = gen.uniform([n, 1, 1, 1], -0.08, 0.08)
        mean = tf.reduce_mean(x01, axis=[1, 2, 3], keepdims=True)
        x01 = (x01 - mean) * contrast + mean + bright
        x01 = x01 + gen.normal(tf.shape(x01), stddev=0.02)
        return tf.clip_by_value(x01 * 2.0 - 1.0, -1.0, 1.0), y

    return augment


def fit(
    x_train: np.ndarray,
    y_train: np.ndarray,
    x_val: np.ndarray,
    y_val: np.ndarray,
    run_dir: Path,
    cfg: TrainConfig,
    input_size: int,
    log: Any = print,
) -> Any:
    """Train (or resume) in ``run_dir``; returns the best model (by validation AUC)."""
    import keras
    import tensorflow as tf

    from xray_desktop.training.arch import build_model

    run_dir.mkdir(parents=True, exist_ok=True)
    state_path = run_dir / "state.json"
    last_path = run_dir / "last.keras"
    best_path = run_dir / "best.weights.h5"
    keras.utils.set_random_seed(cfg.seed)

    steps = math.ceil(len(x_train) / cfg.batch_size)
    if cfg.max_steps_per_epoch:
        steps = min(steps, cfg.max_steps_per_epoch)
    state: dict[str, Any] = {"epoch": 0, "best_auc": -1.0, "best_epoch": -1, "history": []}
    if state_path.exists() and last_path.exists():
        state = json.loads(state_path.read_text())
        model = keras.models.load_model(last_path, safe_mode=True)
        log(f"resuming after epoch {state['epoch']} (best AUC {state['best_auc']:.4f})")
    else:
        model = build_model(input_size, width=cfg.width, dropout=cfg.dropout)
        compile_for_training(model, cfg, steps)
        (run_dir / "config.json").write_text(json.dumps(asdict(cfg), indent=2))
    log(f"model: {model.count_params():,} parameters; {steps} steps/epoch")

    # Balanced loss: weight each class inversely to its frequency.
    pos = float(y_train.mean())
    weights = np.where(y_train > 0.5, 0.5 / pos, 0.5 / (1 - pos)).astype(np.float32)
    ds = (
        tf.data.Dataset.from_tensor_slices((x_train, y_train, weights))
        .shuffle(len(x_train), seed=cfg.seed, reshuffle_each_iteration=True)
        .batch(cfg.batch_size)
    )
    augment = _augmenter(cfg.seed)
    ds = ds.map(lambda x, y, w: (*augment(x, y), w), num_parallel_calls=1).prefetch(2)

    for epoch in range(state["epoch"], cfg.epochs):
        t0 = time.time()
        hist = model.fit(ds, epochs=epoch + 1, initial_epoch=epoch, steps_per_epoch=steps, verbose=0)
        val_logits = predict_logits(model, x_val)
        auc = roc_auc(y_val, val_logits)
        loss = float(hist.history["loss"][-1])
        improved = not auc <= state["best_auc"]  # nan (one-class val) counts as improved
        if improved:
            state.update(best_auc=auc, best_epoch=epoch + 1)
            model.save_weights(best_path)
        state["epoch"] = epoch + 1
        state["history"].append({"epoch": epoch + 1, "loss": loss, "val_auc": auc, "seconds": time.time() - t0})
        model.save(last_path)
        state_path.write_text(json.dumps(state, indent=2))
        log(
            f"epoch {epoch + 1}/{cfg.epochs}  loss {loss:.4f}  val AUC {auc:.4f}"
            f"{'  *best' if improved else ''}  ({time.time() - t0:.0f} s)"
        )
        if epoch + 1 - state["best_epoch"] >= cfg.patience:
            log(f"early stop: no AUC gain for {cfg.patience} epochs")
            break
    model.load_weights(best_path)
    return model


def predict_logits(model: Any, x: np.ndarray, batch: int = 64) -> np.ndarray:
    """Logits for a float array, in batches, inference mode."""
    out = [
        np.asarray(model(x[i : i + batch].astype(np.float32), training=False)).reshape(-1)
        for i in range(0, len(x), batch)
    ]
    return np.concatenate(out) if out else np.zeros((0,), np.float32)
