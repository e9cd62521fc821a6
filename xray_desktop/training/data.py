"""The training data: patient-wise split and decoding through the app's own loader."""

from __future__ import annotations

import csv
import random
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from xray_desktop.io import load_study
from xray_desktop.model.preprocess import preprocess

LABELS = {"NORMAL": 0, "PNEUMONIA": 1}
_PERSON = re.compile(r"^(person\d+)_")
_IM = re.compile(r"^((?:NORMAL2-)?IM-\d+)-")


@dataclass(frozen=True)
class Example:
    """One training image: path relative to the data root, label 0/1, patient id."""

    rel_path: str
    label: int
    patient: str


def patient_of(filename: str) -> str:
    """Patient identity from a Kermany file name (see the data set's README)."""
    name = Path(filename).name
    for pattern in (_PERSON, _IM):
        m = pattern.match(name)
        if m:
            return m.group(1)
    return Path(name).stem  # unknown pattern: the file is its own patient


def read_manifest(data_dir: Path) -> list[Example]:
    """Every image listed in ``train-manifest.tsv`` with its label and patient."""
    with open(data_dir / "train-manifest.tsv", newline="") as fh:
        rows = list(csv.DictReader(fh, delimiter="\t"))
    return [
        Example(rel_path="train/" + r["path"], label=LABELS[r["label"]], patient=patient_of(r["path"]))
        for r in rows
    ]


def split_by_patient(
    examples: list[Example], val_fraction: float = 0.15, seed: int = 1234
) -> tuple[list[Example], list[Example]]:
    """Cut a validation set by patient, stratified by class, reproducibly."""
    by_patient: dict[str, list[Example]] = {}
    for ex in examples:
        by_patient.setdefault(ex.patient, []).append(ex)
    rng = random.Random(seed)
    val_patients: set[str] = set()
    for label in sorted(set(LABELS.values())):
        # a patient's class is the majority label of their images
        patients = sorted(
            p for p, exs in by_patient.items() if round(np.mean([e.label for e in exs])) == label
        )
        rng.shuffle(patients)
        target = val_fraction * sum(len(by_patient[p]) for p in patients)
        count = 0
        for p in patients:
            if count >= target:
                break
            val_patients.add(p)
            count += len(by_patient[p])
    train = [e for e in examples if e.patient not in val_patients]
    val = [e for e in examples if e.patient in val_patients]
    return train, val


def decode_all(
    data_dir: Path, examples: list[Example], progress: Callable[[int, int], None] | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Decode and preprocess every example once; returns (x float16 NHWC, y float32)."""
    from xray_desktop.model.preprocess import INPUT_SIZE

    x = np.empty((len(examples), INPUT_SIZE, INPUT_SIZE, 1), dtype=np.float16)
    y = np.empty((len(examples),), dtype=np.float32)
    for i, ex in enumerate(examples):
        study = load_study(data_dir / ex.rel_path)
        x[i] = preprocess(study.pixels)
        y[i] = ex.label
        if progress and (i + 1) % 500 == 0:
            progress(i + 1, len(examples))
    return x, y
