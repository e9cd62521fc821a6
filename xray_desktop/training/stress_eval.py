"""Clean vs stress-validation figures of a loaded classifier, through the app's runtime.

Used by the model card writer and by ``benchmarks/robustness.py``; the stress set is the
validation films under ``stress.stress_variant`` (deterministic), never the training films.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import replace
from typing import Any

import numpy as np

from xray_desktop.domain import Study
from xray_desktop.model import metrics
from xray_desktop.training.stress import stress_variant

STRESS_VARIANTS = 3


def stress_set(pixels: list[np.ndarray], variants: int = STRESS_VARIANTS) -> tuple[np.ndarray, list[list[str]]]:
    """Preprocessed stress-validation tensors, image-major: (n * variants, H, W, 1), and shift names."""
    from xray_desktop.model.preprocess import preprocess

    xs, names = [], []
    for i, px in enumerate(pixels):
        for v in range(variants):
            shifted, chain = stress_variant(px, i, v)
            xs.append(preprocess(shifted))
            names.append(chain)
    return np.stack(xs), names


def shifted_studies(studies: list[Study], fn: Callable[[np.ndarray, int], np.ndarray]) -> Iterable[Study]:
    """Each study with its pixels replaced by ``fn(pixels, index)`` (lazily)."""
    for i, s in enumerate(studies):
        yield replace(s, pixels=fn(s.pixels, i).astype(np.float32))


def stressed_studies(studies: list[Study], variants: int = STRESS_VARIANTS) -> Iterable[Study]:
    """The stress set, image-major (variant 0..V-1 of study 0, then study 1, ...)."""
    for i, s in enumerate(studies):
        for v in range(variants):
            yield replace(s, pixels=stress_variant(s.pixels, i, v)[0])


def score(clf: Any, studies: Iterable[Study]) -> tuple[np.ndarray, np.ndarray]:
    """(calibrated probabilities, gate accepted) for the studies, no heat maps."""
    preds = list(clf.predict_many(studies, batch_size=32, heatmap=False))
    return np.array([p.probability for p in preds]), np.array([p.gate.accepted for p in preds])


def summary(y: np.ndarray, p: np.ndarray, threshold: float) -> dict[str, float]:
    """AUC and sensitivity/specificity at ``threshold``."""
    c = metrics.confusion_at(y, p, threshold)
    return {"auc": metrics.roc_auc(y, p), "sensitivity": c["sensitivity"], "specificity": c["specificity"]}


def clean_and_stressed(clf: Any, studies: list[Study], y: np.ndarray, threshold: float) -> dict[str, Any]:
    """Figures on the clean validation films and on their stress set, at ``threshold``."""
    pc, gc = score(clf, studies)
    ps, gs = score(clf, stressed_studies(studies))
    ys = np.repeat(y, STRESS_VARIANTS)
    return {"clean": {**summary(y, pc, threshold), "gate_accepts": float(gc.mean())},
            "stressed": {**summary(ys, ps, threshold), "gate_accepts": float(gs.mean())},
            "p_clean": pc, "p_stressed": ps}
