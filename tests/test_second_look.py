"""Read-first confirms, the second-look filters and adjudication, without Qt (xray_desktop/review.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.test_review import NORMAL_3, Item, session_on
from xray_desktop.domain import Diagnosis
from xray_desktop.records import Store
from xray_desktop.records.reads import ADJUDICATOR, FIRST_IMPRESSION, READ_FIRST_FINAL
from xray_desktop.review import (
    HIDDEN,
    NotReady,
    adjudication_input,
    adjudication_problem,
    calls_summary,
    changed_after_ai,
    second_look,
)

PNEUMONIA_4 = (Diagnosis.PNEUMONIA, 4, "", "")


def test_read_first_confirm_is_a_first_impression_without_ai_then_a_final_with_it(tmp_path: Path) -> None:
    item = Item()
    s = session_on(item)
    s.read_first = True
    assert s.pending_role() == FIRST_IMPRESSION and s.ai_display(s.verdict()) == HIDDEN
    first = s.read_input("dr_a", NORMAL_3)
    assert first.role == FIRST_IMPRESSION and first.supersedes is None
    assert (first.ai_probability, first.threshold, first.ai_label, first.operating_point) == (None, None, "", "")
    assert (first.gate_result, first.model_sha256, first.model_version) == ("", "", "")
    with Store.open(tmp_path / "r.sqlite3") as store:
        item.read = store.add_read(first)  # the store accepts it: no AI field
        assert s.ai_visible(item) and s.shown_label() == "PNEUMONIA"  # a stored read reveals the AI
        assert s.pending_role() == READ_FIRST_FINAL
        final = s.read_input("dr_a", PNEUMONIA_4)
        assert final.role == READ_FIRST_FINAL and final.supersedes == item.read.id
        assert final.ai_probability == 0.8 and final.ai_label == "PNEUMONIA" and final.model_sha256 == "m" * 64
        item.read = store.add_read(final)
        assert s.pending_role() == ""  # an amendment after it is an ordinary read
        assert changed_after_ai(store.reads(latest_only=False)) == {item.key}


def test_read_first_off_records_ordinary_reads_and_a_pending_first_impression_still_gets_its_final() -> None:
    item = Item()
    s = session_on(item)
    assert s.pending_role() == "" and s.read_input("dr_a", NORMAL_3).role == ""
    s.read_first = True
    confirmed_before = Item(read=type("R", (), {"role": "", "id": 3})())
    assert s.ai_visible(confirmed_before) and s.pending_role(confirmed_before) == ""  # shows its AI as today
    s.read_first = False  # the mode was switched off after the first impression: the pair is still closed
    item.read = type("R", (), {"role": FIRST_IMPRESSION, "id": 5})()
    assert s.pending_role() == READ_FIRST_FINAL


class R:
    """A stored read as the filters see it."""

    def __init__(self, id: int, dx: str, ai: str = "", role: str = "", sup: int | None = None,
                 key: str = "k", who: str = "dr_a") -> None:
        self.id, self.final_diagnosis, self.ai_label, self.role = id, Diagnosis(dx), ai, role
        self.supersedes, self.study_key, self.reviewer = sup, key, who


@pytest.mark.parametrize(("read", "disagree"), [
    (None, False),
    (R(1, "NORMAL", "PNEUMONIA"), True),
    (R(1, "PNEUMONIA", "PNEUMONIA"), False),
    (R(1, "NORMAL", ""), False),  # no AI call recorded
    (R(1, "INDETERMINATE", "PNEUMONIA"), False),  # agreement n/a
    (R(1, "NORMAL", "PNEUMONIA", role=FIRST_IMPRESSION), False),  # not confirmed yet
    (R(2, "PNEUMONIA", "NORMAL", role=ADJUDICATOR), True),
])
def test_disagree_filter_compares_the_confirmed_call_with_the_ai_label_recorded_with_it(read, disagree) -> None:
    assert second_look("disagree", read, "k", set()) is disagree
    assert second_look("all", read, "k", set()) is True


def test_changed_after_ai_keys_and_filter() -> None:
    reads = [R(1, "NORMAL", role=FIRST_IMPRESSION, key="a"), R(2, "PNEUMONIA", "PNEUMONIA", READ_FIRST_FINAL, 1, "a"),
             R(3, "NORMAL", role=FIRST_IMPRESSION, key="b"), R(4, "NORMAL", "PNEUMONIA", READ_FIRST_FINAL, 3, "b"),
             R(5, "NORMAL", role=FIRST_IMPRESSION, key="c"),  # no final yet
             R(6, "PNEUMONIA", "NORMAL", key="d"),  # an ordinary read
             R(7, "NORMAL", "NORMAL", ADJUDICATOR, 2, "a", who="dr_b")]  # adjudicated: still changed after AI
    keys = changed_after_ai(reads)
    assert keys == {"a"}
    assert second_look("changed", reads[-1], "a", keys) and not second_look("changed", reads[3], "b", keys)
    assert not second_look("changed", None, "", keys)


def test_adjudication_needs_a_confirmed_study_and_another_reviewer() -> None:
    first, final = R(1, "NORMAL", role=FIRST_IMPRESSION), R(2, "PNEUMONIA", "PNEUMONIA", READ_FIRST_FINAL, 1)
    assert "no confirmed read" in adjudication_problem("dr_b", [first])
    assert "dr_a read this study: adjudication needs another reviewer" in adjudication_problem("dr_a", [first, final])
    assert adjudication_problem("dr_b", [first, final]) == ""
    assert "Enter your name" in adjudication_problem(" ", [final])
    adj = R(3, "NORMAL", "PNEUMONIA", ADJUDICATOR, 2, who="dr_b")
    assert adjudication_problem("dr_b", [first, final, adj]) == ""  # the adjudicator may revise their own call


def test_adjudication_input_supersedes_and_keeps_the_ai_call(tmp_path: Path) -> None:
    s = session_on(Item())
    with Store.open(tmp_path / "r.sqlite3") as store:
        latest = store.add_read(s.read_input("dr_a", PNEUMONIA_4))
        with pytest.raises(NotReady, match="confidence"):
            adjudication_input("dr_b", (Diagnosis.NORMAL, None, "", ""), latest)
        adj = adjudication_input("dr_b", (Diagnosis.NORMAL, 5, "", " settled "), latest, time_spent_ms=900)
        assert (adj.role, adj.supersedes, adj.reviewer, adj.note) == (ADJUDICATOR, latest.id, "dr_b", "settled")
        assert (adj.ai_probability, adj.ai_label, adj.threshold, adj.model_sha256) == (
            latest.ai_probability, latest.ai_label, latest.threshold, latest.model_sha256)
        stored = store.add_read(adj)
        assert store.latest_for(latest.study_key).id == stored.id and store.verify().ok


def test_calls_summary_lists_both_calls_and_the_ai(tmp_path: Path) -> None:
    s = session_on(Item())
    s.read_first = True
    with Store.open(tmp_path / "r.sqlite3") as store:
        s.item.read = store.add_read(s.read_input("dr_a", NORMAL_3))
        s.item.read = store.add_read(s.read_input("dr_a", PNEUMONIA_4))
        lines = calls_summary(store.history(s.item.key))
    assert lines == ["dr_a — first impression, before the AI: Normal (confidence 3) — superseded",
                     "dr_a — final, after the AI: Pneumonia (confidence 4)",
                     "AI — 80.0 % → Pneumonia at threshold 0.4200 (balanced), as recorded with dr_a's read"]


@pytest.mark.parametrize("read_first", [False, True])
@pytest.mark.parametrize("stored", [False, True])
@pytest.mark.parametrize("in_session", [False, True])
@pytest.mark.parametrize("gate", [True, False])
def test_ai_visible_is_ai_display_s_rule(read_first: bool, stored: bool, in_session: bool, gate: bool) -> None:
    item = Item(read=R(1, "NORMAL") if stored else None, gate_accepted=gate)
    s = session_on(Item())
    s.read_first = read_first
    if in_session:
        s.first_impression_saved(item.path)
    assert s.ai_visible(item) is (s.ai_display(s.verdict(item), item) != HIDDEN)
