"""PHI canary: a patient name in the DICOM header and in the file name, through every path.

Load (success and failure), ``predict``, a GUI confirm, de-identified exports (GUI and CLI)
and ``verify`` all run in this process with the app's rotating log (DEBUG level) pointed at a
temporary folder and TMPDIR pointed at another; afterwards neither the log nor anything
under TMPDIR (names or bytes) may contain the canary.
"""

from __future__ import annotations

import csv
import logging
import logging.handlers
import tempfile
from pathlib import Path

import pytest
from io_helpers import build_dataset, chest_like, write

from xray_desktop.domain import Diagnosis
from xray_desktop.io import StudyLoadError, load_study

CANARY_NAME = "ZZCANARY^PHIPATIENT"
CANARY_ID = "ZZCANARY-ID-4411"
NEEDLES = (b"ZZCANARY", b"PHIPATIENT", "ZZCANARY".encode("utf-16-le"))


def _hits(folder: Path) -> list[str]:
    """Files under ``folder`` whose name or bytes contain the canary."""
    found = []
    for p in sorted(folder.rglob("*")):
        if any(n.decode("latin-1") in p.name for n in NEEDLES[:2]):
            found.append(f"name: {p}")
        if p.is_file() and not p.is_symlink():
            data = p.read_bytes()
            if any(n in data for n in NEEDLES):
                found.append(f"content: {p}")
    return found


@pytest.fixture
def phi_env(tmp_path, monkeypatch):
    """TMPDIR and the log folder under tmp; the app's log handler at DEBUG, removed afterwards."""
    from xray_desktop.logging_setup import setup_logging

    tmpdir = tmp_path / "TMPDIR"
    tmpdir.mkdir()
    monkeypatch.setenv("TMPDIR", str(tmpdir))
    monkeypatch.setattr(tempfile, "tempdir", str(tmpdir))
    logs = tmp_path / "logs"
    monkeypatch.setenv("XRAY_DESKTOP_LOG_DIR", str(logs))
    logger = logging.getLogger("xray_desktop")
    level = logger.level
    log_file = setup_logging(level=logging.DEBUG)
    assert log_file.parent == logs
    yield tmpdir, log_file
    for h in list(logger.handlers):
        if isinstance(h, logging.handlers.RotatingFileHandler) and Path(h.baseFilename) == log_file:
            logger.removeHandler(h)
            h.close()
    logger.setLevel(level)


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_canary_never_reaches_the_log_or_temp_files(qtbot, open_window, tiny_model_dir, tmp_path, phi_env, capsys):
    from fakes import factory
    from helpers import settled

    from xray_desktop.cli import main
    from xray_desktop.ui.dialogs import ExportOptions

    tmpdir, log_file = phi_env
    studies = tmp_path / "studies" / CANARY_NAME  # the folder name too
    studies.mkdir(parents=True)
    ds = build_dataset(chest_like(96, 80), PatientName=CANARY_NAME, PatientID=CANARY_ID,
                       AccessionNumber="ZZCANARY-ACC", InstitutionName="ZZCANARY HOSPITAL")
    good = write(ds, studies / f"{CANARY_NAME}.dcm")
    broken = studies / f"{CANARY_NAME}_broken.dcm"
    broken.write_bytes(good.read_bytes()[:-500])

    # 1. load: success and failure
    assert load_study(good).metadata.patient_id == CANARY_ID
    with pytest.raises(StudyLoadError):
        load_study(broken)

    # 2. predict (real tiny model)
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    assert main(["model", "trust", str(tiny_model_dir)]) == 0
    assert main(["predict", str(studies), "--csv", str(out_dir / "predict.csv"), "--model-dir",
                 str(tiny_model_dir)]) == 0

    # 3. GUI: open, confirm the good study, export de-identified from the menu
    w = open_window(factory())
    w.open_paths([studies])
    qtbot.waitUntil(lambda: len(w.model.rows) == 2 and settled(w), timeout=20_000)
    row = next(i for i, r in enumerate(w.model.rows) if r.path == good)
    w.list_panel.select_source_row(row)
    qtbot.waitUntil(lambda: w.viewer.view.study() is not None, timeout=10_000)
    w.diagnosis_panel.set_diagnosis(Diagnosis.PNEUMONIA)
    w.diagnosis_panel.set_confidence(3)
    w.diagnosis_panel.note_edit.setPlainText(f"seen {CANARY_NAME}")
    assert w.confirm()
    assert w.store.latest_for(w.model.rows[row].key).patient_name == "ZZCANARY, PHIPATIENT"
    gui_export = out_dir / "gui_deid.csv"
    w.export_options_provider = lambda: ExportOptions(gui_export, all_history=True, deidentify=True)
    assert w.export_confirmed() == 1
    db = w.store.path
    w.shutdown()
    w.store.close()

    # 4. CLI export (de-identified, both layouts) and verify
    cli_export = out_dir / "cli_deid.csv"
    assert main(["export", "--csv", str(cli_export), "--deidentify", "--all", "--db", str(db)]) == 0
    mrmc = out_dir / "mrmc_deid.csv"
    assert main(["export", "--csv", str(mrmc), "--deidentify", "--layout", "mrmc", "--db", str(db)]) == 0
    assert main(["verify", "--db", str(db)]) == 0
    printed = capsys.readouterr()

    for export in (gui_export, cli_export, mrmc):
        with export.open(newline="", encoding="utf-8") as fh:
            assert len(list(csv.reader(fh))) == 2
        assert b"ZZCANARY" not in export.read_bytes(), f"{export.name} is not de-identified"
    assert "ZZCANARY" not in printed.out + printed.err
    for h in logging.getLogger("xray_desktop").handlers:
        h.flush()
    text = "".join(p.read_text(encoding="utf-8") for p in log_file.parent.glob("*.log*"))
    assert "saved read 1 " in text and "exported 1 reads" in text  # the log did record these paths
    assert "ZZCANARY" not in text and "PHIPATIENT" not in text, "PHI in the log"
    assert _hits(log_file.parent) == []
    assert _hits(tmpdir) == [], "PHI left in temporary files"
    names = ["cli_deid", "gui_deid", "mrmc_deid"]
    assert sorted(p.name for p in out_dir.iterdir()) == sorted(
        [f"{n}.csv" for n in names] + [f"{n}.anchor.json" for n in names] + ["predict.csv"]
    ), "a temp file was left behind"
    for n in names:  # the anchors carry no PHI either
        assert b"ZZCANARY" not in (out_dir / f"{n}.anchor.json").read_bytes()
