"""Patient age at the study, from PatientAge or BirthDate + StudyDate/AcquisitionDate (issue #17.9)."""

from __future__ import annotations

import pytest
from io_helpers import chest_like

from xray_desktop.io import load_study
from xray_desktop.io.age import age_years, format_age, parse_age_string, parse_date


@pytest.mark.parametrize(
    ("text", "years"),
    [("062Y", 62.0), ("081Y", 81.0), ("003Y", 3.0), ("018M", 1.5), ("006M", 0.5), (" 012W", 12 * 7 / 365.2425),
     ("010D", 10 / 365.2425), ("62", 62.0), ("4y", 4.0)],
)
def test_age_string_units(text, years):
    assert parse_age_string(text) == pytest.approx(years)


@pytest.mark.parametrize("text", ["", "   ", "Y", "ABCY", "-05Y", "1000Y", "200Y", "12X", "3.5Y"])
def test_age_string_invalid_is_unknown(text):
    assert parse_age_string(text) is None


def test_dates():
    assert parse_date("20040312").isoformat() == "2004-03-12"
    assert parse_date("2004-03-12").isoformat() == "2004-03-12"
    for bad in ("", "2004", "20041312", "2004031", "abcdefgh", "20040230"):
        assert parse_date(bad) is None


def test_age_prefers_patient_age_then_birth_to_study_then_acquisition_date():
    assert age_years("062Y", "19400101", "20040101") == 62.0
    assert age_years("", "19400615", "20040614") == pytest.approx(63.997, abs=0.01)
    assert age_years("", "1940-06-15", "", "20040616") == pytest.approx(64.0, abs=0.01)
    assert age_years("garbage", "20200101", "20230701") == pytest.approx(3.5, abs=0.01)


def test_age_is_unknown_without_enough_dates():
    assert age_years() is None
    assert age_years("", "19400101", "") is None  # no study date: today's date is never assumed
    assert age_years("", "", "20040101") is None
    assert age_years("", "20050101", "20040101") is None  # born after the study
    assert age_years("", "16000101", "20040101") is None  # implausible


def test_format_age():
    assert format_age(62.7) == "62 y"
    assert format_age(2.0) == "2 y"
    assert format_age(1.5) == "18 mo"
    assert format_age(0.5) == "6 mo"
    assert format_age(10 / 365.2425) == "10 d"


def test_dicom_loader_fills_age_years(dicom_file):
    assert load_study(dicom_file(chest_like(), PatientAge="062Y")).metadata.age_years == 62.0
    s = load_study(dicom_file(chest_like(), name="b.dcm", PatientBirthDate="19400101", StudyDate="20040101"))
    assert s.metadata.age_years == pytest.approx(64.0, abs=0.01)
    s = load_study(dicom_file(chest_like(), name="c.dcm", PatientBirthDate="20200101", StudyDate="",
                              AcquisitionDate="20230101"))
    assert s.metadata.age_years == pytest.approx(3.0, abs=0.01)
    assert load_study(dicom_file(chest_like(), name="d.dcm")).metadata.age_years is None
