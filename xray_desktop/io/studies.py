"""Studies: files grouped into the sets of images a radiologist reads, and the image the AI reads.

A radiologist reads a study (often a frontal PA/AP film and a lateral), not a file. DICOM
images are grouped by StudyInstanceUID, in series and instance order (SeriesNumber, then
InstanceNumber; UIDs and paths break ties, so the order never depends on the folder).
A PNG/JPEG file, and a DICOM file without a StudyInstanceUID, is a study of its own, keyed
by its file SHA-256. Grouping reads headers only (a few tags, no pixels), so a folder of
thousands of files groups in seconds.

The AI reads one image per study (:func:`choose_ai_image`): a ViewPosition PA/AP image
first (PA before AP: the standard, better-quality projection), then images with no
ViewPosition, which only the input gate can tell from a lateral; lateral views are shown,
never scored. Among several candidates of the same kind, the lowest series/instance number
wins, and a candidate the gate refused or that would not load gives way to the next. The
choice carries a sentence saying which image and why.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from xray_desktop.io.errors import StudyLoadError
from xray_desktop.io.scan import ScanItem, scan

if TYPE_CHECKING:
    from pydicom.dataset import Dataset

FRONTAL_VIEWS = ("PA", "AP")  # in order of preference
LATERAL_VIEWS = frozenset({"LL", "RL", "LAT", "LATERAL", "LLD", "RLD"})
# The header elements grouping reads (pydicom itself is imported only for a DICOM file).
_TAGS = {"StudyInstanceUID": 0x0020000D, "SeriesInstanceUID": 0x0020000E, "SeriesNumber": 0x00200011,
         "InstanceNumber": 0x00200013, "SOPInstanceUID": 0x00080018, "ViewPosition": 0x00185101}


@dataclass(frozen=True)
class StudyImage:
    """One file of a study, as its header describes it (nothing decoded)."""

    path: Path
    kind: str  # "DICOM", "PNG" or "JPEG"; "" for a file that is no usable image
    study_uid: str = ""
    series_uid: str = ""
    series_number: int | None = None
    instance_number: int | None = None
    sop_instance_uid: str = ""
    view_position: str = ""
    sha256: str = ""  # set at grouping only where it is the study key (non-DICOM, no study UID)
    error: str = ""  # why the file cannot be read (skipped by the scan, unreadable header)

    @property
    def view(self) -> str:
        """The ViewPosition, upper case ("" when absent)."""
        return self.view_position.strip().upper()

    @property
    def is_lateral(self) -> bool:
        return self.view in LATERAL_VIEWS

    @property
    def label(self) -> str:
        """Where the image sits in its study, for people: "series 2, image 1", else the file name."""
        if self.series_number is None and self.instance_number is None:
            return self.path.name
        parts = []
        if self.series_number is not None:
            parts.append(f"series {self.series_number}")
        if self.instance_number is not None:
            parts.append(f"image {self.instance_number}")
        return ", ".join(parts)

    def order_key(self) -> tuple[object, ...]:
        """Series, then instance order; missing numbers last; UIDs and the path break ties."""
        return (self.series_number is None, self.series_number or 0, self.series_uid,
                self.instance_number is None, self.instance_number or 0, self.sop_instance_uid, str(self.path))


@dataclass(frozen=True)
class ImageStudy:
    """A study: its key and its images in series/instance order.

    ``key`` is the StudyInstanceUID, else the single file's SHA-256; "" for a file that could
    not be read (``error`` says why; such an entry has that one image).
    """

    key: str
    study_uid: str
    images: tuple[StudyImage, ...]
    error: str = ""

    @property
    def views(self) -> str:
        """The images' views in order, e.g. "PA, LL" ("?" for an image that names none)."""
        return ", ".join(i.view or "?" for i in self.images)

    @property
    def laterals(self) -> tuple[StudyImage, ...]:
        return tuple(i for i in self.images if i.is_lateral)


@dataclass(frozen=True)
class AiChoice:
    """The image the AI reads in a study (None: none it can read) and why, in one sentence."""

    image: StudyImage | None
    reason: str


def _text(ds: Dataset, keyword: str) -> str:
    """The element's bytes as text, without pydicom's value conversion (a third of the time)."""
    try:
        raw = ds.get_item(_TAGS[keyword])
        value = raw.value if raw is not None else b""
        text = value.decode("latin-1") if isinstance(value, bytes) else str(value if value is not None else "")
        return "".join(ch for ch in text if ch.isprintable()).strip(" \0")[:128]
    except Exception:  # noqa: BLE001 - a mangled element is just "absent"
        return ""


def _number(ds: Dataset, keyword: str) -> int | None:
    text = _text(ds, keyword).split("\\")[0]
    try:
        return int(float(text)) if text else None
    except (ValueError, OverflowError):
        return None


def describe(item: ScanItem) -> StudyImage:
    """A scanned file's place in its study, from its header only (never raises)."""
    from xray_desktop.io.loader import file_sha256

    if item.skip_reason:
        return StudyImage(item.path, "", error=item.skip_reason)
    try:
        if item.kind != "DICOM":
            return StudyImage(item.path, item.kind, sha256=file_sha256(item.path))
        from xray_desktop.io.dicom import read_header  # lazy: plain PNG folders need no pydicom

        ds = read_header(item.path, list(_TAGS))
        image = StudyImage(
            item.path, "DICOM", _text(ds, "StudyInstanceUID"), _text(ds, "SeriesInstanceUID"),
            _number(ds, "SeriesNumber"), _number(ds, "InstanceNumber"), _text(ds, "SOPInstanceUID"),
            _text(ds, "ViewPosition"),
        )  # fmt: skip
        if not image.study_uid:  # a study of its own, keyed like a PNG
            image = replace(image, sha256=file_sha256(item.path))
        return image
    except StudyLoadError as exc:
        return StudyImage(item.path, "", error=str(exc))
    except OSError as exc:
        return StudyImage(item.path, "", error=f"cannot read: {exc.strerror or exc}")
    except MemoryError:
        return StudyImage(item.path, "", error="not enough memory to read the header")


def group_images(images: Iterable[StudyImage]) -> list[ImageStudy]:
    """Studies in the order their first file came; unreadable files are entries of their own."""
    studies: dict[str, list[StudyImage]] = {}
    out: list[ImageStudy | str] = []  # a study's key holds its place until all files are in
    seen: set[Path] = set()
    for image in images:
        if image.path in seen:  # the same file given twice (a folder and a file in it)
            continue
        seen.add(image.path)
        if image.error or not image.kind:
            out.append(ImageStudy("", "", (image,), image.error or "not an image"))
            continue
        key = image.study_uid or image.sha256
        if key not in studies:
            studies[key] = []
            out.append(key)
        studies[key].append(image)
    result: list[ImageStudy] = []
    for entry in out:
        if isinstance(entry, ImageStudy):
            result.append(entry)
            continue
        members = sorted(studies[entry], key=StudyImage.order_key)
        result.append(ImageStudy(entry, members[0].study_uid, tuple(members)))
    return result


def group_studies(paths: Iterable[str | os.PathLike[str]]) -> list[ImageStudy]:
    """Scan ``paths`` (files and folders, recursively) and group what is found into studies."""
    return group_images(describe(item) for item in scan(paths))


def candidates(study: ImageStudy) -> list[StudyImage]:
    """The images the AI may read, best first: PA, AP, then the rest but laterals (the gate decides)."""

    def rank(image: StudyImage) -> int:
        return FRONTAL_VIEWS.index(image.view) if image.view in FRONTAL_VIEWS else len(FRONTAL_VIEWS)

    usable = [i for i in study.images if not i.error and not i.is_lateral]
    return sorted(usable, key=lambda i: (rank(i), i.order_key()))


def choose_ai_image(study: ImageStudy, refused: Mapping[Path, str] | None = None) -> AiChoice:
    """The image the AI reads, skipping candidates in ``refused`` (path -> why: gate, load).

    Call it again after each refusal: the next candidate, with a reason that says what was
    passed over. A study whose candidates are all refused (or that has none) gets ``None``.
    """
    refused = refused or {}
    ranked = candidates(study)
    skipped = [f"{i.label} ({i.view or 'no view'}) not used: {refused[i.path]}" for i in ranked if i.path in refused]
    pick = next((i for i in ranked if i.path not in refused), None)
    lat = len(study.laterals)
    tail = [f"{lat} lateral view{'s' * (lat > 1)} shown, not scored"] if lat else []
    if pick is None:
        why = "no frontal image the AI could read" if ranked else f"no frontal image (views: {study.views})"
        return AiChoice(None, "; ".join([why, *skipped, *tail]))
    if len(study.images) == 1:
        head = "the study's only image" + (f" ({pick.view})" if pick.view else "")
    elif pick.view in FRONTAL_VIEWS:
        frontal = [i for i in ranked if i.view in FRONTAL_VIEWS]
        if len(frontal) == 1:
            head = f"{pick.label}: the study's only frontal ({pick.view}) image"
        else:
            head = (f"{pick.label} ({pick.view}): of {len(frontal)} frontal images "
                    f"({', '.join(i.view for i in frontal)}) the AI reads one, PA before AP, "
                    "then the lowest series/instance number")
    else:
        head = (f"{pick.label}: no image is marked PA/AP (ViewPosition), so the AI reads the first, in "
                "series/instance order, that the input gate accepts as a frontal film")
    return AiChoice(pick, "; ".join([head, *skipped, *tail]))


def merge_studies(old: ImageStudy, new: ImageStudy) -> ImageStudy:
    """``old`` with the images of ``new`` (the same study found later) added, in study order.

    A file already in ``old`` keeps its entry; for a work list that grows as files arrive (a
    second folder, a PACS sending one instance at a time).
    """
    have = {i.path for i in old.images}
    images = sorted([*old.images, *(i for i in new.images if i.path not in have)], key=StudyImage.order_key)
    return replace(old, images=tuple(images))


def with_hashes(images: Iterable[StudyImage]) -> list[StudyImage]:
    """The images with their file SHA-256 filled in (reads whole files: a worker thread's job)."""
    from xray_desktop.io.loader import file_sha256

    out = []
    for image in images:
        if image.error or image.sha256:
            out.append(image)
            continue
        try:
            out.append(replace(image, sha256=file_sha256(image.path)))
        except OSError as exc:
            out.append(replace(image, error=f"cannot read: {exc.strerror or exc}"))
    return out


def image_ids(study: ImageStudy) -> tuple[tuple[str, str], ...]:
    """(key, SHA-256) of each image, in study order: the SOP Instance UID (else the hash) and the hash.

    What a study read records (``image_keys``/``image_sha256s``) and ``records.identity.lookup_study``
    takes; images without a known hash are left out.
    """
    return tuple((i.sop_instance_uid or i.sha256, i.sha256) for i in study.images if i.sha256 and not i.error)
