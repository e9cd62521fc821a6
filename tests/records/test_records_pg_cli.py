"""Every command that takes --db takes a postgresql:// URL too; bad URLs and servers are one line."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pg_server
import pytest
from records_helpers import make_input

from xray_desktop.cli import main
from xray_desktop.domain import Diagnosis
from xray_desktop.model.card import ModelCard
from xray_desktop.records import Store
from xray_desktop.resources import model_dir


def _fill(location: str | Path) -> None:
    """The same 80 confirmed reads of the bundled model, on either backend."""
    sha = ModelCard.load(model_dir()).sha256
    with Store.open(location) as s:
        s.add_reads(
            make_input(study_key=f"s{i}", final_diagnosis=Diagnosis.PNEUMONIA if i % 2 else Diagnosis.NORMAL,
                       ai_probability=(0.6 + i / 400) if i % 2 else (0.05 + i / 400), ai_label="",
                       threshold=None, operating_point="", model_sha256=sha)
            for i in range(80)
        )  # fmt: skip


def _one_line(err: str) -> str:
    lines = [line for line in err.splitlines() if "error:" in line]  # argparse adds a (wrapped) usage
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


def test_export_verify_and_site_report_read_postgresql_like_sqlite(pg_url: str, tmp_path: Path, capsys) -> None:
    sqlite_db = tmp_path / "same.sqlite3"
    _fill(pg_url)
    _fill(sqlite_db)
    outputs = {}
    for name, db in (("pg", pg_url), ("sqlite", str(sqlite_db))):
        out = tmp_path / f"{name}.csv"
        assert main(["export", "--csv", str(out), "--db", db, "--deidentify"]) == 0
        assert main(["verify", "--db", db, "--anchor", str(out.with_name(f"{name}.anchor.json"))]) == 0
        capsys.readouterr()
        assert main(["site-report", "--db", db, "--json"]) == 0
        report = json.loads(capsys.readouterr().out)
        report.pop("source", None)
        with out.open(newline="", encoding="utf-8") as fh:
            rows = list(csv.DictReader(fh))
        outputs[name] = (report, [{k: v for k, v in r.items() if k != "created_at"} for r in rows])
    assert outputs["pg"][1] == outputs["sqlite"][1]  # same rows (pseudonyms, years, values)
    assert len(outputs["pg"][1]) == 80
    assert outputs["pg"][0]["n_reads"] == 80 and outputs["pg"][0] == outputs["sqlite"][0]
    assert main(["site-calibrate", "--db", pg_url, "--target-sensitivity", "0.9", "--min-positives", "20",
                 "--min-negatives", "20", "--out", str(tmp_path / "p.json")]) == 0  # fmt: skip
    assert (tmp_path / "p.json").is_file()


COMMANDS = [
    ["export", "--csv", "{tmp}/o.csv"],
    ["verify"],
    ["site-report"],
    ["site-calibrate", "--target-sensitivity", "0.9"],
    ["db", "init"],
]


@pytest.mark.parametrize("argv", COMMANDS, ids=lambda a: a[0] + (a[1] if a[0] == "db" else ""))
def test_unreachable_server_and_wrong_password_are_one_line(argv: list[str], pg: pg_server.PgServer, pg_url: str,
                                                            tmp_path: Path, capsys) -> None:
    argv = [a.replace("{tmp}", str(tmp_path)) for a in argv]
    Store.open(pg_url).close()
    down = "postgresql://nobody:pw@127.0.0.1:1/reads"
    assert main([*argv, "--db", down]) == 1
    assert "cannot reach the reads database server" in _one_line(capsys.readouterr().err)
    wrong = pg_url.replace(pg_server.PASSWORD, "not-the-password")
    assert main([*argv, "--db", wrong]) == 1
    line = _one_line(capsys.readouterr().err)
    assert "refused the login" in line and "not-the-password" not in line
    with pytest.raises(SystemExit) as usage:
        main([*argv, "--db", "mysql://u@h/db"])
    assert usage.value.code == 2
    assert "unsupported database URL scheme" in _one_line(capsys.readouterr().err)
    assert not any(p.name.startswith(("postgres", "mysql")) for p in tmp_path.rglob("*"))


def test_db_init_creates_the_schema_and_grants_least_privilege(pg: pg_server.PgServer, pg_url: str, capsys) -> None:
    import psycopg

    dbname = pg_url.rsplit("/", 1)[1]
    with psycopg.connect(pg.url(), autocommit=True) as conn:
        conn.execute("DROP ROLE IF EXISTS ws_role")
        conn.execute(f"CREATE ROLE ws_role LOGIN PASSWORD '{pg_server.PASSWORD}'")
    app_url = pg.url(dbname, user="ws_role")
    assert main(["export", "--csv", "/dev/null", "--db", app_url]) == 1  # nothing there yet
    assert "db init" in _one_line(capsys.readouterr().err)
    assert main(["db", "init", "--db", pg_url, "--grant", "ws_role"]) == 0
    out = capsys.readouterr().out
    assert "ready" in out and 'GRANT SELECT, INSERT ON reads TO "ws_role"' in out
    with Store.open(app_url, create=False) as s:
        s.add_read(make_input())
    assert main(["verify", "--db", app_url]) == 0
    assert main(["db", "init", "--db", "reads.sqlite3"]) == 1
    assert "postgresql://" in _one_line(capsys.readouterr().err)
