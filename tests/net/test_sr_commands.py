"""`predict --dicom-sr` (tiny model) and `export --dicom-sr` end to end through the CLI."""

from __future__ import annotations

import csv

import numpy as np
import pydicom
import pytest
from PIL import Image

from tests.model.test_classifier import chest_png
from tests.model.test_commands import tiny_dir, tiny_model  # noqa: F401 - the module-scoped model fixture
from tests.net.net_helpers import chest_film, save
from tests.net.sr_helpers import find, value
from xray_desktop.cli import main
from xray_desktop.domain import Diagnosis
from xray_desktop.records import ReadInput, Store


def dicom_from_png(png, path):
    arr = np.asarray(Image.open(png).convert("L"))
    ds = chest_film(rows=arr.shape[0], cols=arr.shape[1])
    ds.BitsAllocated, ds.BitsStored, ds.HighBit = 8, 8, 7
    ds.PixelData = arr.astype(np.uint8).tobytes()
    return save(ds, path)


def test_predict_writes_an_sr_per_assessed_dicom_input(tiny_dir, tmp_path, capsys):  # noqa: F811
    folder = tmp_path / "in"
    folder.mkdir()
    film = dicom_from_png(chest_png(tmp_path / "c.png"), folder / "film.dcm")
    chest_png(folder / "plain.png")  # assessed, but not DICOM: no SR
    out_csv, sr_dir = tmp_path / "out.csv", tmp_path / "sr"
    rc = main(["predict", str(folder), "--csv", str(out_csv), "--model-dir", str(tiny_dir), "--no-heatmap",
               "--operating-point", "high-specificity", "--dicom-sr", str(sr_dir)])
    assert rc == 0
    rows = {r["path"].rsplit("/", 1)[-1]: r for r in csv.DictReader(out_csv.open())}
    assert rows["film.dcm"]["status"] == "ok" and rows["plain.png"]["status"] == "ok"
    src = pydicom.dcmread(film)
    written = list(sr_dir.iterdir())
    assert [p.name for p in written] == [f"{src.SOPInstanceUID}_ai.dcm"]
    sr = pydicom.dcmread(written[0])
    row = rows["film.dcm"]
    assert value(find(sr, "99XRAYD:PROB")[0]) == pytest.approx(float(row["probability"]))
    assert value(find(sr, "99XRAYD:THRESH")[0]) == pytest.approx(0.8)
    assert value(find(sr, "99XRAYD:OPPOINT")[0]) == "high-specificity"
    label = {"PNEUMONIA": "SCT:233604007", "NORMAL": "SCT:17621005"}[row["ai_label"]]
    assert value(find(sr, "DCM:121071")[0]) == label
    assert value(find(sr, "DCM:111001")[0]) == "tiny test model"
    # a custom (trusted) model says so in its version wherever the version goes, the SR included
    assert value(find(sr, "DCM:111003")[0]) == row["model_version"]
    assert row["model_version"].startswith("0.0.1-test (custom model, card sha256 ")
    assert len(value(find(sr, "99XRAYD:MODELSHA")[0])) == 64
    assert sr.PatientID == src.PatientID and sr.StudyInstanceUID == src.StudyInstanceUID
    assert "wrote 1 DICOM SR" in capsys.readouterr().err


def _read(film, **changes):
    values = dict(
        reviewer="Gray^Meredith", file_path=str(film), file_sha256="ab" * 32,
        final_diagnosis=Diagnosis.NORMAL, confidence=5, ai_probability=0.25, threshold=0.5,
        operating_point="balanced", ai_label="NORMAL", model_version="1.0.0", model_sha256="cd" * 32,
        gate_result="accepted",
    )
    values.update(changes)
    return ReadInput(**values)


def test_export_writes_an_sr_per_confirmed_read(tmp_path, capsys):
    film = save(chest_film(), tmp_path / "film.dcm")
    png = tmp_path / "p.png"
    chest_png(png)
    db = tmp_path / "reads.db"
    with Store.open(db) as store:
        first = store.add_read(_read(film, study_key=str(pydicom.dcmread(film).SOPInstanceUID)))
        store.add_read(first.to_input(final_diagnosis=Diagnosis.PNEUMONIA, supersedes=first.id))
        store.add_read(_read(film, study_key="gone", file_path=str(tmp_path / "missing.dcm")))
        store.add_read(_read(png, study_key="png-study"))
    sr_dir = tmp_path / "sr"
    assert main(["export", "--dicom-sr", str(sr_dir), "--db", str(db)]) == 0
    out = capsys.readouterr().out
    assert "wrote 1 DICOM SR" in out and "1 source file not found" in out and "1 not a DICOM image" in out
    (path,) = sr_dir.iterdir()
    assert path.name.endswith("_read2.dcm")  # the latest read (the amendment) only
    sr = pydicom.dcmread(path)
    assert value(find(sr, "DCM:121071", "99XRAYD:READ")[0]) == "SCT:233604007"
    assert value(find(sr, "DCM:121008", "99XRAYD:READ")[0]) == "Gray^Meredith"
    assert value(find(sr, "DCM:121071", "99XRAYD:AIRESULT")[0]) == "SCT:17621005"
    assert value(find(sr, "99XRAYD:PROB")[0]) == pytest.approx(0.25)
    assert sr.PatientName == "DOE^JANE"

    csv_out = tmp_path / "o.csv"
    assert main(["export", "--csv", str(csv_out), "--dicom-sr", str(tmp_path / "sr2"), "--db", str(db)]) == 0
    assert csv_out.is_file() and len(list((tmp_path / "sr2").iterdir())) == 1


def test_export_sr_usage_errors_are_one_line(tmp_path, capsys):
    db = tmp_path / "reads.db"
    Store.open(db).close()
    with pytest.raises(SystemExit) as info:
        main(["export", "--db", str(db)])
    assert info.value.code == 2 and "give --csv OUT and/or --dicom-sr DIR" in capsys.readouterr().err
    assert main(["export", "--db", str(db), "--dicom-sr", str(tmp_path / "x"), "--deidentify"]) == 1
    err = capsys.readouterr().err
    assert "cannot be de-identified" in err and err.count("\n") == 1
