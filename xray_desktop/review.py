"""The reading workflow without widgets: what the reader is on, and the read a confirm records.

A :class:`ReviewSession` owns the state the window used to keep in widgets and private
attributes: the current study (row and its summary), the model and operating point in force,
the session's unsaved drafts, when the study was shown, and the ids of the load and the
prediction the window waits for (answers for any other id are stale and dropped). It builds
the :class:`~xray_desktop.records.ReadInput` of a confirm and decides, through
:func:`xray_desktop.decision.verdict`, whether the AI's answer is recorded with it. The window
(``ui/main_window.py``, ``ui/window_actions.py``) calls it and shows what it says; its rules
are tested without Qt (``tests/test_review.py``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from xray_desktop import decision
from xray_desktop.domain import Diagnosis, StudyMetadata
from xray_desktop.records import ReadInput
from xray_desktop.records.reads import ADJUDICATOR, FIRST_IMPRESSION, READ_FIRST_FINAL, study_images

# The diagnosis form's values: (diagnosis, confidence, other finding as typed, note as typed).
Draft = tuple[Diagnosis | None, int | None, str, str]
BLANK: Draft = (None, None, "", "")


class ReviewItem(Protocol):
    """What the session reads of one work-list row (``ui.study_list.StudyRow`` is one)."""

    path: Path
    key: str
    sha256: str
    metadata: StudyMetadata | None
    probability: float | None
    gate_accepted: bool | None
    gate_reason: str
    out_of_scope: str
    read: Any  # the latest records.Read, or None
    # (key, SHA-256) of every image of the study ((): a single file read as before); ``path``
    # and ``sha256`` are the image the AI read.
    image_ids: tuple[tuple[str, str], ...]


class NotReady(ValueError):
    """A confirm was asked for when the read cannot be built; the message is for the reader."""


def other_finding(draft: Draft) -> str:
    """The other finding to record: the typed text, only when the diagnosis is OTHER."""
    d, _conf, other, _note = draft
    return other.strip() if d == Diagnosis.OTHER else ""


def form_problem(draft: Draft) -> str:
    """Why a form with these values cannot be confirmed yet ("" when it can)."""
    d, conf, _other, _note = draft
    if d is None:
        return "Choose a diagnosis (P / N / I / O)"
    if d == Diagnosis.OTHER and not other_finding(draft):
        return "Describe the other finding"
    if conf is None:
        return "Choose a confidence (1–5)"
    return ""


def gate_result(item: ReviewItem) -> str:
    """What a read records of the input gate and intended use (``batch.restore_verdict`` reads it back).

    "" (no answer yet), "accepted", "accepted; outside intended use (…)" or "rejected: reason".
    """
    if item.gate_accepted is None:
        return ""
    if not item.gate_accepted:
        return f"rejected: {item.gate_reason}"
    if item.out_of_scope:
        return f"accepted; {decision.out_of_scope_text(item.out_of_scope)}"
    return "accepted"


def wants_reading(confirmed: bool, failed: bool) -> bool:
    """Whether a study still waits for the reader: not confirmed, and it could be opened."""
    return not (confirmed or failed)


def next_to_read(candidates: Iterable[int], wants: Callable[[int], bool]) -> int:
    """The study to go to after a confirm: the first of ``candidates`` that ``wants``; -1 if none.

    ``candidates`` are the rows after the confirmed one in the list's view order (the panel's);
    it is consumed lazily, so a long list is walked only as far as needed.
    """
    return next((row for row in candidates if wants(row)), -1)


@dataclass(frozen=True)
class AiDisplay:
    """What of the AI's answer on one study may be on screen."""

    probability: bool  # the number and its bar
    label: bool  # the AI label ("not assessed" included) and the agreement with the reader
    heatmap: bool
    rates: bool  # sensitivity, specificity, PPV, NPV at the operating point


HIDDEN = AiDisplay(False, False, False, False)


def ai_display(v: decision.Verdict, read_first: bool = False, impression_saved: bool = False) -> AiDisplay:
    """What may be shown of verdict ``v``.

    Normal mode: the label and rates always; the probability and heat map only for an assessed
    study (a refused image's number or map would look like a finding). Read-first mode: nothing
    until the reader's first impression of the study is saved, then as in normal mode.
    """
    if read_first and not impression_saved:
        return HIDDEN
    return AiDisplay(probability=v.assessed, label=True, heatmap=v.assessed, rates=True)


# -- the second look (issue #12 item 4) ----------------------------------------------------
# Work-list filters: key -> the text the list shows.
SECOND_LOOK = {"all": "All studies", "disagree": "AI and reader disagree", "changed": "Changed after AI"}


def is_final(read: Any) -> bool:
    """Whether ``read`` (a records.Read or None) is a confirmed call, not a first impression."""
    return read is not None and getattr(read, "role", "") != FIRST_IMPRESSION  # a read-like without role: ordinary


def second_look(mode: str, read: Any, key: str, changed_keys: Collection[str]) -> bool:
    """Whether a study with latest read ``read`` belongs in the work-list filter ``mode``.

    "disagree": the latest confirmed call against the AI label recorded with it (the label at
    the threshold in force when it was read). "changed": the study's key is in
    ``changed_keys`` (``changed_after_ai``: the read-first final differs from the first impression).
    """
    if mode == "disagree":
        return is_final(read) and decision.agreement(read.final_diagnosis, read.ai_label) == decision.DISAGREE
    if mode == "changed":
        return bool(key) and key in changed_keys
    return True


def changed_after_ai(reads: Iterable[Any]) -> set[str]:
    """Study keys whose read-first final differs from the first impression it superseded."""
    reads = list(reads)
    firsts = {r.id: r for r in reads if r.role == FIRST_IMPRESSION}
    out: set[str] = set()
    for r in reads:  # id order: a later final of the same study decides
        first = firsts.get(r.supersedes) if r.role == READ_FIRST_FINAL else None
        if first is not None:
            (out.add if first.final_diagnosis != r.final_diagnosis else out.discard)(r.study_key)
    return out


def adjudication_problem(reviewer: str, history: Iterable[Any]) -> str:
    """Why ``reviewer`` may not adjudicate a study with these reads ("" when they may).

    Adjudication is a second reviewer's call: whoever made a non-adjudicator read of the study
    (first impression, final or ordinary read) is refused; the store checks the same rule.
    """
    history = list(history)
    if not any(is_final(r) for r in history):
        return "Adjudication is for a confirmed study: it has no confirmed read yet"
    if not reviewer.strip():
        return "Enter your name to adjudicate (File → Change reviewer…)"
    if any(r.reviewer == reviewer and r.role != ADJUDICATOR for r in history):
        return (f"{reviewer} read this study: adjudication needs another reviewer "
                "(File → Change reviewer… first)")
    return ""


def calls_summary(history: Iterable[Any]) -> list[str]:
    """The calls an adjudicator weighs, one line each, oldest first: every reader's first
    impression and final call, earlier adjudications, and the AI's answer recorded with them."""
    names = {FIRST_IMPRESSION: "first impression, before the AI", READ_FIRST_FINAL: "final, after the AI",
             ADJUDICATOR: "adjudication", "": "confirmed read"}
    history = list(history)
    lines, ai = [], ""
    for i, r in enumerate(history):
        dx = r.final_diagnosis.value.capitalize() + (f": {r.other_finding}" if r.other_finding else "")
        later = " — superseded" if i < len(history) - 1 else ""
        lines.append(f"{r.reviewer} — {names.get(r.role, r.role)}: {dx} (confidence {r.confidence}){later}")
        if r.ai_label:
            point = f" ({r.operating_point})" if r.operating_point else ""
            ai = (f"AI — {decision.format_probability(r.ai_probability)} → {r.ai_label.capitalize()} at threshold "
                  f"{r.threshold:.4f}{point}, as recorded with {r.reviewer}'s read")
        elif r.role != FIRST_IMPRESSION and r.gate_result.startswith("rejected"):
            ai = f"AI — no call ({r.gate_result})"
    return [*lines, ai or "AI — no AI call recorded"]


def adjudication_input(reviewer: str, draft: Draft, latest: Any, time_spent_ms: int = 0) -> ReadInput:
    """The adjudicator's read: the form's call, superseding ``latest``, with the AI's answer it
    carried (the same AI call: probability, threshold, label, model, gate); raises :class:`NotReady`."""
    problem = form_problem(draft)
    if problem:
        raise NotReady(problem)
    d, conf, _other, note = draft
    assert d is not None and conf is not None  # form_problem said so
    return latest.to_input(reviewer=reviewer, final_diagnosis=d, confidence=int(conf), note=note.strip(),
                           other_finding=other_finding(draft), supersedes=latest.id, role=ADJUDICATOR,
                           time_spent_ms=time_spent_ms)


@dataclass(frozen=True)
class ModelInForce:
    """The loaded model as a read records it."""

    version: str
    sha256: str


class ReviewSession:
    """One reader's session at the window: the study on screen, the operating point, drafts, requests."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self.row = -1  # the work-list row on screen (a stable id: rows are only appended), -1 for none
        self.item: ReviewItem | None = None
        self.view_rid = 0  # the load the window waits for; 0 for none
        self.pred_rid = 0  # the prediction (with heat map) the window waits for; 0 for none
        self.drafts: dict[Path, Draft] = {}  # unsaved forms by study, this session only (issue 18.4)
        self.model: ModelInForce | None = None  # None until the model is ready (and if it failed)
        self._threshold = 0.5
        self.operating_point = ""  # the preset in force, "" for a threshold the reader set
        self._shown_at: float | None = None
        self.read_first = False  # AI hidden until a first impression is saved (settings.READ_FIRST)
        self.first_impressions: set[Path] = set()  # studies whose first impression is saved

    # -- the study on screen ----------------------------------------------------------------
    def select(self, row: int, item: ReviewItem | None) -> None:
        """The reader moved to ``row`` (-1: none): earlier requests are stale, the clock restarts."""
        self.row, self.item = (row, item) if item is not None else (-1, None)
        self.view_rid = self.pred_rid = 0
        self.shown()

    def is_current(self, row: int) -> bool:
        return row >= 0 and row == self.row

    def shown(self) -> None:
        """The study is on screen now: the time spent on it counts from here."""
        self._shown_at = self._clock()

    def time_spent_ms(self) -> int:
        if self._shown_at is None:
            return 0
        return max(0, int((self._clock() - self._shown_at) * 1000))

    # -- requests: answers for any other id are stale ----------------------------------------
    def expect_view(self, rid: int) -> int:
        self.view_rid = rid
        return rid

    def view_failed(self, rid: int) -> bool:
        """Whether a failed load is the one for the study on screen (a prefetch's is not)."""
        return bool(rid) and rid == self.view_rid and self.row >= 0

    def take_view(self, rid: int, row: int) -> bool:
        """True (once) when the load ``rid`` of ``row`` is the one the window waits for."""
        if rid and rid == self.view_rid and self.is_current(row):
            self.view_rid = 0
            return True
        return False

    def take_any_view(self, row: int) -> bool:
        """True (once) when the window waits for a load of ``row`` and another path decoded it first."""
        if self.view_rid and self.is_current(row):
            self.view_rid = 0
            return True
        return False

    def expect_prediction(self, rid: int) -> int:
        self.pred_rid = rid
        return rid

    def take_prediction(self, rid: int) -> bool:
        """True (once) when the prediction ``rid`` is the one for the study on screen."""
        if rid and rid == self.pred_rid and self.row >= 0:
            self.pred_rid = 0
            return True
        return False

    # -- model and operating point --------------------------------------------------------
    def model_ready(self, version: str, sha256: str) -> None:
        self.model = ModelInForce(version, sha256)

    def set_operating_point(self, threshold: float, name: str = "") -> None:
        """The threshold in force and its preset's name ("" for a custom threshold)."""
        self._threshold, self.operating_point = float(threshold), name

    @property
    def threshold(self) -> float | None:
        """The threshold in force; None while there is no model (no AI call can be made)."""
        return self._threshold if self.model is not None else None

    def verdict(self, item: ReviewItem | None = None) -> decision.Verdict:
        """The AI verdict on ``item`` (default: the study on screen) at the threshold in force."""
        item = item if item is not None else self.item
        if item is None:
            return decision.Verdict(False)
        return decision.verdict(item.probability, self.threshold, item.gate_accepted, item.gate_reason,
                                item.out_of_scope)

    def first_impression_saved(self, path: Path) -> None:
        self.first_impressions.add(path)

    def ai_display(self, v: decision.Verdict, item: ReviewItem | None = None) -> AiDisplay:
        """What may be shown of ``v`` on ``item`` (default: the study on screen) in this session's mode.

        The one gate: the AI panel, the viewer's heat map, the work list's cells, sort keys and
        tooltips all ask it. A study with a stored read (a first impression, or confirmed before)
        counts as having its first impression.
        """
        item = item if item is not None else self.item
        return ai_display(v, self.read_first, item is not None and self._impression_saved(item))

    def _impression_saved(self, item: ReviewItem) -> bool:
        return item.read is not None or item.path in self.first_impressions

    def ai_visible(self, item: ReviewItem) -> bool:
        """Whether anything of the AI's answer on ``item`` may be shown (False: read first).

        Asked for every work-list row the list re-copies, so it is ``ai_display``'s rule written
        out (hidden only in read-first mode before the first impression; a test checks they agree)
        rather than a call that builds an ``AiDisplay`` per row.
        """
        return not self.read_first or self._impression_saved(item)

    def pending_role(self, item: ReviewItem | None = None) -> str:
        """The role the next confirm of ``item`` records: a first impression (read-first mode, no
        read yet), the read-first final (its first impression is stored), or "" (an ordinary read)."""
        item = item if item is not None else self.item
        if item is None:
            return ""
        if getattr(item.read, "role", "") == FIRST_IMPRESSION:
            return READ_FIRST_FINAL
        return FIRST_IMPRESSION if self.read_first and item.read is None else ""

    def shown_label(self, item: ReviewItem | None = None) -> str:
        """The AI label the reader may see on ``item`` ("" while it is hidden)."""
        v = self.verdict(item)
        return v.label if self.ai_display(v, item).label else ""

    # -- drafts -----------------------------------------------------------------------------
    def keep_draft(self, path: Path, draft: Draft) -> None:
        self.drafts[path] = draft

    def draft_for(self, path: Path) -> Draft | None:
        return self.drafts.get(path)

    def saved(self, path: Path) -> None:
        """The study's read is stored: its draft is gone."""
        self.drafts.pop(path, None)

    # -- the read a confirm records ---------------------------------------------------------
    def read_input(self, reviewer: str, draft: Draft) -> ReadInput:
        """The read to store for the study on screen; raises :class:`NotReady` with the reason.

        A study refused by the input gate or outside the intended use had no AI call: its read
        records no probability, threshold, operating point or label (``decision.verdict``). A
        study that already has a read gets an amendment that supersedes it. In read-first mode
        (``pending_role``) the first confirm is a first impression without any AI field, and the
        next one the final read superseding it.
        """
        item = self.item
        if item is None or not item.key:
            raise NotReady("No study to confirm")
        problem = form_problem(draft)
        if problem:
            raise NotReady(problem)
        if not reviewer.strip():
            raise NotReady("Enter your name to confirm diagnoses")
        d, conf, _other, note = draft
        assert d is not None and conf is not None  # form_problem said so
        role = self.pending_role(item)
        first = role == FIRST_IMPRESSION  # before the AI was shown: nothing of it is recorded
        v = self.verdict(item)
        assessed = v.assessed and self.threshold is not None and not first
        md, model = item.metadata, self.model if not first else None
        return ReadInput(
            reviewer=reviewer, study_key=item.key, file_path=str(item.path), file_sha256=item.sha256,
            final_diagnosis=d, confidence=int(conf),
            patient_id=md.patient_id if md else "", patient_name=md.patient_name if md else "",
            birth_date=md.birth_date if md else "", study_date=md.study_date if md else "",
            accession=md.accession if md else "",
            ai_probability=v.probability if assessed else None, threshold=self.threshold if assessed else None,
            operating_point=self.operating_point if assessed else "", ai_label=v.label if assessed else "",
            model_version=model.version if model else "", model_sha256=model.sha256 if model else "",
            gate_result=gate_result(item) if not first else "", note=note.strip(), time_spent_ms=self.time_spent_ms(),
            supersedes=item.read.id if item.read is not None else None, other_finding=other_finding(draft),
            role=role,
            **study_images(item.image_ids if item.sha256 in {h for _, h in item.image_ids} else ()),
        )
