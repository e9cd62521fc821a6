"""Shared helpers for the records tests (imported by the test modules)."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

from xray_desktop.domain import Diagnosis
from xray_desktop.records import ReadInput, migrations

REPO = Path(__file__).resolve().parents[2]
# The reads rows a schema-v3 database written by main 7efa367 holds (per-file reads).
OLD_ROWS = Path(__file__).parent / "data" / "reads_v3_main_7efa367.sql"

CANARY_NAME = "ZZCANARY^PATIENT"
CANARY_ID = "CANARY-ID-8731"


def make_input(**changes: object) -> ReadInput:
    """A valid ReadInput with every field set to something distinctive."""
    values: dict[str, object] = dict(
        reviewer="dr_a",
        study_key="1.2.840.1",
        file_path="/studies/doe_john/chest.dcm",
        file_sha256="ab" * 32,
        final_diagnosis=Diagnosis.PNEUMONIA,
        confidence=4,
        patient_id="PID-1",
        patient_name="DOE^JOHN",
        birth_date="19800102",
        study_date="20240301",
        accession="ACC-77",
        ai_probability=0.8125,
        threshold=0.42,
        operating_point="high-sensitivity",
        ai_label="PNEUMONIA",
        model_version="densenet-1.3",
        model_sha256="cd" * 32,
        gate_result="accepted",
        note="RLL consolidation",
        time_spent_ms=12345,
    )
    values.update(changes)
    return ReadInput(**values)  # type: ignore[arg-type]


def child_env() -> dict[str, str]:
    """Environment for helper processes: the repo on the path, no user data touched."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH", "")) if p)
    return env


def v3_database(path: Path) -> None:
    """A schema-v3 database holding ``OLD_ROWS``, built by the v1-v3 migrations themselves."""
    conn = sqlite3.connect(path, isolation_level=None)
    for version, step in enumerate(migrations.MIGRATIONS[:3], start=1):
        conn.execute("BEGIN IMMEDIATE")
        step(conn)
        conn.execute(f"PRAGMA user_version = {version}")
        conn.execute("COMMIT")
    conn.executescript(OLD_ROWS.read_text(encoding="utf-8"))  # through the append-only triggers
    conn.close()
