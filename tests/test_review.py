"""The reading workflow's rules, without Qt (xray_desktop/review.py)."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from xray_desktop.domain import Diagnosis, StudyMetadata
from xray_desktop.records import ReadInput, Store
from xray_desktop.review import (
    HIDDEN,
    NotReady,
    ReviewSession,
    ai_display,
    form_problem,
    gate_result,
    next_to_read,
    other_finding,
    wants_reading,
)


@dataclass
class Item:
    """A work-list row as the session sees it."""

    path: Path = Path("/studies/a.dcm")
    key: str = "1.2.3"
    sha256: str = "a" * 64
    metadata: StudyMetadata | None = None
    probability: float | None = 0.8
    gate_accepted: bool | None = True
    gate_reason: str = ""
    out_of_scope: str = ""
    read: Any = None
    image_ids: tuple[tuple[str, str], ...] = ()


class Clock:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


NORMAL_3 = (Diagnosis.NORMAL, 3, "", "")


def session_on(item: Item, clock: Clock | None = None) -> ReviewSession:
    s = ReviewSession(clock or Clock())
    s.model_ready("1.0.0", "m" * 64)
    s.set_operating_point(0.42, "balanced")
    s.select(7, item)
    return s


def test_an_assessed_study_records_the_ai_call_and_the_operating_point():
    md = StudyMetadata(patient_name="Doe^Jane", patient_id="P1", accession="A9")
    r = session_on(Item(metadata=md)).read_input("dr x", NORMAL_3)
    assert (r.ai_probability, r.threshold, r.operating_point, r.ai_label) == (0.8, 0.42, "balanced", "PNEUMONIA")
    assert (r.model_version, r.model_sha256, r.gate_result) == ("1.0.0", "m" * 64, "accepted")
    assert (r.patient_name, r.patient_id, r.accession, r.study_key) == ("Doe^Jane", "P1", "A9", "1.2.3")
    assert r.supersedes is None


def test_a_custom_threshold_records_no_operating_point_name():
    s = session_on(Item(probability=0.3))
    s.set_operating_point(0.25)
    r = s.read_input("dr x", NORMAL_3)
    assert (r.threshold, r.operating_point, r.ai_label) == (0.25, "", "PNEUMONIA")


@pytest.mark.parametrize(("item", "gate"), [
    (Item(gate_accepted=False, gate_reason="lateral view"), "rejected: lateral view"),
    (Item(out_of_scope="age 62 y"), "accepted; outside intended use (age 62 y)"),
])
def test_a_refused_or_out_of_scope_study_records_no_ai_fields(item, gate):
    r = session_on(item).read_input("dr x", NORMAL_3)
    assert (r.ai_probability, r.threshold, r.operating_point, r.ai_label) == (None, None, "", "")
    assert r.gate_result == gate and r.model_version == "1.0.0"  # the model that refused is recorded
    assert gate_result(item) == gate


def test_without_a_model_no_ai_fields_and_no_label():
    s = ReviewSession(Clock())
    s.set_operating_point(0.42, "balanced")
    s.select(0, Item(gate_accepted=None, probability=None))
    assert s.threshold is None and s.verdict().label == ""
    r = s.read_input("dr x", NORMAL_3)
    assert (r.ai_probability, r.threshold, r.operating_point, r.model_version, r.gate_result) == (
        None, None, "", "", "")


def test_amending_supersedes_the_latest_read(tmp_path):
    item = Item()
    with Store.open(tmp_path / "reads.sqlite3") as store:
        first = store.add_read(session_on(item).read_input("dr x", NORMAL_3))
        item.read = first
        amended = store.add_read(session_on(item).read_input("dr x", (Diagnosis.PNEUMONIA, 4, "", "")))
    assert amended.supersedes == first.id and amended.final_diagnosis == Diagnosis.PNEUMONIA


def test_time_spent_counts_from_when_the_study_was_shown():
    clock = Clock()
    s = session_on(Item(), clock)
    clock.t += 2.0
    s.shown()  # the image arrived: the reader starts looking now
    clock.t += 1.5
    assert s.read_input("dr x", NORMAL_3).time_spent_ms == 1500
    s.select(8, Item())
    assert s.time_spent_ms() == 0


def test_other_finding_rules():
    assert form_problem((Diagnosis.OTHER, 3, "  ", "")) == "Describe the other finding"
    assert form_problem((Diagnosis.OTHER, None, "effusion", "")) == "Choose a confidence (1–5)"
    assert form_problem((None, 3, "", "")) .startswith("Choose a diagnosis")
    assert form_problem((Diagnosis.OTHER, 2, " effusion ", "")) == ""
    # Text typed under Other and then left for another call is not recorded.
    assert other_finding((Diagnosis.NORMAL, 2, "effusion", "")) == ""
    s = session_on(Item())
    assert s.read_input("dr x", (Diagnosis.OTHER, 2, " effusion ", " n ")).other_finding == "effusion"
    r = s.read_input("dr x", (Diagnosis.NORMAL, 2, "effusion", " n "))
    assert (r.other_finding, r.note) == ("", "n")
    with pytest.raises(NotReady, match="Describe the other finding"):
        s.read_input("dr x", (Diagnosis.OTHER, 2, "", ""))


def test_no_read_without_a_study_a_key_or_a_reviewer():
    s = ReviewSession(Clock())
    with pytest.raises(NotReady):
        s.read_input("dr x", NORMAL_3)
    s.select(0, Item(key=""))
    with pytest.raises(NotReady):
        s.read_input("dr x", NORMAL_3)
    s.select(0, Item())
    with pytest.raises(NotReady, match="your name"):
        s.read_input("  ", NORMAL_3)
    assert isinstance(s.read_input("dr x", NORMAL_3), ReadInput)


def test_stale_request_ids_are_dropped():
    s = session_on(Item())
    s.expect_view(11)
    s.expect_prediction(12)
    assert not s.take_view(10, 7)  # an older load (a prefetch, or the previous study's)
    assert not s.take_view(11, 6)  # the right id for another row
    assert s.take_view(11, 7) and not s.take_view(11, 7)  # taken once
    assert not s.take_prediction(5)
    s.select(8, Item(path=Path("/studies/b.dcm")))  # the reader moved on: both answers are stale now
    assert not s.take_prediction(12) and s.pred_rid == 0 and s.view_rid == 0
    s.expect_prediction(13)
    assert s.take_prediction(13) and not s.take_prediction(13)
    s.expect_view(14)
    assert s.view_failed(14) and not s.view_failed(13)
    assert s.take_any_view(8) and not s.take_any_view(8)
    s.select(-1, None)
    assert s.row == -1 and not s.take_prediction(0) and s.verdict().assessed is False


def test_drafts_are_kept_per_study_until_saved():
    s = ReviewSession(Clock())
    p = Path("/studies/a.dcm")
    s.keep_draft(p, (Diagnosis.NORMAL, 2, "", "x"))
    assert s.draft_for(p) == (Diagnosis.NORMAL, 2, "", "x")
    s.saved(p)
    assert s.draft_for(p) is None and not s.drafts


def test_next_to_read_is_the_first_unconfirmed_openable_study_in_view_order():
    assert wants_reading(confirmed=False, failed=False)
    assert not wants_reading(confirmed=True, failed=False) and not wants_reading(confirmed=False, failed=True)
    status = {3: "confirmed", 5: "error", 1: "AI ready", 2: "queued"}

    def wants(row: int) -> bool:
        return wants_reading(status[row] == "confirmed", status[row] == "error")

    assert next_to_read([3, 5, 1, 2], wants) == 1  # the panel's order, not the row numbers
    assert next_to_read([3, 5], wants) == -1
    assert next_to_read(iter([2, 99]), wants) == 2  # lazy: row 99 is never looked at


def test_normal_mode_shows_label_and_rates_and_numbers_only_for_an_assessed_study():
    s = session_on(Item())
    v = s.verdict()
    assert s.ai_display(v) == ai_display(v)
    shown = s.ai_display(v)
    assert shown.probability and shown.label and shown.heatmap and shown.rates
    assert s.shown_label() == "PNEUMONIA"
    refused = s.verdict(Item(gate_accepted=False, gate_reason="not a chest X-ray"))
    r = ai_display(refused)
    assert not r.probability and not r.heatmap and r.label and r.rates  # a map would look like a finding


def test_read_first_hides_everything_until_the_first_impression_is_saved():
    item = Item()
    s = session_on(item)
    s.read_first = True
    v = s.verdict()
    assert v.assessed and s.ai_display(v) == HIDDEN
    assert not any((HIDDEN.probability, HIDDEN.label, HIDDEN.heatmap, HIDDEN.rates))
    assert s.shown_label() == ""
    s.first_impression_saved(item.path)
    assert s.ai_display(v) == ai_display(v) and s.shown_label() == "PNEUMONIA"
    assert s.ai_display(v, Item(path=Path("/studies/b.dcm"))) == HIDDEN  # per study


def test_the_session_imports_neither_qt_nor_tensorflow():
    code = ("import sys, xray_desktop.review; "
            "print(any(m.split('.')[0] in ('PySide6', 'tensorflow', 'keras') for m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "False", out.stderr[-2000:]
