"""The AI result as DICOM SR: content round trip with pydicom, dciodvfy, the read's diagnosis."""

from __future__ import annotations

import shutil
import subprocess

import pydicom
import pytest

from tests.net.net_helpers import chest_film, save
from tests.net.sr_helpers import find, value
from xray_desktop.domain import Diagnosis
from xray_desktop.net.sr import AiResult, ReaderResult, SrError, read_source, write_sr
from xray_desktop.net.sr_hooks import PredictionSrs

COMPREHENSIVE_SR = "1.2.840.10008.5.1.4.1.1.88.33"
AI = AiResult("accepted", 0.912345, 0.3914, "high-sensitivity", "PNEUMONIA",
              "xray-desktop pediatric pneumonia CNN", "1.0.0", "0123456789abcdef" * 4)
PATIENT_STUDY = ("PatientName", "PatientID", "PatientBirthDate", "PatientSex", "StudyInstanceUID", "StudyDate",
                 "StudyTime", "StudyID", "AccessionNumber", "ReferringPhysicianName")


@pytest.fixture
def source(tmp_path):
    return save(chest_film(), tmp_path / "film.dcm")


def test_ai_sr_round_trip(source, tmp_path):
    src = pydicom.dcmread(source)
    path = write_sr(source, tmp_path / "sr", AI)
    assert path.name == f"{src.SOPInstanceUID}_ai.dcm"
    sr = pydicom.dcmread(path)
    assert sr.SOPClassUID == COMPREHENSIVE_SR and sr.Modality == "SR"
    for keyword in PATIENT_STUDY:  # patient and study modules copied from the source
        assert sr.get(keyword) == src.get(keyword), keyword
    assert sr.SeriesInstanceUID != src.SeriesInstanceUID and sr.SOPInstanceUID != src.SOPInstanceUID
    evidence = sr.CurrentRequestedProcedureEvidenceSequence[0]
    assert evidence.StudyInstanceUID == src.StudyInstanceUID
    series = evidence.ReferencedSeriesSequence[0]
    assert series.SeriesInstanceUID == src.SeriesInstanceUID
    assert series.ReferencedSOPSequence[0].ReferencedSOPInstanceUID == src.SOPInstanceUID
    assert series.ReferencedSOPSequence[0].ReferencedSOPClassUID == src.SOPClassUID
    assert [value(i) for i in find(sr, "DCM:121324")] == [(src.SOPClassUID, src.SOPInstanceUID)]
    ai = "99XRAYD:AIRESULT"
    assert value(find(sr, "99XRAYD:PROB", ai)[0]) == pytest.approx(0.912345)
    assert value(find(sr, "99XRAYD:THRESH", ai)[0]) == pytest.approx(0.3914)
    assert value(find(sr, "99XRAYD:OPPOINT", ai)[0]) == "high-sensitivity"
    assert value(find(sr, "DCM:121071", ai)[0]) == "SCT:233604007"
    assert value(find(sr, "DCM:111001", ai)[0]) == AI.model_name
    assert value(find(sr, "DCM:111003", ai)[0]) == "1.0.0"
    assert value(find(sr, "99XRAYD:MODELSHA", ai)[0]) == AI.model_sha256
    assert value(find(sr, "99XRAYD:GATE", ai)[0]) == "accepted"
    assert find(sr, "99XRAYD:READ") == []
    assert sr.CompletionFlag == "COMPLETE" and sr.PreliminaryFlag == "PRELIMINARY"
    assert sr.CodingSchemeIdentificationSequence[0].CodingSchemeDesignator == "99XRAYD"


@pytest.mark.parametrize(
    ("diagnosis", "code"),
    [(Diagnosis.PNEUMONIA, "SCT:233604007"), (Diagnosis.NORMAL, "SCT:17621005"),
     (Diagnosis.INDETERMINATE, "SCT:373068000"), (Diagnosis.OTHER, "SCT:74964007")],
)
def test_read_sr_carries_the_final_diagnosis_and_reviewer(source, tmp_path, diagnosis, code):
    reader = ReaderResult(diagnosis, "Gray^Meredith", 4, other_finding="pneumothorax")
    sr = pydicom.dcmread(write_sr(source, tmp_path, AI, reader, tag="read7"))
    read = "99XRAYD:READ"
    assert value(find(sr, "DCM:121071", read)[0]) == code
    assert value(find(sr, "DCM:121008", read)[0]) == "Gray^Meredith"  # Person Observer Name
    assert value(find(sr, "99XRAYD:CONF", read)[0]) == 4
    others = find(sr, "99XRAYD:OTHERFND", read)
    assert [value(i) for i in others] == (["pneumothorax"] if diagnosis is Diagnosis.OTHER else [])
    assert sr.PreliminaryFlag == "FINAL"


def test_not_assessed_ai_part_has_no_probability(source, tmp_path):
    ai = AiResult("rejected: lateral view", None, None, "", "", "m", "1", "0" * 64)
    sr = pydicom.dcmread(write_sr(source, tmp_path, ai, ReaderResult(Diagnosis.NORMAL, "r", 3)))
    assert find(sr, "99XRAYD:PROB") == [] and find(sr, "DCM:121071", "99XRAYD:AIRESULT") == []
    assert value(find(sr, "99XRAYD:GATE")[0]) == "rejected: lateral view"


def test_sources_that_get_no_sr(tmp_path):
    png = tmp_path / "a.png"
    png.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 64)
    with pytest.raises(SrError):
        read_source(png)
    no_uid = chest_film()
    del no_uid.StudyInstanceUID
    with pytest.raises(SrError, match="StudyInstanceUID"):
        read_source(save(no_uid, tmp_path / "x.dcm"))
    srs = PredictionSrs(tmp_path / "out", "m", "0" * 64)
    srs.add({"status": "rejected", "path": str(tmp_path / "x.dcm")})
    srs.add({"status": "ok", "path": str(png), "probability": "0.5", "threshold": "0.5"})
    assert srs.written == 0
    skipped = "(skipped: 1 not a DICOM image, 1 not assessed by the model)"
    assert srs.summary() == f"wrote 0 DICOM SR to {tmp_path / 'out'} {skipped}"


def test_dciodvfy_finds_no_errors(source, tmp_path):
    tool = shutil.which("dciodvfy")
    if tool is None:
        pytest.fail("dciodvfy (Debian package dicom3tools) is not installed; .ci/run installs it")
    latin1 = chest_film(SpecificCharacterSet="ISO_IR 100", PatientName="Müller^Jürgen")
    latin1_source = save(latin1, tmp_path / "latin1.dcm")
    cases = [
        (source, None),
        (source, ReaderResult(Diagnosis.OTHER, "Dr. Who", 2, "effusion")),
        (source, ReaderResult(Diagnosis.NORMAL, "Çelik^Ayşe", 5)),  # not ASCII: the SR switches to UTF-8
        (latin1_source, ReaderResult(Diagnosis.PNEUMONIA, "Gray^Meredith", 3)),
    ]
    for i, (src, reader) in enumerate(cases):
        path = write_sr(src, tmp_path / str(i), AI, reader)
        out = subprocess.run([tool, str(path)], capture_output=True, text=True, timeout=60)
        report = out.stdout + out.stderr
        assert "Comprehensive" in report.replace(" ", "") or "ComprehensiveSR" in report
        errors = [ln for ln in report.splitlines() if ln.startswith("Error")]
        assert errors == [], report


def test_text_the_source_charset_cannot_hold_switches_the_sr_to_utf8(source, tmp_path):
    latin1 = save(chest_film(SpecificCharacterSet="ISO_IR 100", PatientName="Müller^Jürgen"), tmp_path / "l.dcm")
    kept = pydicom.dcmread(write_sr(latin1, tmp_path / "a", AI, ReaderResult(Diagnosis.NORMAL, "Gray^M", 3)))
    assert kept.SpecificCharacterSet == "ISO_IR 100" and kept.PatientName == "Müller^Jürgen"
    utf8 = pydicom.dcmread(write_sr(latin1, tmp_path / "b", AI, ReaderResult(Diagnosis.NORMAL, "Çelik^Ayşe", 3)))
    assert utf8.SpecificCharacterSet == "ISO_IR 192" and utf8.PatientName == "Müller^Jürgen"
    assert value(find(utf8, "DCM:121008")[0]) == "Çelik^Ayşe"


def test_a_source_without_type2_patient_and_study_attributes_gets_an_sr(tmp_path):
    """Seen with predict --by-study --dicom-sr: no PatientBirthDate raised AttributeError."""
    film = chest_film()
    for keyword in ("PatientBirthDate", "PatientSex", "StudyID", "ReferringPhysicianName", "AccessionNumber"):
        if keyword in film:
            delattr(film, keyword)
    src = save(film, tmp_path / "bare.dcm")
    path = write_sr(src, tmp_path / "sr", AI, ReaderResult(Diagnosis.NORMAL, "Dr. Who", 4))
    sr = pydicom.dcmread(path)
    assert sr.PatientBirthDate == "" and sr.PatientID == film.PatientID
    tool = shutil.which("dciodvfy")
    assert tool is not None, "dciodvfy (Debian package dicom3tools) is not installed; .ci/run installs it"
    out = subprocess.run([tool, str(path)], capture_output=True, text=True, timeout=60)
    assert [ln for ln in (out.stdout + out.stderr).splitlines() if ln.startswith("Error")] == []
