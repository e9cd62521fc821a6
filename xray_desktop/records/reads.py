"""The values the records layer stores and returns: ReadInput, Read, VerifyResult, errors.

A *read* is one radiologist's confirmed diagnosis of one study, together with what the
AI said at the time. Reads are append-only: a correction is a new read that
``supersedes`` the old one, so the audit trail is never rewritten.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable
from dataclasses import dataclass, field, fields, replace
from datetime import datetime

from xray_desktop.decision import AGREE, DISAGREE, NOT_APPLICABLE, agreement
from xray_desktop.domain import Diagnosis
from xray_desktop.records.columns import COLUMNS, INPUT, Phi

__all__ = ["AGREE", "DISAGREE", "NOT_APPLICABLE", "agreement"]

AI_LABELS = ("PNEUMONIA", "NORMAL", "")
# Read-first mode: the reader's call before the AI is shown, then the final call after it.
FIRST_IMPRESSION, READ_FIRST_FINAL = "first-impression", "read-first-final"
# Second look: another reviewer's call on a confirmed study, superseding the reader's.
ADJUDICATOR = "adjudicator"
ROLES = ("", FIRST_IMPRESSION, READ_FIRST_FINAL, ADJUDICATOR)

# Columns that identify the patient. The schema keeps them next to each other and the
# de-identified export drops (or coarsens) them; nothing in this package logs them.
PHI_FIELDS = tuple(c.name for c in COLUMNS if c.phi is Phi.IDENTIFIER)


class StoreError(Exception):
    """The reads database cannot do what was asked (corrupt, locked, newer schema...).

    The message is meant for a person: it says what is wrong and never contains PHI.
    """


class InvalidReadError(StoreError, ValueError):
    """A ReadInput failed validation; catchable as StoreError or as ValueError."""


@dataclass(frozen=True)
class ReadInput:
    """What the GUI hands to ``Store.add_read``: everything but the id, time and hashes.

    PHI fields (and the path and the note) are left out of ``repr`` so that a read that
    ends up in a log line or a traceback does not carry the patient with it.
    """

    reviewer: str
    study_key: str
    file_path: str = field(repr=False)
    file_sha256: str
    final_diagnosis: Diagnosis
    confidence: int  # 1 (unsure) .. 5 (certain)
    patient_id: str = field(default="", repr=False)
    patient_name: str = field(default="", repr=False)
    birth_date: str = field(default="", repr=False)
    study_date: str = field(default="", repr=False)
    accession: str = field(default="", repr=False)
    ai_probability: float | None = None  # calibrated P(pneumonia) shown to the reader
    threshold: float | None = None  # the operating threshold in force
    operating_point: str = ""
    ai_label: str = ""  # "PNEUMONIA", "NORMAL" or "" (no AI answer, e.g. gate rejected)
    model_version: str = ""
    model_sha256: str = ""
    gate_result: str = ""  # e.g. "accepted" or "rejected: lateral view"
    note: str = field(default="", repr=False)
    time_spent_ms: int = 0
    supersedes: int | None = None  # id of the read this one corrects (same study)
    other_finding: str = ""  # free text when final_diagnosis is OTHER
    # A read of a study: every image's key and file SHA-256, space-separated in study order
    # (``study_images``); the file_* fields are then those of the image the AI read.
    image_keys: str = field(default="", repr=False)
    image_sha256s: str = field(default="", repr=False)
    role: str = ""  # one of ROLES: "" for an ordinary read

    @property
    def images(self) -> list[tuple[str, str]]:
        """(key, SHA-256) of each image of a study read; [] for a read of one file."""
        return list(zip(self.image_keys.split(), self.image_sha256s.split(), strict=False))


@dataclass(frozen=True, kw_only=True)
class Read(ReadInput):
    """A stored read: the input plus its id, UTC time and its link in the hash chain."""

    id: int
    created_at: datetime  # timezone-aware UTC
    row_hash: str
    prev_hash: str

    @property
    def agreement(self) -> str:
        """Whether the reader agrees with the AI label (see ``decision.agreement``)."""
        return agreement(self.final_diagnosis, self.ai_label)

    def to_input(self, **changes: object) -> ReadInput:
        """A ReadInput with this read's values (handy for an amendment), with changes."""
        values = {f.name: getattr(self, f.name) for f in fields(ReadInput)}
        return replace(ReadInput(**values), **changes)


@dataclass(frozen=True)
class VerifyResult:
    """Outcome of re-computing the hash chain."""

    ok: bool
    checked: int  # rows examined (all of them when ok)
    first_broken_id: int | None
    message: str
    head_id: int = 0  # the newest read checked (0: none), its row_hash: what an anchor records
    head_hash: str = ""


# Validated as strings without NUL: every input column whose value is text.
_TEXT_FIELDS = tuple(c.name for c in INPUT if c.type is str)


def _fraction(name: str, value: object) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise InvalidReadError(f"{name} must be a number between 0 and 1 or None, got {type(value).__name__}")
    f = float(value)
    if not math.isfinite(f) or not 0.0 <= f <= 1.0:
        raise InvalidReadError(f"{name} must be between 0 and 1, got {f!r}")
    return f


def study_images(images: Iterable[tuple[str, str]]) -> dict[str, str]:
    """The ``image_keys``/``image_sha256s`` values of a study read from (key, SHA-256) pairs."""
    pairs = list(images)
    return {"image_keys": " ".join(k for k, _ in pairs), "image_sha256s": " ".join(h for _, h in pairs)}


def _check_images(read: ReadInput) -> None:
    keys, hashes = read.image_keys.split(), read.image_sha256s.split()
    if len(keys) != len(hashes):
        raise InvalidReadError(f"image_keys lists {len(keys)} images but image_sha256s {len(hashes)}")
    if " ".join(keys) != read.image_keys or " ".join(hashes) != read.image_sha256s:
        raise InvalidReadError("image_keys and image_sha256s must be single-space-separated, without padding")
    if any(len(h) != 64 or h.strip("0123456789abcdef") for h in hashes):
        raise InvalidReadError("image_sha256s must hold lower-case hex SHA-256 values")
    if hashes and read.file_sha256 not in hashes:
        raise InvalidReadError("the file a study read names (file_sha256) must be one of its images")


def _check_role(read: ReadInput) -> None:
    if read.role not in ROLES:
        raise InvalidReadError(f"role must be one of {', '.join(repr(r) for r in ROLES)}")
    if read.role == FIRST_IMPRESSION and (read.ai_probability is not None or read.threshold is not None
                                          or read.ai_label or read.operating_point):
        raise InvalidReadError("a first impression is recorded before the AI is shown: it carries no AI fields")
    if read.role == READ_FIRST_FINAL and read.supersedes is None:
        raise InvalidReadError("a read-first final read supersedes the reader's first impression")
    if read.role == ADJUDICATOR and read.supersedes is None:
        raise InvalidReadError("an adjudication supersedes the read it adjudicates")


def normalized(read: ReadInput) -> ReadInput:
    """Validate a ReadInput and return it with canonical types (enum, int, float).

    Raises InvalidReadError with a message that names the field; the message never
    echoes a text field's value, since most of them can hold PHI.
    """
    if not isinstance(read, ReadInput):
        raise InvalidReadError(f"expected a ReadInput, got {type(read).__name__}")
    for name in _TEXT_FIELDS:
        if not isinstance(getattr(read, name), str):
            raise InvalidReadError(f"{name} must be a string")
        if "\x00" in getattr(read, name):
            raise InvalidReadError(f"{name} must not contain NUL characters")
    if not read.reviewer.strip():
        raise InvalidReadError("the reviewer name is required (in the GUI: File > Change reviewer…)")
    if not read.study_key.strip():
        raise InvalidReadError("study_key is required")
    try:
        diagnosis = Diagnosis(read.final_diagnosis)
    except ValueError:
        choices = ", ".join(d.value for d in Diagnosis)
        raise InvalidReadError(f"final_diagnosis must be one of {choices}") from None
    conf = read.confidence
    if isinstance(conf, bool) or not isinstance(conf, numbers.Integral) or not 1 <= int(conf) <= 5:
        raise InvalidReadError(f"confidence must be an integer from 1 to 5, got {conf!r}")
    if read.ai_label not in AI_LABELS:
        raise InvalidReadError('ai_label must be "PNEUMONIA", "NORMAL" or ""')
    spent = read.time_spent_ms
    if isinstance(spent, bool) or not isinstance(spent, numbers.Integral) or int(spent) < 0:
        raise InvalidReadError(f"time_spent_ms must be a non-negative integer, got {spent!r}")
    _check_images(read)
    sup = read.supersedes
    if sup is not None and (isinstance(sup, bool) or not isinstance(sup, numbers.Integral) or int(sup) < 1):
        raise InvalidReadError(f"supersedes must be a read id or None, got {sup!r}")
    _check_role(read)
    return replace(
        read,
        final_diagnosis=diagnosis,
        confidence=int(conf),
        ai_probability=_fraction("ai_probability", read.ai_probability),
        threshold=_fraction("threshold", read.threshold),
        time_spent_ms=int(spent),
        supersedes=None if sup is None else int(sup),
    )
