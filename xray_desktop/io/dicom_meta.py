"""DICOM header -> StudyMetadata fields and the tag dialog rows, never raising."""

from __future__ import annotations

import unicodedata
from collections.abc import Iterator, Sequence

from pydicom import charset as dcm_charset
from pydicom.datadict import dictionary_description, dictionary_VR, keyword_for_tag, tag_for_keyword
from pydicom.dataelem import RawDataElement
from pydicom.dataset import Dataset
from pydicom.tag import BaseTag, Tag
from pydicom.uid import UID

from xray_desktop.io.limits import MAX_TAG_VALUE_CHARS

TEXT_VRS = {"PN", "LO", "SH", "LT", "ST", "UT", "UC"}
BYTE_VRS = {"OB", "OW", "OF", "OD", "OL", "OV", "UN"}
PIXEL_GROUP = 0x7FE0
MAX_TAG_ROWS = 2000
MAX_DEPTH = 3
_PN_DELIMS = {0x5E, 0x3D}  # "^" and "=" separate PN components and groups


def clean(text: str, limit: int = MAX_TAG_VALUE_CHARS) -> str:
    """Drop control/format characters (bidi overrides too) and cap the length."""
    keep = (" " if ch in "\r\n\t" else ch for ch in text)
    out = "".join(ch for ch in keep if unicodedata.category(ch) not in ("Cc", "Cf")).strip()
    return out if len(out) <= limit else out[: limit - 1] + "…"


class Charset:
    """The data set's Specific Character Set; unknown terms mean "decode ASCII, replace the rest"."""

    def __init__(self, ds: Dataset) -> None:
        try:
            value = ds.get("SpecificCharacterSet", "")
        except Exception:  # noqa: BLE001 - a mangled charset element is just "unknown"
            value = "?"
        many = isinstance(value, Sequence) and not isinstance(value, str | bytes)
        terms = [str(t).strip() for t in (value if many else [value or ""])]
        self.unknown = [t for t in terms if t.upper() not in dcm_charset.python_encoding]
        known = [t.upper() for t in terms if t.upper() in dcm_charset.python_encoding]
        self.encodings = [dcm_charset.python_encoding[t] for t in known] or [dcm_charset.default_encoding]

    def decode(self, value: bytes, vr: str) -> str:
        """Decode text bytes; bogus charsets show non-ASCII bytes as U+FFFD."""
        if self.unknown:
            return value.decode("ascii", errors="replace")
        delims = _PN_DELIMS if vr == "PN" else {0x5C}
        try:
            return dcm_charset.decode_bytes(value, self.encodings, delims)
        except Exception:  # noqa: BLE001 - pydicom may raise on escape-sequence garbage
            return value.decode(self.encodings[0] if self.encodings else "ascii", errors="replace")


def _vr_of(tag: BaseTag, raw: object) -> str:
    vr = getattr(raw, "VR", None)
    if vr:
        return str(vr)
    try:
        return str(dictionary_VR(tag)).split(" ")[0]
    except KeyError:
        return "UN"


def element_text(ds: Dataset, tag: int, cs: Charset) -> str:
    """One element's value as display text (undecoded bytes and huge values summarised)."""
    tag = Tag(tag)
    raw = ds.get_item(tag, keep_deferred=True)
    if raw is None:
        return ""
    vr = _vr_of(tag, raw)
    if isinstance(raw, RawDataElement):
        if raw.value is None:
            return f"<{raw.length} bytes, not loaded>" if raw.length else ""
        if vr in TEXT_VRS and isinstance(raw.value, bytes):
            return clean(cs.decode(raw.value, vr).rstrip(" \0"))
    if vr in BYTE_VRS:
        length = getattr(raw, "length", 0) or len(getattr(raw, "value", b"") or b"")
        return f"<{length} bytes>"
    value = ds[tag].value
    if isinstance(value, bytes | bytearray):
        return f"<{len(value)} bytes>"
    if isinstance(value, Sequence) and not isinstance(value, str):
        return clean("\\".join(str(v) for v in value[:64]))
    return clean(str(value))


def safe_text(ds: Dataset, keyword: str, cs: Charset) -> str:
    """``element_text`` by keyword, empty on absence or on any decoding failure."""
    try:
        tag = tag_for_keyword(keyword)  # not ds.data_element(): that would decode the raw bytes
        return element_text(ds, tag, cs) if tag is not None and tag in ds else ""
    except Exception:  # noqa: BLE001 - metadata is best effort; the image matters
        return ""


def person_name(text: str) -> str:
    """ "DOE^JOHN^^DR" -> "DOE, JOHN" (first non-empty component group)."""
    group = next((g for g in text.split("=") if g.strip("^ ")), "")
    parts = [p.strip() for p in group.split("^")]
    family = parts[0] if parts else ""
    given = " ".join(p for p in parts[1:3] if p)
    return f"{family}, {given}" if family and given else (family or given)


def date_text(text: str) -> str:
    """DA "20240131" -> "2024-01-31"; anything else unchanged."""
    if len(text) == 8 and text.isdigit():
        return f"{text[:4]}-{text[4:6]}-{text[6:]}"
    return text


def sop_class_uid(ds: Dataset) -> str:
    """SOP Class UID from the data set, else the file meta; "" when absent."""
    for holder in (ds, getattr(ds, "file_meta", None)):
        for kw in ("SOPClassUID", "MediaStorageSOPClassUID"):
            try:
                uid = holder.get(kw) if holder is not None else None
            except Exception:  # noqa: BLE001 - a mangled UID is just "unknown"
                uid = None
            if uid:
                return str(uid).strip(" \0")
    return ""


def sop_class_name(ds: Dataset) -> str:
    """Human name of the SOP class, e.g. "Digital X-Ray Image Storage - For Presentation"."""
    uid = sop_class_uid(ds)
    return clean(UID(uid).name) if uid else ""


def metadata_fields(ds: Dataset, cs: Charset) -> dict[str, str]:
    """The text fields of StudyMetadata."""

    def t(kw: str) -> str:
        return safe_text(ds, kw, cs)

    uid = t("SOPInstanceUID")
    if not uid and getattr(ds, "file_meta", None) is not None:
        uid = safe_text(ds.file_meta, "MediaStorageSOPInstanceUID", cs)
    return {
        "patient_name": person_name(t("PatientName")),
        "patient_id": t("PatientID"),
        "birth_date": date_text(t("PatientBirthDate")),
        "age": t("PatientAge"),
        "sex": t("PatientSex"),
        "study_date": date_text(t("StudyDate")),
        "accession": t("AccessionNumber"),
        "modality": t("Modality"),
        "body_part": t("BodyPartExamined"),
        "view_position": t("ViewPosition"),
        "institution": t("InstitutionName"),
        "sop_instance_uid": uid,
        "sop_class": sop_class_name(ds),
    }


def tag_rows(ds: Dataset, cs: Charset) -> list[tuple[str, str, str]]:
    """(tag, name, value) rows for the tag dialog: file meta, then the data set, pixels skipped."""
    rows: list[tuple[str, str, str]] = []
    meta = getattr(ds, "file_meta", None)
    for source in (meta, ds):
        if source is None:
            continue
        for row in _walk(source, cs, 0):
            rows.append(row)
            if len(rows) >= MAX_TAG_ROWS:
                rows.append(("", "…", "further tags not listed"))
                return rows
    return rows


def _walk(ds: Dataset, cs: Charset, depth: int) -> Iterator[tuple[str, str, str]]:
    for tag in list(ds.keys()):
        tag = Tag(tag)
        if tag.group == PIXEL_GROUP:
            continue
        tag_str = f"({tag.group:04X},{tag.element:04X})"
        name = ("> " * depth) + _name(tag)
        try:
            raw = ds.get_item(tag, keep_deferred=True)
            if _vr_of(tag, raw) == "SQ" and not (isinstance(raw, RawDataElement) and raw.value is None):
                items = ds[tag].value
                yield tag_str, name, f"<sequence of {len(items)} items>"
                if depth < MAX_DEPTH:
                    for item in items:
                        yield from _walk(item, cs, depth + 1)
                continue
            value = element_text(ds, tag, cs)
        except Exception:  # noqa: BLE001 - one bad element must not hide the others
            value = "<unreadable value>"
        yield tag_str, name, value


def _name(tag: BaseTag) -> str:
    if tag.is_private:
        return "Private tag"
    try:
        return keyword_for_tag(tag) or dictionary_description(tag)
    except KeyError:
        return "Unknown tag"
