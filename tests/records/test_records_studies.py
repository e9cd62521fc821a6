"""Issue 14.1: reads of studies (schema v4), and per-file reads of older databases still resolving."""

from __future__ import annotations

import csv
import sqlite3
from pathlib import Path

import pytest
from records_helpers import make_input, v3_database

from xray_desktop.records import Store, migrations
from xray_desktop.records.export import export_csv
from xray_desktop.records.identity import collision_key, lookup_study, resolve
from xray_desktop.records.reads import InvalidReadError, study_images

STUDY = "1.2.826.0.1.3680043.8.498.77"
A, B, C, X, Y = ("a1" * 32, "b2" * 32, "c3" * 32, "d4" * 32, "e5" * 32)


def _study_read(study_key: str, images: list[tuple[str, str]], **changes: object):
    return make_input(study_key=study_key, file_sha256=images[0][1], **study_images(images), **changes)


def test_a_v3_database_with_per_file_reads_still_resolves_after_migration(db_path: Path) -> None:
    v3_database(db_path)  # reads 1-3: image UID 1.2.840.1 (3 amends 1) and 2.25.7; read 4: a PNG by hash
    with Store.open(db_path) as s:
        assert s.schema_version == migrations.LATEST_VERSION == 5
        assert s.verify().ok and s.verify().checked == 4
        assert s.get(1).images == [] and s.get(1).image_keys == ""
        # a study holding that image (and a lateral never read) finds the image's latest read
        found = lookup_study(s, STUDY, [("1.2.840.1", "ab" * 32), ("1.2.840.99", X)])
        assert (found.key, found.read.id, found.per_image, found.collision) == ("1.2.840.1", 3, True, False)
        # a PNG study is keyed by the file hash, as its per-file read was
        png = lookup_study(s, "ab" * 32, [("ab" * 32, "ab" * 32)])
        assert (png.key, png.read.id, png.per_image) == ("ab" * 32, 4, False)
        # the UID-collision rule of per-file reads still holds
        other = resolve(s, "1.2.840.1", "cd" * 32)
        assert other.collision and other.key == collision_key("1.2.840.1", "cd" * 32) and other.read is None
        assert lookup_study(s, STUDY, [("1.2.840.1", "cd" * 32)]).read is None  # other content: not that read
        # a read of the study now comes first, and the chain takes it
        new = s.add_read(_study_read(STUDY, [("1.2.840.1", "ab" * 32), ("1.2.840.99", X)]))
        found = lookup_study(s, STUDY, [("1.2.840.1", "ab" * 32), ("1.2.840.99", X)])
        assert (found.key, found.read.id, found.per_image) == (STUDY, new.id, False)
        assert found.read.images == [("1.2.840.1", "ab" * 32), ("1.2.840.99", X)]
        assert s.verify().ok and s.verify().checked == 5


def test_study_identity_by_shared_images(store: Store) -> None:
    first = store.add_read(_study_read(STUDY, [("1.1", A), ("1.2", B)]))
    assert first.study_key == STUDY
    # the same study with a lateral received after the read: still its read
    later = lookup_study(store, STUDY, [("1.1", A), ("1.2", B), ("1.3", C)])
    assert (later.key, later.read.id, later.collision) == (STUDY, first.id, False)
    # another study with the same StudyInstanceUID and no image in common: a new study
    clash = lookup_study(store, STUDY, [("9.1", X)])
    assert clash.read is None and clash.collision and clash.key == collision_key(STUDY, X)
    second = store.add_read(_study_read(STUDY, [("9.1", X)]))
    assert second.study_key == collision_key(STUDY, X)  # Store.add_reads applies the same rule
    grown = lookup_study(store, STUDY, [("9.1", X), ("9.2", Y)])
    assert (grown.key, grown.read.id) == (collision_key(STUDY, X), second.id)
    assert lookup_study(store, STUDY, [("1.1", A)]).read.id == first.id
    # an amendment keeps its read's key
    amended = store.add_read(second.to_input(supersedes=second.id, confidence=2))
    assert amended.study_key == second.study_key and store.verify().ok


@pytest.mark.parametrize(("changes", "message"), [
    ({"image_keys": "1.1 1.2", "image_sha256s": A}, "lists 2 images but image_sha256s 1"),
    ({"image_keys": "1.1", "image_sha256s": A.upper()}, "lower-case hex"),
    ({"image_keys": "1.1  1.2", "image_sha256s": f"{A} {B}"}, "single-space-separated"),
    ({"image_keys": "1.1", "image_sha256s": B}, "must be one of its images"),
])  # fmt: skip
def test_study_read_image_lists_are_validated(store: Store, changes: dict[str, str], message: str) -> None:
    with pytest.raises(InvalidReadError, match=message):
        store.add_read(make_input(file_sha256=A, **changes))


def test_the_image_lists_are_hashed_exported_and_dropped_when_deidentified(store: Store, tmp_path: Path) -> None:
    read = store.add_read(_study_read(STUDY, [("1.1", A), ("1.2", B)]))
    out = tmp_path / "reads.csv"
    export_csv(store, out)
    with out.open(newline="", encoding="utf-8") as fh:
        (row,) = list(csv.DictReader(fh))
    assert (row["study_key"], row["image_keys"], row["image_sha256s"]) == (STUDY, "1.1 1.2", f"{A} {B}")
    export_csv(store, tmp_path / "deid.csv", deidentify=True, salt_path=tmp_path / "salt")
    with (tmp_path / "deid.csv").open(newline="", encoding="utf-8") as fh:
        assert not {"image_keys", "image_sha256s"} & set(next(csv.reader(fh)))
    raw = sqlite3.connect(store.path)
    raw.execute("DROP TRIGGER reads_no_update")
    raw.execute("UPDATE reads SET image_keys = '1.1 1.9' WHERE id = ?", (read.id,))
    raw.commit()
    raw.close()
    result = store.verify()
    assert not result.ok and result.first_broken_id == read.id
