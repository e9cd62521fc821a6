"""Issue 19.1: a read applies to an image only when the content matches, not on the UID alone."""

from __future__ import annotations

import csv
from pathlib import Path

from records_helpers import make_input

from xray_desktop.domain import Diagnosis
from xray_desktop.records import Store, export_csv
from xray_desktop.records.identity import COLLISION_WARNING, collision_key, resolve

A, B, C = "a" * 64, "b" * 64, "c" * 64


def test_a_copy_with_the_same_uid_and_other_pixels_is_a_new_image(store: Store) -> None:
    store.add_read(make_input(study_key="1.2.3", file_sha256=A, note="A's note"))
    same = resolve(store, "1.2.3", A)
    assert same.key == "1.2.3" and same.read is not None and not same.collision and same.warning == ""
    other = resolve(store, "1.2.3", B)
    assert other.collision and other.read is None and other.key == collision_key("1.2.3", B)
    assert other.warning == COLLISION_WARNING
    # its read goes under its own key, and then resumes as its own
    store.add_read(make_input(study_key=other.key, file_sha256=B, final_diagnosis=Diagnosis.NORMAL))
    again = resolve(store, "1.2.3", B)
    assert again.read is not None and again.read.final_diagnosis is Diagnosis.NORMAL and again.collision
    assert resolve(store, "1.2.3", A).read.note == "A's note"


def test_store_keeps_colliding_reads_apart_even_when_given_the_bare_uid(store: Store) -> None:
    a = store.add_read(make_input(study_key="1.2.3", file_sha256=A))
    b = store.add_read(make_input(study_key="1.2.3", file_sha256=B))  # e.g. another workstation
    assert a.study_key == "1.2.3" and b.study_key == collision_key("1.2.3", B)
    amend = store.add_read(a.to_input(final_diagnosis=Diagnosis.NORMAL, supersedes=a.id))
    assert amend.study_key == "1.2.3"  # same content: an ordinary amendment
    assert store.verify().ok
    # no UID (key = file hash): nothing to collide
    assert store.add_read(make_input(study_key=C, file_sha256=C)).study_key == C


def test_first_listed_image_owns_an_unread_uid(store: Store) -> None:
    seen: dict[str, str] = {}
    assert not resolve(store, "9.9", A, seen).collision
    second = resolve(store, "9.9", B, seen)
    assert second.collision and second.key == collision_key("9.9", B)
    assert not resolve(store, "9.9", A, seen).collision  # listed again: still the owner


def test_nine_images_on_three_uids_export_nine_rows(store: Store, tmp_path: Path) -> None:
    seen: dict[str, str] = {}
    for uid in ("1.1", "1.2", "1.3"):
        for n in range(3):
            sha = f"{uid}-{n}".ljust(64, "0")
            key = resolve(store, uid, sha, seen).key
            store.add_read(make_input(study_key=key, file_sha256=sha))
    out = tmp_path / "o.csv"
    assert export_csv(store, out) == 9
    with out.open(newline="", encoding="utf-8") as fh:
        assert len({r["file_sha256"] for r in csv.DictReader(fh)}) == 9
