"""The patient's age at the study, from what a DICOM header says. Pure: no pydicom, no I/O.

The model card states the ages the model is meant for; the classifier compares this age with
them (``ModelCard.out_of_scope``). Unknown stays unknown: without a study date the age is not
guessed from today's date, since an archive study may be decades old.
"""

from __future__ import annotations

import datetime as dt
import re

DAYS_PER_YEAR = 365.2425
MAX_AGE_YEARS = 150.0  # anything older is a typo or a placeholder, not an age
_AS = re.compile(r"^(\d{1,3})\s*([DWMY]?)$")
_UNIT_YEARS = {"D": 1 / DAYS_PER_YEAR, "W": 7 / DAYS_PER_YEAR, "M": 1 / 12, "Y": 1.0, "": 1.0}


def parse_age_string(text: str) -> float | None:
    """DICOM Age String ("nnnD", "nnnW", "nnnM", "nnnY") in years; None when absent or invalid.

    A bare number ("62") is read as years: seen in files that ignore the VR's unit.
    """
    m = _AS.match((text or "").strip().upper())
    if not m:
        return None
    years = int(m.group(1)) * _UNIT_YEARS[m.group(2)]
    return years if years <= MAX_AGE_YEARS else None


def parse_date(text: str) -> dt.date | None:
    """DA "YYYYMMDD" (or "YYYY-MM-DD", as StudyMetadata shows it) to a date; None when invalid."""
    digits = (text or "").strip().replace("-", "").replace(".", "")
    if len(digits) != 8 or not digits.isdigit():
        return None
    try:
        return dt.date(int(digits[:4]), int(digits[4:6]), int(digits[6:]))
    except ValueError:
        return None


def age_years(patient_age: str = "", birth_date: str = "", study_date: str = "",
              acquisition_date: str = "") -> float | None:
    """Age at the study in years: PatientAge if valid, else BirthDate to StudyDate (or AcquisitionDate).

    None when neither gives a plausible age (no birth date, no study date, birth after the study).
    """
    from_tag = parse_age_string(patient_age)
    if from_tag is not None:
        return from_tag
    born = parse_date(birth_date)
    seen = parse_date(study_date) or parse_date(acquisition_date)
    if born is None or seen is None or seen < born:
        return None
    years = (seen - born).days / DAYS_PER_YEAR
    return years if years <= MAX_AGE_YEARS else None


def format_age(years: float) -> str:
    """An age for people: "62 y" (whole years from 2 y), "8 mo" under 2 y, "10 d" under a month."""
    if years >= 2:
        return f"{int(years)} y"
    months = years * 12
    if months >= 1:
        return f"{int(months)} mo"
    return f"{int(round(years * DAYS_PER_YEAR))} d"
