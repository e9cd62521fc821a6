"""Read-first roles (schema v4): a first impression without AI fields, then a final read superseding it."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from records_helpers import make_input

from xray_desktop.domain import Diagnosis
from xray_desktop.records import InvalidReadError, Store, migrations
from xray_desktop.records.columns import BY_NAME
from xray_desktop.records.reads import ADJUDICATOR, FIRST_IMPRESSION, READ_FIRST_FINAL

NO_AI = dict(ai_probability=None, threshold=None, ai_label="", operating_point="")


def test_first_impression_then_final_round_trip_and_verify(store: Store) -> None:
    first = store.add_read(make_input(final_diagnosis=Diagnosis.NORMAL, role=FIRST_IMPRESSION, **NO_AI))
    final = store.add_read(make_input(final_diagnosis=Diagnosis.PNEUMONIA, role=READ_FIRST_FINAL,
                                      supersedes=first.id))
    assert [r.role for r in store.history(first.study_key)] == [FIRST_IMPRESSION, READ_FIRST_FINAL]
    assert store.latest_for(first.study_key).id == final.id and store.verify().ok
    old = store.add_read(make_input(study_key="other"))  # an ordinary read, as every caller before v4 made
    assert old.role == ""


@pytest.mark.parametrize(("changes", "message"), [
    (dict(role="second-look"), "role must be one of"),
    (dict(role=FIRST_IMPRESSION), "carries no AI fields"),  # make_input has an AI probability
    (dict(role=READ_FIRST_FINAL), "supersedes the reader's first impression"),
    (dict(role=ADJUDICATOR), "an adjudication supersedes the read it adjudicates"),
])
def test_bad_roles_are_refused_in_one_line(store: Store, changes: dict, message: str) -> None:
    with pytest.raises(InvalidReadError, match=message):
        store.add_read(make_input(**changes))


def test_a_database_from_before_roles_gains_the_column_with_its_reads_intact(db_path: Path) -> None:
    before = BY_NAME["role"].since - 1  # the schema version just before the role column
    raw = sqlite3.connect(db_path, isolation_level=None)
    for step in migrations.MIGRATIONS[:before]:
        step(raw)
    raw.execute(f"PRAGMA user_version = {before}")
    raw.close()
    with Store.open(db_path) as s:  # migrated to the latest schema on the way
        assert s.schema_version == migrations.LATEST_VERSION
        assert "role" in {r[1] for r in s.conn.execute("PRAGMA table_info(reads)")}
        assert s.add_read(make_input()).role == "" and s.verify().ok


def test_an_adjudication_supersedes_by_another_reviewer_and_the_reader_is_refused(any_store: Store) -> None:
    store = any_store  # SQLite and PostgreSQL: the reviewer check is SQL in the store's write transaction
    first = store.add_read(make_input(final_diagnosis=Diagnosis.NORMAL, role=FIRST_IMPRESSION, **NO_AI))
    final = store.add_read(make_input(role=READ_FIRST_FINAL, supersedes=first.id))
    with pytest.raises(InvalidReadError, match="needs another reviewer"):
        store.add_read(final.to_input(role=ADJUDICATOR, supersedes=final.id))  # the reader again
    adj = store.add_read(final.to_input(reviewer="dr_b", final_diagnosis=Diagnosis.NORMAL, role=ADJUDICATOR,
                                        supersedes=final.id))
    again = store.add_read(adj.to_input(confidence=5, supersedes=adj.id))  # the adjudicator revises their call
    assert again.role == ADJUDICATOR and store.latest_for(first.study_key).id == again.id
    assert [r.role for r in store.history(first.study_key)] == [FIRST_IMPRESSION, READ_FIRST_FINAL, ADJUDICATOR,
                                                                  ADJUDICATOR]
    assert [r.id for r in store.reads(latest_only=False, roles=[FIRST_IMPRESSION])] == [first.id]
    assert store.reads(latest_only=False, roles=[]) == [] and store.verify().ok
