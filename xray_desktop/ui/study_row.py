"""One row of the work list: a study's pipeline status and its small summary (never pixels).

Plain Python, no Qt: the model that shows these rows (``study_list.py``) copies them into its
cells. ``Status``, ``StudyRow`` and ``DONE`` are also importable from ``study_list``.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from xray_desktop import decision
from xray_desktop.domain import StudyMetadata
from xray_desktop.io.studies import ImageStudy, StudyImage, choose_ai_image, image_ids


class Status(enum.Enum):
    """Where a study is in the pipeline; ``value`` is the text the list shows."""

    QUEUED = "queued"
    LOADING = "loading"
    ANALYSING = "analysing"
    AI_READY = "AI ready"
    REJECTED = "refused"  # by the input gate; the tooltip and the detail line say why
    OUT_OF_SCOPE = "out of scope"  # outside the intended use; the AI label column says why
    LOADED = "no AI"
    ERROR = "error"
    CANCELLED = "not analysed"
    CONFIRMED = "confirmed"


# Statuses a study ends in: the batch has nothing left to do for it.
DONE = {Status.AI_READY, Status.REJECTED, Status.OUT_OF_SCOPE, Status.LOADED, Status.ERROR, Status.CONFIRMED,
        Status.CANCELLED}


@dataclass
class StudyRow:
    """What the list keeps per study: small, so hundreds of rows cost little memory."""

    path: Path
    order: int
    status: Status = Status.QUEUED
    error: str = ""
    key: str = ""
    sha256: str = ""
    metadata: StudyMetadata | None = None
    thumbnail: bytes | None = None  # JPEG; a pixmap exists only while the row is near the screen
    probability: float | None = None
    gate_accepted: bool | None = None
    gate_reason: str = ""
    out_of_scope: str = ""  # outside the model's intended use (e.g. "age 62 y"): no AI call
    read: Any = None  # latest records.Read, or None
    warning: str = ""  # e.g. a UID collision (records.identity); shown on the row
    # The study: its images (``path`` is the one the AI reads, or the first when none), the
    # images the AI could not use (path -> why), why it reads the one it does.
    study: ImageStudy | None = None
    refused: dict[Path, str] = field(default_factory=dict)
    ai_reason: str = ""
    gen: int = 0  # bumped whenever the AI image changes: answers for an older one are stale
    home: Path = None  # type: ignore[assignment]  # the row's first file: drafts are kept under it (``path`` may change)
    no_frontal: bool = False  # no image the AI may read (laterals only, or every candidate refused)

    def __post_init__(self) -> None:
        if self.home is None:
            self.home = self.path

    @property
    def images(self) -> tuple[StudyImage, ...]:
        return self.study.images if self.study is not None else ()

    @property
    def image_ids(self) -> tuple[tuple[str, str], ...]:
        """(key, SHA-256) of every image: what a read of the study records."""
        return image_ids(self.study) if self.study is not None else ()

    @property
    def ai_index(self) -> int:
        """Index of the image the AI reads in :attr:`images` (0 when it reads none)."""
        return next((i for i, im in enumerate(self.images) if im.path == self.path), 0)

    def images_text(self) -> str:
        """The Images cell: "2 PA/LL" (count, views), "1" for a file without views."""
        n = len(self.images) or 1
        views = [im.view or "?" for im in self.images]
        return f"{n} {'/'.join(views)}" if any(v != "?" for v in views) else str(n)

    def choose(self) -> bool:
        """Pick the image the AI reads (``io.studies.choose_ai_image``); True when it changed."""
        if self.study is None:
            return False
        choice = choose_ai_image(self.study, self.refused)
        self.ai_reason, self.no_frontal = choice.reason, choice.image is None
        if choice.image is not None:
            path = choice.image.path
        else:  # nothing the AI may read: stay on the last image tried, else show the first
            path = self.path if any(im.path == self.path for im in self.images) else self.images[0].path
        if path == self.path:
            return False
        self.path, self.gen = path, self.gen + 1
        return True

    @property
    def name(self) -> str:
        md = self.metadata
        if md is not None and md.patient_name:
            return md.patient_name.replace("^", " ").strip()
        return self.path.name

    def verdict(self, threshold: float | None) -> decision.Verdict:
        """The AI verdict at ``threshold``: no probability or label when refused or out of scope."""
        return decision.verdict(self.probability, threshold, self.gate_accepted, self.gate_reason, self.out_of_scope)

    def ai_label(self, threshold: float | None) -> str:
        """'PNEUMONIA' / 'NORMAL' at ``threshold``; '' when there is no usable AI answer."""
        return self.verdict(threshold).label

    def withheld(self) -> str:
        """Why the AI call is withheld ("refused by the input gate: …", "outside intended use (…)"), or ""."""
        return decision.not_assessed_text(self.gate_accepted, self.gate_reason, self.out_of_scope)
