"""Plain values shared by every layer: studies, predictions, the diagnosis vocabulary.

Reads (a radiologist's confirmed diagnosis) are records values: ``records.reads``.

Nothing here imports Qt or TensorFlow; the arrows between layers carry these.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np


@dataclass(frozen=True)
class StudyMetadata:
    """What the file says about the patient, the acquisition and the encoding.

    Every text field is a (possibly empty) string, so callers never test for None.
    """

    source_format: str = ""  # "DICOM", "PNG" or "JPEG"
    patient_name: str = ""
    patient_id: str = ""
    birth_date: str = ""
    age: str = ""
    sex: str = ""
    study_date: str = ""
    accession: str = ""
    modality: str = ""
    body_part: str = ""
    view_position: str = ""
    institution: str = ""
    sop_instance_uid: str = ""
    sop_class: str = ""  # human-readable SOP class name, e.g. "Digital X-Ray Image Storage"
    rows: int = 0
    cols: int = 0
    frames: int = 1
    transfer_syntax: str = ""  # "name (UID)" for DICOM, empty for rasters
    photometric: str = ""
    bits_stored: int = 8
    # Age at the study in years, from PatientAge or BirthDate + StudyDate/AcquisitionDate
    # (io.age.age_years); None when the file does not say.
    age_years: float | None = None


@dataclass
class Study:
    """A decoded study, ready to show and to classify.

    ``pixels`` is a 2-D float32 array in [0, 1] in presentation space (bone bright,
    air dark) after the modality LUT, the VOI window and any inversion.  ``raw`` keeps
    the modality values (after rescale, before VOI and inversion) so the viewer can
    re-window; ``window`` is the (center, width) in raw units that produced ``pixels``.
    """

    path: Path
    pixels: np.ndarray
    metadata: StudyMetadata
    sha256: str
    raw: np.ndarray | None = None
    window: tuple[float, float] | None = None
    inverted: bool = False  # True when raw -> presentation flips polarity (MONOCHROME1)
    notes: list[str] = field(default_factory=list)  # e.g. "stored window was blank"
    tags: list[tuple[str, str, str]] = field(default_factory=list)  # (tag, name, value)

    @property
    def key(self) -> str:
        """Identity of the study in the records: SOP Instance UID, else file SHA-256."""
        return self.metadata.sop_instance_uid or self.sha256


class Diagnosis(str, enum.Enum):  # noqa: UP042 - str() of members is relied on as-is
    """The radiologist's final call."""

    PNEUMONIA = "PNEUMONIA"
    NORMAL = "NORMAL"
    INDETERMINATE = "INDETERMINATE"
    OTHER = "OTHER"


@dataclass(frozen=True)
class GateResult:
    """Whether an image is fit for the model, and why not."""

    accepted: bool
    reason: str = ""
    ood_score: float | None = None


@dataclass
class Prediction:
    """One model answer for one study."""

    probability: float  # calibrated P(pneumonia)
    logit: float  # raw model logit, before temperature scaling
    heatmap: np.ndarray | None  # float32 [0, 1], the film's aspect, long side <= heatmap.MAX_SIDE px; or None
    gate: GateResult
    model_version: str
    model_sha256: str
    elapsed_ms: float
    model_input: np.ndarray | None = None  # the exact preprocessed input, for the viewer
    # Non-empty when the study is outside the model's intended use (e.g. "outside intended
    # use (age 62 y)"): the AI call is then withheld, like a gate refusal (decision.verdict).
    out_of_scope: str = ""


class FailureKind(str, enum.Enum):  # noqa: UP042 - compared with plain strings in tests and logs
    """Why a background job failed, so the GUI never has to guess from the message text."""

    MODEL_REFUSED = "model_refused"  # the model failed a safety check (integrity, trust, code)
    LOAD_ERROR = "load_error"  # the model or a study could not be loaded
    ANALYSIS_ERROR = "analysis_error"  # a prediction raised
    UNEXPECTED = "unexpected"  # a bug: anything else


@dataclass(frozen=True)
class WorkerFailure:
    """A failure crossing the worker boundary. ``message`` is final: shown as-is, never re-prefixed."""

    kind: FailureKind
    message: str
