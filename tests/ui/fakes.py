"""A fake classifier (no TensorFlow) with a small valid model card, and study-file helpers."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from xray_desktop.domain import FailureKind, GateResult, Prediction, Study
from xray_desktop.model.card import ModelCard
from xray_desktop.model.classifier import ModelError


def _sens(t: float) -> float:
    return 1.0 - t**3


def _spec(t: float) -> float:
    return 1.0 - (1.0 - t) ** 3


def card_data() -> dict[str, Any]:
    """A synthetic card: a monotone ROC on 21 thresholds and the three named operating points."""
    ts = [i / 20 for i in range(21)]
    roc = [{"threshold": t, "sensitivity": _sens(t), "specificity": _spec(t)} for t in ts]
    ops = {name: {"threshold": t, "sensitivity": _sens(t), "specificity": _spec(t)}
           for name, t in (("high-sensitivity", 0.25), ("balanced", 0.5), ("high-specificity", 0.75))}
    return {
        "name": "fake-pneumonia", "version": "0.0-test", "file": "model.keras", "sha256": "f" * 64,
        "input": {"size": 192, "channels": 1}, "calibration": {"temperature": 1.0, "bias": 0.0},
        "roc": roc, "operating_points": ops, "default_operating_point": "balanced",
        "intended_use": "Second reader for pediatric chest X-rays (test card).",
    }


def make_card() -> ModelCard:
    return ModelCard(card_data())


class FakeClassifier:
    """Answers from the image content: probability = mean pixel value; 'ood' in the name is rejected,
    'adult' in the name is outside the intended use."""

    def __init__(self, delay: float = 0.0) -> None:
        self.card = make_card()
        self.version = self.card.version
        self.sha256 = self.card.sha256
        self.delay = delay
        self.calls = 0
        self.threads: set[str] = set()

    def predict(self, study: Study, heatmap: bool = True) -> Prediction:
        self.calls += 1
        self.threads.add(threading.current_thread().name)
        if self.delay:
            time.sleep(self.delay)
        p = float(np.clip(study.pixels.mean(), 0.0, 1.0))
        gate = GateResult(False, "not a frontal chest radiograph") if "ood" in study.path.name \
            else GateResult(True)
        heat = np.full(study.pixels.shape, 0.5, np.float32) if heatmap else None
        # "adult" in the name: outside the intended age range (as the real classifier says from DICOM ages).
        scope = "age 62 y" if "adult" in study.path.name else ""
        return Prediction(probability=p, logit=0.0, heatmap=heat, gate=gate,
                          model_version=self.version, model_sha256=self.sha256, elapsed_ms=self.delay * 1000,
                          model_input=np.zeros((192, 192, 1), np.float32), out_of_scope=scope)


def factory(delay: float = 0.0, fail: str = "", holder: list | None = None, load_delay: float = 0.0):
    """A classifier factory; ``fail`` makes it raise like a refused model; ``holder`` gets the instance."""

    def make() -> FakeClassifier:
        if load_delay:
            time.sleep(load_delay)
        if fail:
            raise ModelError(fail, FailureKind.MODEL_REFUSED)  # as Classifier.load raises it
        c = FakeClassifier(delay)
        if holder is not None:
            holder.append(c)
        return c

    return make


def write_png(path: Path, level: float, size: int = 64) -> Path:
    """A grey PNG whose mean pixel (so the fake probability) is about ``level``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(abs(hash(path.name)) % 2**32)
    noise = rng.integers(-8, 9, size=(size, size))
    arr = np.clip(round(level * 255) + noise, 0, 255).astype(np.uint8)
    Image.fromarray(arr).save(path)
    return path


def write_broken(path: Path) -> Path:
    """A file that claims to be a PNG but is truncated."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 40)
    return path
