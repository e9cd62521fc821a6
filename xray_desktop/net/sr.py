"""The AI result (and the radiologist's read) as a DICOM Comprehensive SR (highdicom). No Qt.

One SR per source image. Patient and study modules are copied from the source (highdicom
takes them from the evidence); the SR is a new series of the source's study and
references the source image (SOP Class/Instance UID) in its content and in the evidence
sequence. Content tree (relationship types in brackets)::

    CONTAINER (LN 18748-4 Diagnostic imaging report)
      [HAS CONCEPT MOD] CODE Procedure reported = SCT 399208008 Plain X-ray of chest
      [HAS OBS CONTEXT] observer = the model as a device (name, manufacturer, model name)
      [CONTAINS] IMAGE Source image -> the film the model read
      [CONTAINS] CONTAINER AI pneumonia assessment (private code)
        TEXT Algorithm Name, TEXT Algorithm Version (DCM 111001, 111003), TEXT model SHA-256,
        TEXT input gate verdict, and when the gate accepted: NUM probability, NUM threshold,
        TEXT operating point, CODE Finding (DCM 121071) = SCT Pneumonia / Normal
      [CONTAINS] CONTAINER Radiologist final diagnosis (private code; confirmed reads only)
        [HAS OBS CONTEXT] observer = the reviewer as a person
        CODE Finding = SCT Pneumonia / Normal / Undetermined / Other, TEXT other finding,
        NUM reader confidence (1-5)

Codes without a standard equivalent use the private scheme ``99XRAYD``, declared in the
Coding Scheme Identification Sequence.
"""

from __future__ import annotations

import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pydicom
from pydicom.dataset import Dataset

from xray_desktop import __version__
from xray_desktop.domain import Diagnosis

SCHEME = "99XRAYD"
MANUFACTURER = "xray_desktop"
_UID = re.compile(r"[0-9][0-9.]{0,63}")
# Which source images get an SR: an image storage class with the UIDs an SR must reference.
_NEEDED = ("SOPClassUID", "SOPInstanceUID", "StudyInstanceUID", "SeriesInstanceUID")


class SrError(Exception):
    """An SR cannot be made for this source (not DICOM, no UIDs...). One line, no PHI."""


@dataclass(frozen=True)
class AiResult:
    """What the model said about one image (probability etc. are None when the gate refused)."""

    gate_verdict: str  # "accepted" or "rejected: <reason>"
    probability: float | None
    threshold: float | None
    operating_point: str
    label: str  # "PNEUMONIA", "NORMAL" or "" when not assessed
    model_name: str
    model_version: str
    model_sha256: str


@dataclass(frozen=True)
class ReaderResult:
    """The radiologist's confirmed read."""

    diagnosis: Diagnosis
    reviewer: str
    confidence: int  # 1..5
    other_finding: str = ""


def _codes() -> dict[str, Any]:
    from highdicom.sr import CodedConcept

    def private(value: str, meaning: str) -> CodedConcept:
        return CodedConcept(value, SCHEME, meaning)

    return {
        "report": CodedConcept("18748-4", "LN", "Diagnostic imaging report"),
        "procedure": CodedConcept("121058", "DCM", "Procedure reported"),
        "chest_xray": CodedConcept("399208008", "SCT", "Plain X-ray of chest"),
        "source": CodedConcept("121324", "DCM", "Source image"),
        "finding": CodedConcept("121071", "DCM", "Finding"),
        "algorithm_name": CodedConcept("111001", "DCM", "Algorithm Name"),
        "algorithm_version": CodedConcept("111003", "DCM", "Algorithm Version"),
        "no_units": CodedConcept("1", "UCUM", "no units"),
        "score": CodedConcept("{score}", "UCUM", "score"),
        "ai": private("AIRESULT", "AI pneumonia assessment"),
        "model_sha": private("MODELSHA", "Model file SHA-256"),
        "gate": private("GATE", "Input gate verdict"),
        "probability": private("PROB", "Probability of pneumonia"),
        "threshold": private("THRESH", "Decision threshold"),
        "operating_point": private("OPPOINT", "Operating point"),
        "read": private("READ", "Radiologist final diagnosis"),
        "confidence": private("CONF", "Reader confidence"),
        "other": private("OTHERFND", "Other finding"),
        Diagnosis.PNEUMONIA: CodedConcept("233604007", "SCT", "Pneumonia"),
        Diagnosis.NORMAL: CodedConcept("17621005", "SCT", "Normal"),
        Diagnosis.INDETERMINATE: CodedConcept("373068000", "SCT", "Undetermined"),
        Diagnosis.OTHER: CodedConcept("74964007", "SCT", "Other"),
    }


_TYPE2_COPIED = ("PatientName", "PatientID", "PatientBirthDate", "PatientSex", "StudyDate", "StudyTime",
                 "StudyID", "AccessionNumber", "ReferringPhysicianName")


def read_source(path: Path) -> Dataset:
    """The source image's header (no pixels); ``SrError`` unless it is a DICOM image with UIDs."""
    try:
        ds = pydicom.dcmread(path, stop_before_pixels=True)
    except Exception as exc:  # noqa: BLE001 - pydicom raises many types on non-DICOM input
        raise SrError(f"not a readable DICOM file ({type(exc).__name__})") from None
    for keyword in _NEEDED:
        if not _UID.fullmatch(str(ds.get(keyword, "") or "").strip()):
            raise SrError(f"source has no valid {keyword}")
    if "Rows" not in ds:
        raise SrError("source is not an image")
    # Type 2 patient/study attributes the SR copies from its evidence: a source without them
    # (anonymised films often lack a birth date) gets them empty, as DICOM allows, rather than
    # highdicom failing on the missing attribute.
    for keyword in _TYPE2_COPIED:
        if keyword not in ds:
            setattr(ds, keyword, "")
    return ds


def build_sr(source: Dataset, ai: AiResult, reader: ReaderResult | None = None) -> Dataset:
    """The Comprehensive SR data set for one source image."""
    import highdicom as hd
    from highdicom.sr import (
        CodeContentItem,
        ContainerContentItem,
        ImageContentItem,
        NumContentItem,
        ObserverContext,
        TextContentItem,
    )
    from pydicom.sr.codedict import codes as std

    c = _codes()
    contains = "CONTAINS"
    root = ContainerContentItem(c["report"], template_id=None)
    items: list[Any] = [CodeContentItem(c["procedure"], c["chest_xray"], relationship_type="HAS CONCEPT MOD")]
    device = hd.sr.DeviceObserverIdentifyingAttributes(
        uid=hd.UID(), name=_lo(ai.model_name or "AI model"), manufacturer_name=MANUFACTURER,
        model_name=_lo(f"{ai.model_name} {ai.model_version}".strip() or "unknown"),
    )  # fmt: skip
    items.extend(ObserverContext(std.DCM.Device, device))
    items.append(ImageContentItem(c["source"], source.SOPClassUID, source.SOPInstanceUID, relationship_type=contains))

    ai_box = ContainerContentItem(c["ai"], relationship_type=contains)
    ai_items: list[Any] = [
        TextContentItem(c["algorithm_name"], _ut(ai.model_name or "unknown"), relationship_type=contains),
        TextContentItem(c["algorithm_version"], _ut(ai.model_version or "unknown"), relationship_type=contains),
        TextContentItem(c["model_sha"], _ut(ai.model_sha256 or "unknown"), relationship_type=contains),
        TextContentItem(c["gate"], _ut(ai.gate_verdict or "unknown"), relationship_type=contains),
    ]
    if ai.probability is not None:
        ai_items.append(NumContentItem(c["probability"], ai.probability, c["no_units"], relationship_type=contains))
    if ai.threshold is not None:
        ai_items.append(NumContentItem(c["threshold"], ai.threshold, c["no_units"], relationship_type=contains))
    if ai.operating_point:
        ai_items.append(TextContentItem(c["operating_point"], _ut(ai.operating_point), relationship_type=contains))
    if ai.label in ("PNEUMONIA", "NORMAL"):
        ai_items.append(CodeContentItem(c["finding"], c[Diagnosis(ai.label)], relationship_type=contains))
    ai_box.ContentSequence = ai_items
    items.append(ai_box)

    if reader is not None:
        read_box = ContainerContentItem(c["read"], relationship_type=contains)
        person = hd.sr.PersonObserverIdentifyingAttributes(name=_pn(reader.reviewer))
        read_items: list[Any] = list(ObserverContext(std.DCM.Person, person))
        read_items.append(CodeContentItem(c["finding"], c[reader.diagnosis], relationship_type=contains))
        if reader.diagnosis is Diagnosis.OTHER and reader.other_finding.strip():
            read_items.append(TextContentItem(c["other"], _ut(reader.other_finding), relationship_type=contains))
        read_items.append(NumContentItem(c["confidence"], reader.confidence, c["score"], relationship_type=contains))
        read_box.ContentSequence = read_items
        items.append(read_box)
    root.ContentSequence = items

    sr = hd.sr.ComprehensiveSR(
        evidence=[source], content=root, series_instance_uid=hd.UID(), series_number=990,
        sop_instance_uid=hd.UID(), instance_number=1, manufacturer=MANUFACTURER, is_complete=True,
        is_final=reader is not None,  # a confirmed read is final; the AI alone is preliminary
        series_description="AI pneumonia result" + (" and radiologist read" if reader else ""),
    )  # fmt: skip
    sr.SoftwareVersions = __version__
    ours = [ai.model_name, ai.model_version, ai.model_sha256, ai.gate_verdict, ai.operating_point]
    if reader is not None:
        ours += [reader.reviewer, reader.other_finding]
    if not all(text.isascii() for text in ours):
        # The source's character set may not hold our text (a reviewer's name); UTF-8 holds
        # both: pydicom re-encodes the copied patient values, which it decoded to str.
        sr.SpecificCharacterSet = "ISO_IR 192"
    scheme = Dataset()
    scheme.CodingSchemeDesignator = SCHEME
    scheme.CodingSchemeName = "xray_desktop local codes"
    scheme.CodingSchemeResponsibleOrganization = MANUFACTURER
    sr.CodingSchemeIdentificationSequence = [scheme]
    return sr


def write_sr(source_path: Path, out_dir: Path, ai: AiResult, reader: ReaderResult | None = None,
             tag: str = "ai") -> Path:
    """Build the SR for ``source_path`` and write it atomically as ``<source SOP UID>_<tag>.dcm``."""
    source = read_source(source_path)
    sr = build_sr(source, ai, reader)
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / f"{source.SOPInstanceUID}_{tag}.dcm"
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=out_dir)
    try:
        with os.fdopen(fd, "wb") as fh:
            sr.save_as(fh, enforce_file_format=True)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target


def _clean(text: str, limit: int) -> str:
    return "".join(ch if ch.isprintable() else " " for ch in text).strip()[:limit]


def _lo(text: str) -> str:
    """A Long String value: 64 characters, no backslash."""
    return _clean(text, 64).replace("\\", "/")


def _ut(text: str) -> str:
    """A TEXT content item value (UT; kept short)."""
    return _clean(text, 1024) or "-"


def _pn(name: str) -> str:
    """A reviewer name as a Person Name: components are separated by ^, so none are invented."""
    pn = _clean(name, 63).replace("\\", "/").replace("=", "-") or "unknown"
    return pn if "^" in pn else pn + "^"  # one component: the trailing caret says it is the family name
