"""Build a tiny but real model folder (model + card + gate) for classifier tests."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from xray_desktop.io.loader import file_sha256
from xray_desktop.model.gate import OodModel
from xray_desktop.model.preprocess import INPUT_SIZE
from xray_desktop.training.probes import reference_image


def synthetic_card(model_sha: str = "0" * 64, **extra: object) -> dict:
    """A valid card with a smooth synthetic ROC (no TensorFlow needed)."""
    t = np.linspace(0.0, 1.0, 101)
    roc = [{"threshold": float(x), "sensitivity": float(1 - x**3), "specificity": float(np.sqrt(x))} for x in t]
    card = {
        "name": "tiny test model",
        "version": "0.0.1-test",
        "file": "model.keras",
        "sha256": model_sha,
        "input": {"size": INPUT_SIZE},
        "calibration": {"temperature": 1.0, "bias": 0.0},
        "roc": roc,
        "operating_points": {
            "high-sensitivity": {"threshold": 0.2, "sensitivity": 0.992, "specificity": 0.447},
            "balanced": {"threshold": 0.5, "sensitivity": 0.875, "specificity": 0.707},
            "high-specificity": {"threshold": 0.8, "sensitivity": 0.488, "specificity": 0.894},
        },
        "default_operating_point": "balanced",
    }
    card.update(extra)
    return card


def build_tiny_model_dir(folder: Path, seed: int = 0, lambda_layer: bool = False) -> Path:
    """Save a small functional model with the runtime's layer names and a matching card."""
    import keras
    from keras import layers

    keras.utils.set_random_seed(seed)
    inp = keras.Input((INPUT_SIZE, INPUT_SIZE, 1), name="image")
    x = layers.Conv2D(4, 5, strides=4, padding="same")(inp)
    if lambda_layer:
        x = layers.Lambda(lambda v: v * 2.0)(x)
    x = layers.Conv2D(8, 3, strides=4, padding="same", activation="relu", name="features")(x)
    x = layers.GlobalAveragePooling2D()(x)
    out = layers.Dense(1, name="logit")(x)
    model = keras.Model(inp, out)
    folder.mkdir(parents=True, exist_ok=True)
    model.save(folder / "model.keras")
    rng = np.random.default_rng(seed)
    OodModel.fit(rng.random((64, 8)), threshold=1e6).save(str(folder / "gate.npz"))
    reference_image(folder / "reference.png")
    card = synthetic_card(
        file_sha256(folder / "model.keras"),
        gate={"file": "gate.npz", "sha256": file_sha256(folder / "gate.npz"), "ood_threshold": 1e6},
        heatmap={"scale_logit": 1.0},  # this random model's cells add at most ~0.7 to the logit
    )
    (folder / "model_card.json").write_text(json.dumps(card))
    return folder
