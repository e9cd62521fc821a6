"""The `export` and `verify` sub-commands: output, exit codes 0/1/2, one-line errors."""

from __future__ import annotations

import argparse
import csv
import sqlite3
import sys
from pathlib import Path

import pytest
from records_helpers import make_input

from xray_desktop.cli import _Parser
from xray_desktop.records import Store, commands


def run(argv: list[str]) -> int:
    """Parse and dispatch like cli.main, with only the records sub-commands."""
    parser = _Parser(prog="xray-desktop")
    sub = parser.add_subparsers(dest="command", parser_class=_Parser)
    commands.register(sub)
    args = parser.parse_args(argv)
    return args.func(args)


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "cli.db"
    with Store.open(path) as s:
        first = s.add_read(make_input(study_key="A", reviewer="r1"))
        s.add_read(first.to_input(supersedes=first.id, confidence=5))
        s.add_read(make_input(study_key="B", reviewer="r2"))
    return path


def _one_line_error(err: str) -> None:
    assert err.count("\n") == 1 and "Traceback" not in err and "error:" in err


def test_export_ok(db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "o.csv"
    assert run(["export", "--csv", str(out), "--db", str(db)]) == 0
    assert capsys.readouterr().out == f"wrote 2 rows to {out}\n"
    assert run(["export", "--csv", str(out), "--db", str(db), "--all"]) == 0
    assert capsys.readouterr().out == f"wrote 3 rows to {out}\n"
    assert run(["export", "--csv", str(out), "--db", str(db), "--reviewer", "r2", "--since", "2000-01-01"]) == 0
    assert "wrote 1 rows" in capsys.readouterr().out
    assert run(["export", "--csv", str(out), "--db", str(db), "--until", "2000-01-01"]) == 0
    assert "wrote 0 rows" in capsys.readouterr().out
    assert run(["export", "--csv", str(out), "--db", str(db), "--deidentify", "--layout", "mrmc"]) == 0
    with open(out, encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 2 and all(r["case"].startswith("S-") for r in rows)


def test_export_uses_env_db_by_default(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with Store.open() as s:  # XRAY_DESKTOP_DB points into tmp_path (conftest)
        s.add_read(make_input())
    assert run(["export", "--csv", str(tmp_path / "o.csv")]) == 0
    assert "wrote 1 rows" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("extra", "needle"),
    [
        (["--since", "31/12/2024"], "--since must be a date"),
        (["--until", "yesterday"], "--until must be a date"),
        (["--csv", "/nonexistent-dir/sub/o.csv"], "cannot write"),
        (["--all", "--layout", "mrmc"], "mrmc"),
    ],
)
def test_export_bad_input_exit_1(
    db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], extra: list[str], needle: str
) -> None:
    argv = ["export", "--csv", str(tmp_path / "o.csv"), "--db", str(db), *extra]
    assert run(argv) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    _one_line_error(captured.err)
    assert needle in captured.err


def test_export_to_folder_or_missing_db_exit_1(db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["export", "--csv", str(tmp_path), "--db", str(db)]) == 1
    assert "is a folder" in capsys.readouterr().err
    missing = tmp_path / "missing.db"
    assert run(["export", "--csv", str(tmp_path / "o.csv"), "--db", str(missing)]) == 1
    _one_line_error(capsys.readouterr().err)
    assert not missing.exists()  # export never creates a database


def test_corrupt_db_exit_1(db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = bytearray(db.read_bytes())
    data[:16] = b"\xff" * 16
    db.write_bytes(bytes(data))
    assert run(["verify", "--db", str(db)]) == 1
    _one_line_error(capsys.readouterr().err)
    assert run(["export", "--csv", str(tmp_path / "o.csv"), "--db", str(db)]) == 1
    err = capsys.readouterr().err
    _one_line_error(err)
    assert "restore it from a backup" in err
    assert not (tmp_path / "o.csv").exists()


@pytest.mark.parametrize(
    "argv",
    [
        ["export"],  # --csv is required
        ["export", "--csv", "o.csv", "--layout", "xml"],
        ["export", "--csv", "o.csv", "--bogus"],
        ["verify", "extra"],
    ],
)
def test_usage_errors_exit_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        run(argv)
    assert info.value.code == 2
    assert "Traceback" not in capsys.readouterr().err


def test_verify_ok_and_broken(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["verify", "--db", str(db)]) == 0
    assert capsys.readouterr().out.startswith("ok: 3 reads checked")
    raw = sqlite3.connect(db)
    raw.execute("DROP TRIGGER reads_no_update")
    raw.execute("UPDATE reads SET confidence = 1 WHERE id = 2")
    raw.commit()
    raw.close()
    assert run(["verify", "--db", str(db)]) == 1
    assert capsys.readouterr().out.startswith("BROKEN: first broken read id 2:")


def test_unexpected_error_is_one_line(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    def boom(args: argparse.Namespace) -> int:
        raise RuntimeError("kaboom\nsecond line")

    monkeypatch.setattr(commands, "run_verify", boom)
    parser = _Parser(prog="x")
    sub = parser.add_subparsers(parser_class=_Parser)
    commands.register(sub)
    args = parser.parse_args(["verify"])
    assert args.func(args) == 1
    err = capsys.readouterr().err
    _one_line_error(err)
    assert "RuntimeError: kaboom second line" in err


def test_real_cli_main(
    db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # cli.main also registers the model commands (another layer). Block heavy imports so
    # this test can never pull in TensorFlow or Qt; skip if that layer needs them eagerly.
    for heavy in ("tensorflow", "keras", "PySide6"):
        if heavy not in sys.modules:
            monkeypatch.setitem(sys.modules, heavy, None)
    pytest.importorskip("xray_desktop.model.commands")
    from xray_desktop.cli import main

    out = tmp_path / "o.csv"
    assert main(["export", "--csv", str(out), "--db", str(db)]) == 0
    assert f"wrote 2 rows to {out}" in capsys.readouterr().out
    assert main(["verify", "--db", str(db)]) == 0
    assert main(["export", "--csv", str(out), "--db", str(db), "--since", "nope"]) == 1
    with pytest.raises(SystemExit) as info:
        main(["export", "--layout", "mrmc"])
    assert info.value.code == 2
