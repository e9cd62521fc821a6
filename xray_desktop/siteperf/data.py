"""The labelled cases a site measures its AI on: from confirmed reads, or from a labelled archive.

Both sources end as one :class:`Cases` value (AI probability, reference label, provenance),
and every refusal is a :class:`SiteDataError` whose message is one line for a person.
"""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from pathlib import Path

import numpy as np

from xray_desktop.domain import Diagnosis
from xray_desktop.records.export import unescape_cell
from xray_desktop.records.reads import ADJUDICATOR, FIRST_IMPRESSION, READ_FIRST_FINAL, Read

POSITIVE, NEGATIVE = "PNEUMONIA", "NORMAL"
REFERENCE_WORDS = "the radiologist's final diagnosis: agreement with the reader, not ground truth"


class SiteDataError(Exception):
    """The data cannot be used (wrong model, no matches, malformed file); one line for a person."""


@dataclass
class Cases:
    """Probabilities and reference labels (1 = PNEUMONIA) of the cases used, and what was left out."""

    prob: np.ndarray
    y: np.ndarray
    source: dict[str, object]
    reference: str
    excluded: dict[str, int] = field(default_factory=dict)
    ood: np.ndarray | None = None  # input-gate scores, where the source has them
    read_first: dict[str, int] | None = None  # changes_after_ai, where the source is the reads

    @property
    def n_positive(self) -> int:
        return int(self.y.sum())

    @property
    def n_negative(self) -> int:
        return int(len(self.y) - self.y.sum())


# -- confirmed reads ----------------------------------------------------------------------

def _utc_start(since: date | None) -> datetime | None:
    return datetime.combine(since, time()).astimezone(UTC) if since else None


def cases_from_reads(latest: list[Read], model_sha256: str, since: date | None = None,
                     reviewer: str | None = None, read_first_only: bool = False) -> Cases:
    """Cases from the newest read of each study (``latest``), for the model in use.

    ``latest`` must be one read per study, the newest (so superseded reads are already
    out); the filters apply after that, so a study amended by another reviewer counts
    for the amending reviewer only. Kept: final diagnosis PNEUMONIA or NORMAL, an AI
    probability, made with the model whose SHA-256 is ``model_sha256``. A first impression
    (read-first mode, no final call yet) is never a case; with ``read_first_only``, only the
    final reads of read-first mode are (the reader called the film before seeing the AI). An
    adjudication supersedes the read it settles, so it is the case's reference.
    """
    start = _utc_start(since)
    excluded = {"before --since": 0, "other reviewer": 0, "first impression only (no final read yet)": 0,
                "adjudicated (the adjudicator saw the AI)": 0, "not made in read-first mode": 0,
                "not PNEUMONIA/NORMAL": 0, "no AI probability": 0,
                "another model": 0}
    probs, ys = [], []
    for r in latest:
        if start is not None and r.created_at < start:
            excluded["before --since"] += 1
        elif reviewer is not None and r.reviewer != reviewer:
            excluded["other reviewer"] += 1
        elif r.role == FIRST_IMPRESSION:
            excluded["first impression only (no final read yet)"] += 1
        elif read_first_only and r.role == ADJUDICATOR:
            excluded["adjudicated (the adjudicator saw the AI)"] += 1
        elif read_first_only and r.role != READ_FIRST_FINAL:
            excluded["not made in read-first mode"] += 1
        elif r.final_diagnosis not in (Diagnosis.PNEUMONIA, Diagnosis.NORMAL):
            excluded["not PNEUMONIA/NORMAL"] += 1
        elif r.ai_probability is None:
            excluded["no AI probability"] += 1
        elif r.model_sha256 != model_sha256:
            excluded["another model"] += 1
        else:
            probs.append(float(r.ai_probability))
            ys.append(1 if r.final_diagnosis == Diagnosis.PNEUMONIA else 0)
    source: dict[str, object] = {"kind": "reads", "since": since.isoformat() if since else None,
                                 "reviewer": reviewer, "read_first_only": read_first_only}
    return Cases(np.array(probs, dtype=np.float64), np.array(ys, dtype=np.int64), source, REFERENCE_WORDS,
                 {k: v for k, v in excluded.items() if v})


def changes_after_ai(reads: list[Read], since: date | None = None, reviewer: str | None = None) -> dict[str, int]:
    """How often readers in read-first mode changed their call after seeing the AI, and which way.

    ``reads`` is the whole history (every read). Counted: each study's newest read that is a
    read-first final superseding a first impression (an adjudication after it is skipped: it is
    another reviewer's call, and the reader's change stays counted). "toward the AI": the final call is the
    AI's label and the first was not; "away": the first was the AI's label and the final is not.
    """
    by_id = {r.id: r for r in reads}
    newest = {r.study_key: r for r in reads if r.role != ADJUDICATOR}  # id order: the last one wins
    start = _utc_start(since)
    out = {"n": 0, "unchanged": 0, "changed": 0, "toward_ai": 0, "away_from_ai": 0, "other_change": 0,
           "normal_to_pneumonia": 0, "pneumonia_to_normal": 0}
    for r in newest.values():
        first = by_id.get(r.supersedes) if r.supersedes is not None else None
        if r.role != READ_FIRST_FINAL or first is None or first.role != FIRST_IMPRESSION:
            continue
        if (start is not None and r.created_at < start) or (reviewer is not None and r.reviewer != reviewer):
            continue
        out["n"] += 1
        before, after, ai = first.final_diagnosis.value, r.final_diagnosis.value, r.ai_label
        if before == after:
            out["unchanged"] += 1
            continue
        out["changed"] += 1
        out["toward_ai" if ai and after == ai else "away_from_ai" if ai and before == ai else "other_change"] += 1
        if (before, after) == (NEGATIVE, POSITIVE):
            out["normal_to_pneumonia"] += 1
        elif (before, after) == (POSITIVE, NEGATIVE):
            out["pneumonia_to_normal"] += 1
    return out


def changes_text(c: dict[str, int]) -> str:
    """One line for people: "Read-first mode: 40 reads; 6 changed after seeing the AI (…)"."""
    if not c.get("n"):
        return "Read-first mode: no reads yet (first impression, then the AI, then the final call)."
    return (f"Read-first mode: {c['n']} reads; {c['changed']} changed after seeing the AI ({c['toward_ai']} toward "
            f"the AI's call, {c['away_from_ai']} away from it, {c['other_change']} other); NORMAL→PNEUMONIA "
            f"{c['normal_to_pneumonia']}, PNEUMONIA→NORMAL {c['pneumonia_to_normal']}.")


# -- a labelled archive: predict CSV + labels CSV -----------------------------------------

def _read_csv(path: Path, what: str) -> tuple[list[str], list[dict[str, str]]]:
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            reader = csv.DictReader(fh)
            rows = [{k: unescape_cell(v or "") for k, v in row.items() if k is not None} for row in reader]
            return list(reader.fieldnames or []), rows
    except FileNotFoundError:
        raise SiteDataError(f"no {what} file at {path}") from None
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise SiteDataError(f"cannot read the {what} file {path}: {exc}") from None


def _norm_path(p: str) -> str:
    return os.path.normcase(os.path.normpath(os.path.abspath(p))) if p else ""


def cases_from_archive(predictions: Path, labels: Path, model_sha256: str) -> Cases:
    """Cases from a ``predict`` CSV of old studies and a labels CSV (``path`` or ``file_sha256``, ``label``).

    Refuses predictions made by another model (or by a predict too old to say which), a
    label other than PNEUMONIA/NORMAL, conflicting labels, and labels matching no
    prediction. Rows the input gate refused or that failed to load are left out. The
    probabilities are predict's, rounded to 6 decimals: a film within 5e-7 of a threshold
    can fall on the other side of it from predict's own label.
    """
    pcols, prows = _read_csv(predictions, "predictions")
    for col in ("path", "status", "probability", "file_sha256"):
        if col not in pcols:
            raise SiteDataError(f"{predictions.name} is not a predict CSV (no '{col}' column)")
    if "model_sha256" not in pcols:
        raise SiteDataError(f"{predictions.name} does not say which model made it (no 'model_sha256' column); "
                            "run predict again with this version")
    lcols, lrows = _read_csv(labels, "labels")
    if "label" not in lcols or not ({"path", "file_sha256"} & set(lcols)):
        raise SiteDataError(f"{labels.name} needs a 'label' column and a 'path' or 'file_sha256' column")
    by_sha = "file_sha256" in lcols

    shas = {r["model_sha256"] for r in prows if r.get("status") == "ok"}
    others = sorted(s for s in shas if s != model_sha256)
    if others:
        raise SiteDataError(f"the predictions come from another model (SHA-256 {others[0][:12]}…); the model in "
                            f"use is {model_sha256[:12]}… — run predict again with it")

    wanted: dict[str, str] = {}
    for i, row in enumerate(lrows, start=2):
        label = row["label"].strip().upper()
        if label not in (POSITIVE, NEGATIVE):
            raise SiteDataError(f"{labels.name} line {i}: label must be PNEUMONIA or NORMAL, "
                                f"got {row['label'][:20]!r}")
        key = row["file_sha256"].strip().lower() if by_sha else _norm_path(row["path"].strip())
        if not key:
            continue
        if wanted.setdefault(key, label) != label:
            raise SiteDataError(f"{labels.name} line {i}: the same study is labelled both PNEUMONIA and NORMAL")

    excluded = {"rejected by the input gate": 0, "could not be loaded": 0, "no label": 0, "duplicate file": 0}
    seen: set[str] = set()
    matched: set[str] = set()
    probs, ys, ood = [], [], []
    for row in prows:
        key = row["file_sha256"].strip().lower() if by_sha else _norm_path(row["path"])
        if key not in wanted:
            excluded["no label"] += 1
            continue
        matched.add(key)
        status = row["status"]
        if status != "ok":
            excluded["rejected by the input gate" if status == "rejected" else "could not be loaded"] += 1
            continue
        # the same file listed twice (e.g. two copies) is one study, counted once
        dedupe = row["file_sha256"] or key
        if dedupe in seen:
            excluded["duplicate file"] += 1
            continue
        seen.add(dedupe)
        try:
            probs.append(float(row["probability"]))
        except ValueError:
            raise SiteDataError(f"{predictions.name}: a probability is not a number: {row['probability'][:20]!r}"
                                ) from None
        ys.append(1 if wanted[key] == POSITIVE else 0)
        ood.append(float(row["ood_score"]) if row.get("ood_score") else np.nan)
    if not matched:
        raise SiteDataError(f"no label in {labels.name} matches a prediction in {predictions.name} "
                            f"(matched by {'file_sha256' if by_sha else 'path'})")
    excluded["labels without a prediction"] = len(wanted) - len(matched)
    source: dict[str, object] = {"kind": "labelled archive", "predictions": predictions.name,
                                 "labels": labels.name, "matched_by": "file_sha256" if by_sha else "path"}
    return Cases(np.array(probs, dtype=np.float64), np.array(ys, dtype=np.int64), source,
                 "the archive's labels", {k: v for k, v in excluded.items() if v}, np.array(ood, dtype=np.float64))


def parse_day(flag: str, text: str | None) -> date | None:
    """A YYYY-MM-DD option value, or a one-line refusal."""
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise SiteDataError(f"{flag} must be a date like 2024-05-31, got {text!r}") from None
