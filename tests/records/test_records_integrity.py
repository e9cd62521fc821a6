"""Issue 19: the audit's attacks on the records layer (re-forged chain, REPLACE, truncation,
de-identification leaks, formula guard bypasses), each of which passed before."""

from __future__ import annotations

import csv
import json
import sqlite3
from pathlib import Path

import pytest
from records_helpers import make_input

from xray_desktop.cli import main
from xray_desktop.domain import Diagnosis
from xray_desktop.records import Store, escape_cell, export_csv, unescape_cell
from xray_desktop.records.anchor import (
    anchor_of,
    check_and_advance,
    read_anchor,
    session_anchor_path,
    verify_anchor,
)
from xray_desktop.records.chain import row_hash
from xray_desktop.records.store import _ALL_COLUMNS  # the stored column order

# -- 19.2: the chain cannot be re-forged unnoticed once an anchor exists --------------------


def _fill(store: Store, n: int = 30) -> None:
    store.add_reads(make_input(study_key=f"1.2.{i}", note=f"n{i}") for i in range(n))


def _reforge(db: Path, target: int = 25, forged_extra: bool = True) -> None:
    """What the audit did: rewrite a read, re-hash all later rows, back-date a forged read,
    and put the triggers back, so the plain chain check passes."""
    raw = sqlite3.connect(db)
    raw.row_factory = sqlite3.Row
    triggers = [r[0] for r in raw.execute("SELECT sql FROM sqlite_master WHERE type = 'trigger'")]
    for name in [r[0] for r in raw.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")]:
        raw.execute(f"DROP TRIGGER {name}")
    raw.execute("UPDATE reads SET final_diagnosis = 'NORMAL' WHERE id = ?", (target,))
    rows = [dict(r) for r in raw.execute("SELECT * FROM reads ORDER BY id")]
    prev = rows[target - 2]["row_hash"] if target > 1 else "0" * 64
    if forged_extra:
        extra = dict(rows[-1], id=rows[-1]["id"] + 1, created_at=rows[0]["created_at"], study_key="forged",
                     row_hash="placeholder")
        rows.append(extra)
        raw.execute(f"INSERT INTO reads ({', '.join(extra)}) VALUES ({', '.join('?' * len(extra))})",
                    list(extra.values()))
    for row in rows[target - 1 :]:
        row["prev_hash"] = prev
        row["row_hash"] = prev = row_hash(prev, row)
        raw.execute("UPDATE reads SET prev_hash = ?, row_hash = ? WHERE id = ?", (row["prev_hash"], prev, row["id"]))
    for sql in triggers:
        raw.execute(sql)
    raw.commit()
    raw.close()


def test_reforged_chain_passes_plain_verify_but_not_the_export_anchor(db_path: Path, tmp_path: Path, capsys) -> None:
    with Store.open(db_path) as s:
        _fill(s)
        export_csv(s, tmp_path / "out.csv")
    anchor = tmp_path / "out.anchor.json"
    assert json.loads(anchor.read_text())["last_id"] == 30
    assert main(["verify", "--db", str(db_path), "--anchor", str(anchor)]) == 0
    _reforge(db_path)
    with Store.open(db_path) as s:
        assert s.verify().ok  # the limit of a keyless chain, stated in the docstring
    assert main(["verify", "--db", str(db_path)]) == 0
    capsys.readouterr()
    assert main(["verify", "--db", str(db_path), "--anchor", str(anchor)]) == 1
    assert "rewritten and the chain re-hashed" in capsys.readouterr().out


@pytest.mark.parametrize("keep", [20, 0])
def test_truncation_and_deleting_everything_fail_against_the_anchor(db_path: Path, tmp_path: Path, keep: int) -> None:
    with Store.open(db_path) as s:
        _fill(s)
        export_csv(s, tmp_path / "out.csv")
    raw = sqlite3.connect(db_path)
    raw.execute("DROP TRIGGER reads_no_delete")
    raw.execute("DELETE FROM reads WHERE id > ?", (keep,))
    raw.commit()
    raw.close()
    with Store.open(db_path) as s:
        assert s.verify().ok  # a shorter chain is still a chain
        result = verify_anchor(s, read_anchor(tmp_path / "out.anchor.json"))
    assert not result.ok and "is gone: reads were removed" in result.message


def test_reads_after_the_anchor_are_fine(store: Store, tmp_path: Path) -> None:
    _fill(store, 3)
    export_csv(store, tmp_path / "a.csv")
    _fill(store, 2)
    assert verify_anchor(store, read_anchor(tmp_path / "a.anchor.json")).ok


@pytest.mark.parametrize("sql", [
    "INSERT OR REPLACE INTO reads ({cols}) VALUES ({marks})",
    "REPLACE INTO reads ({cols}) VALUES ({marks})",
    "INSERT INTO reads ({cols}) VALUES ({marks}) ON CONFLICT(id) DO UPDATE SET note = excluded.note",
    "INSERT INTO reads ({cols}) VALUES ({marks}) ON CONFLICT DO NOTHING",
])  # fmt: skip
def test_replace_and_upsert_are_refused_by_the_schema(db_path: Path, sql: str) -> None:
    with Store.open(db_path) as s:
        _fill(s, 3)
    raw = sqlite3.connect(db_path)
    raw.row_factory = sqlite3.Row
    row = dict(raw.execute("SELECT * FROM reads WHERE id = 2").fetchone())
    row["note"] = "changed"
    cols = list(_ALL_COLUMNS) + ["other_finding"]
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        raw.execute(sql.format(cols=", ".join(cols), marks=", ".join("?" * len(cols))), [row[c] for c in cols])
    # a REPLACE that only clashes on row_hash (it would delete read 2) is refused too
    row.update(id=4, prev_hash=raw.execute("SELECT row_hash FROM reads WHERE id = 3").fetchone()[0])
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        raw.execute(f"REPLACE INTO reads ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})",
                    [row[c] for c in cols])
    raw.close()
    with Store.open(db_path) as s:
        assert s.count() == 3 and s.get(2).note == "n1" and s.verify().ok
        s.add_read(make_input(study_key="next"))  # the normal path still appends
        assert s.verify().ok and s.count() == 4


def test_export_of_a_broken_chain_warns_exits_3_and_marks_the_anchor(db_path: Path, tmp_path: Path, capsys) -> None:
    with Store.open(db_path) as s:
        _fill(s, 3)
    raw = sqlite3.connect(db_path)
    raw.execute("DROP TRIGGER reads_no_update")
    raw.execute("UPDATE reads SET final_diagnosis = 'NORMAL' WHERE id = 2")
    raw.commit()
    raw.close()
    out = tmp_path / "x.csv"
    assert main(["export", "--db", str(db_path), "--csv", str(out)]) == 3
    err = capsys.readouterr().err
    assert "WARNING: the reads' audit trail failed verification (read 2" in err
    assert out.exists()
    data = json.loads((tmp_path / "x.anchor.json").read_text())
    assert data["chain_intact"] is False and "changed after it was saved" in data["chain_message"]
    assert main(["verify", "--db", str(db_path), "--anchor", str(tmp_path / "x.anchor.json")]) == 1


def test_session_anchor_catches_a_reforge_between_sessions(db_path: Path) -> None:
    with Store.open(db_path) as s:
        _fill(s)
        assert check_and_advance(s).ok  # start-up: no anchor yet, plain check, then anchored
        s.add_read(make_input(study_key="late"))
        assert check_and_advance(s).ok  # session end: anchor moves to read 31
    assert read_anchor(session_anchor_path(db_path)).last_id == 31
    _reforge(db_path, target=25, forged_extra=False)
    with Store.open(db_path) as s:
        result = check_and_advance(s)
        assert not result.ok and "re-hashed" in result.message
        assert not check_and_advance(s).ok  # the failed check did not move the anchor
    assert read_anchor(session_anchor_path(db_path)).last_id == 31


def test_anchor_of_an_empty_database_and_bad_anchor_files(store: Store, tmp_path: Path, capsys) -> None:
    result = store.verify()
    assert result.ok and (result.head_id, result.head_hash) == (0, "0" * 64)
    assert anchor_of(result).last_id == 0
    bad = tmp_path / "bad.anchor.json"
    bad.write_text("{not json")
    assert main(["verify", "--db", str(store.path), "--anchor", str(bad)]) == 1
    assert "is unreadable" in capsys.readouterr().err
    assert main(["verify", "--db", str(store.path), "--anchor", str(tmp_path / "none.json")]) == 1
    assert "no anchor file" in capsys.readouterr().err


# -- 19.3: the de-identified export leaks nothing typed or taken from the file --------------

CANARY = "ZZQCANARYQZZ"


def test_deidentified_export_never_contains_a_canary_from_any_text_field(store: Store, tmp_path: Path) -> None:
    fields = ("study_key", "file_path", "file_sha256", "patient_id", "patient_name", "birth_date", "study_date",
              "accession", "note", "other_finding")
    r = store.add_read(make_input(**{f: f"{CANARY}-{f}" for f in fields}, final_diagnosis=Diagnosis.OTHER,
                                  gate_result=f"rejected: body part {CANARY} is not the chest"))
    store.add_read(r.to_input(gate_result=f"rejected: {CANARY} view: the model reads frontal (AP/PA) films only",
                              supersedes=r.id))
    store.add_read(make_input(study_key="2.2", gate_result=f"rejected: {CANARY} something new"))
    for layout, history in (("reads", True), ("reads", False), ("mrmc", False)):
        out = tmp_path / f"{layout}{history}.csv"
        export_csv(store, out, deidentify=True, layout=layout, all_history=history)
        text = out.read_text(encoding="utf-8")
        assert CANARY not in text, (layout, history)
    rows = list(csv.DictReader(open(tmp_path / "readsTrue.csv", encoding="utf-8")))
    assert [r["gate_result"] for r in rows] == ["rejected: body part", "rejected: view", "rejected"]
    assert "other_finding" not in rows[0] and "note" not in rows[0]
    # times coarsened alike: the read's own time to its year, as study_date
    assert rows[0]["created_at"] == str(r.created_at.year) and rows[0]["study_date"] == ""


# -- 19.7: guard cells that only look harmless in front ---------------------------------

BYPASSES = [" =1+1", "  @SUM(A1)", "\u200b=1+1", "\ufeff=cmd|' /C calc'!A0", "\u202e=1", "\u2066+1",
            "\u00a0-1+1", "\uff1d1+1", "\uff0bA1", "\uff0d1", "\uff20SUM(A1)", "'\u200b=1", "\u3000=1"]


@pytest.mark.parametrize("value", BYPASSES)
def test_guard_catches_invisible_and_full_width_openings(value: str) -> None:
    assert escape_cell(value) == "'" + value
    assert unescape_cell(escape_cell(value)) == value


@pytest.mark.parametrize("value", ["0", "-0.25", "+3", "1e-5", "-2.5E+3", ".5", "-7.", "12345"])
def test_numbers_stay_numbers(value: str) -> None:
    assert escape_cell(value) == value


@pytest.mark.parametrize("value", ["-1e999", "-nan", "-inf", "-1,5", "-１", "- 1", "-1 ", "-0x10", "-1+1"])
def test_number_look_alikes_are_guarded(value: str) -> None:
    assert escape_cell(value) == "'" + value
