"""DICOM studies: validate the header first, then decode one frame and present it.

Two reads: the header pass (``stop_before_pixels``) checks sizes, lengths and the transfer
syntax before any pixel byte is read; the second pass reads the pixel data (large values
stay on disk until needed via ``defer_size``).
"""

from __future__ import annotations

import io
import os
import zlib
from pathlib import Path

import numpy as np
import pydicom
from pydicom.dataelem import DataElement, RawDataElement
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import UID, MediaStorageDirectoryStorage

from xray_desktop.domain import Study, StudyMetadata
from xray_desktop.io.age import age_years
from xray_desktop.io.dicom_meta import Charset, metadata_fields, safe_text, sop_class_name, sop_class_uid, tag_rows
from xray_desktop.io.dicom_pixels import (
    MONO,
    PIXEL_TAGS,
    UNDEFINED_LENGTH,
    Geometry,
    as_int,
    attr,
    check_codestream,
    check_native_length,
    check_syntax_supported,
    decode_frame,
    family,
    infer_encapsulated_syntax,
    native_syntax,
    normalise_header,
    read_geometry,
    syntax_name,
    to_gray,
)
from xray_desktop.io.errors import StudyLoadError
from xray_desktop.io.limits import MAX_INFLATED_BYTES
from xray_desktop.io.sniff import executable_preamble
from xray_desktop.io.voi import apply_modality, is_blank, present, robust_window, sample, window_linear_exact

DEFER_BYTES = 256 * 1024  # values larger than this are read only when needed
DEFLATED_UID = b"1.2.840.10008.1.2.1.99"
_FLOAT_PIXEL_VRS = {0x7FE00008: "OF", 0x7FE00009: "OD"}
_LONG_VRS = {b"OB", b"OW", b"OF", b"OD", b"OL", b"OV", b"SQ", b"UT", b"UN", b"UC", b"UR", b"SV", b"UV"}


def load_dicom(path: Path, sha256: str, head: bytes) -> Study:
    """Decode a DICOM file to a :class:`Study` (frame 1, presentation space)."""
    notes: list[str] = []
    exe = executable_preamble(head)
    if exe:
        notes.append(f"file preamble holds a {exe} header (ignored)")
    size = path.stat().st_size
    dataset_start, deflated = _check_meta(path, size)
    if deflated:
        _deflated_guard(path, dataset_start)
    hdr = _read(path, stop_before_pixels=True)
    if len(hdr) == 0:
        raise StudyLoadError("DICOM file holds no readable data set")
    if sop_class_uid(hdr) == MediaStorageDirectoryStorage:
        raise StudyLoadError("DICOMDIR is an index of a DICOM disc, not an image: open its folder instead")
    if not deflated:  # positions in a deflated file are not file offsets
        _check_element_lengths(hdr, size)
    geom = read_geometry(hdr, notes)
    declared = _declared_syntax(hdr)
    if geom is not None and declared:
        check_syntax_supported(declared)  # refuse JPEG XL, MPEG, ... before reading pixels

    ds = _read(path, stop_before_pixels=False)
    pixel_tag = next((t for t in PIXEL_TAGS if t in ds), None)
    if pixel_tag is None:
        if geom is not None and len(ds) < len(hdr):
            # pydicom drops the data set when the file ends inside encapsulated pixel data.
            fam = family(declared) if declared else "DICOM"
            raise StudyLoadError("pixel data is truncated" if fam == "DICOM" else f"{fam} pixel data is truncated")
        raise StudyLoadError(f"DICOM has no pixel data ({sop_class_name(hdr) or 'unknown SOP class'})")
    if geom is None:
        raise StudyLoadError("DICOM pixel data has no Rows/Columns")

    syntax = _resolve_syntax(ds, pixel_tag, declared, notes)
    check_syntax_supported(syntax)
    if not hasattr(ds, "file_meta") or ds.file_meta is None:
        ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = syntax
    if _encapsulated(ds, pixel_tag):
        check_codestream(pixel_value(ds, pixel_tag), geom, syntax)
    else:
        _fit_native_length(ds, pixel_tag, geom, path, deflated)
    normalise_header(ds, geom)

    pixels, raw, window, inverted = _present_some_frame(ds, geom, syntax, pixel_tag, notes)

    cs = Charset(hdr)
    if cs.unknown:
        notes.append(f"unknown character set {', '.join(cs.unknown)[:40]}: some characters shown as \ufffd")
    fields = metadata_fields(hdr, cs)
    age = age_years(fields["age"], fields["birth_date"], fields["study_date"], safe_text(hdr, "AcquisitionDate", cs))
    meta = StudyMetadata(
        source_format="DICOM",
        **fields,
        age_years=age,
        rows=geom.rows,
        cols=geom.cols,
        frames=geom.frames,
        transfer_syntax=f"{syntax_name(syntax)} ({syntax})",
        photometric=geom.photometric,
        bits_stored=geom.bits_stored,
    )
    return Study(
        path=path,
        pixels=pixels,
        metadata=meta,
        sha256=sha256,
        raw=raw,
        window=window,
        inverted=inverted,
        notes=notes,
        tags=tag_rows(hdr, cs),
    )


def read_header(path: Path, tags: list[str]) -> Dataset:
    """Only the header elements ``tags`` (keywords) of a DICOM file, never its pixels.

    The same guards as :func:`load_dicom` (file meta walked first, deflate bombs refused, reads
    clamped to the file size); used to group files into studies without decoding them.
    """
    dataset_start, deflated = _check_meta(path, path.stat().st_size)
    if deflated:
        _deflated_guard(path, dataset_start)
    return _read(path, stop_before_pixels=True, tags=tags)


class _ClampedReader(io.BufferedReader):
    """A binary file whose ``read(n)`` never asks for more than the bytes left in the file.

    pydicom reads a value inside a sequence with one ``read(length)`` of its declared length,
    and Python allocates that buffer before reading: a 1 KB file declaring a 4 GB item would
    allocate 4 GB. pydicom treats a BufferedReader like a path (deferred values are re-read
    with ``open``), so only the size of each read changes.
    """

    def __init__(self, path: Path) -> None:
        super().__init__(io.FileIO(str(path), "rb"))
        self._size = os.fstat(self.fileno()).st_size

    def read(self, size: int | None = -1) -> bytes:
        if size is not None and size > 0:
            size = min(size, max(self._size - self.tell(), 0))
        return super().read(size)


def _read(path: Path, *, stop_before_pixels: bool, tags: list[str] | None = None) -> pydicom.FileDataset:
    try:
        with _ClampedReader(path) as fh:
            return pydicom.dcmread(fh, force=True, stop_before_pixels=stop_before_pixels, defer_size=DEFER_BYTES,
                                   specific_tags=tags)
    except (MemoryError, StudyLoadError):
        raise
    except Exception as exc:  # noqa: BLE001 - pydicom raises many types on malformed input
        reason = (str(exc).splitlines() or [type(exc).__name__])[0][:150]
        raise StudyLoadError(f"not a readable DICOM file ({reason})") from None


def _declared_syntax(ds: Dataset) -> str:
    meta = getattr(ds, "file_meta", None)
    try:
        uid = meta.get("TransferSyntaxUID") if meta is not None else None
    except Exception:  # noqa: BLE001
        uid = None
    return str(uid).strip(" \0") if uid else ""


def _encapsulated(ds: Dataset, tag: int) -> bool:
    raw = ds.get_item(tag, keep_deferred=True)
    if isinstance(raw, RawDataElement):
        return raw.length == UNDEFINED_LENGTH
    return bool(getattr(raw, "is_undefined_length", False))


def _resolve_syntax(ds: pydicom.FileDataset, tag: int, declared: str, notes: list[str]) -> str:
    """The syntax to decode with: declared, else inferred from how the file was read."""
    implicit, little = ds.original_encoding
    known = bool(declared) and UID(declared).is_transfer_syntax
    if _encapsulated(ds, tag):
        if known and UID(declared).is_compressed:
            return declared
        guess = infer_encapsulated_syntax(pixel_value(ds, tag))
        if guess is None:
            raise StudyLoadError("compressed pixel data of unknown type (no usable transfer syntax)")
        notes.append(f"transfer syntax missing or wrong; pixel data read as {guess.name}")
        return str(guess)
    if known and not UID(declared).is_compressed:
        return declared
    native = native_syntax(bool(implicit), little is not False)
    if known:
        notes.append(f"pixel data is not compressed as {UID(declared).name} says; read as uncompressed")
    else:
        notes.append(f"transfer syntax missing; read as {native.name}")
    return str(native)


def _fit_native_length(ds: Dataset, tag: int, geom: Geometry, path: Path, deflated: bool) -> None:
    """Refuse short native pixel data before reading it; read no more than the image needs."""
    raw = ds.get_item(tag, keep_deferred=True)
    if isinstance(raw, RawDataElement) and raw.value is None and not deflated:
        # Deferred: read the bytes ourselves so a declared length past the end of the file
        # (up to 4 GB) is never handed to a reader that allocates it up front.
        available = max(0, min(raw.length, path.stat().st_size - raw.value_tell))
        expected = check_native_length(geom, available)
        with open(path, "rb") as fh:
            fh.seek(raw.value_tell)
            data = fh.read(expected)
        vr = raw.VR if raw.VR in ("OB", "OW", "OF", "OD") else None
        vr = vr or _FLOAT_PIXEL_VRS.get(tag, "OW" if geom.bits_allocated > 8 else "OB")
        ds[tag] = DataElement(tag, vr, data)
        return
    data = pixel_value(ds, tag)
    expected = check_native_length(geom, len(data))
    if len(data) > expected + 1:  # one pad byte is normal; more is junk we ignore
        ds[tag].value = bytes(data[:expected])


def pixel_value(ds: Dataset, tag: int) -> bytes | bytearray:
    """The pixel data bytes (reading deferred data); an unreadable element is refused."""
    try:
        value = ds[tag].value
    except (MemoryError, StudyLoadError):
        raise
    except Exception as exc:  # noqa: BLE001 - e.g. a garbage VR makes pydicom raise NotImplementedError
        reason = (str(exc).splitlines() or [type(exc).__name__])[0][:100]
        raise StudyLoadError(f"pixel data element is unreadable ({reason})") from None
    if not isinstance(value, bytes | bytearray):
        raise StudyLoadError("pixel data element is unreadable")
    return value


def _check_element_lengths(ds: Dataset, size: int) -> None:
    """An element whose declared length runs past the end of the file means truncation."""
    for tag in list(ds.keys()):
        raw = ds.get_item(tag, keep_deferred=True)
        if not isinstance(raw, RawDataElement) or raw.length in (0, UNDEFINED_LENGTH):
            continue
        if raw.value is None:
            have = size - raw.value_tell
        elif isinstance(raw.value, bytes):
            have = len(raw.value)
        else:
            continue
        if have < raw.length:
            raise StudyLoadError(
                f"DICOM element ({raw.tag.group:04X},{raw.tag.element:04X}) declares {raw.length} bytes "
                f"but the file ends after {max(have, 0)}: file is truncated or corrupt"
            )


def _check_meta(path: Path, size: int) -> tuple[int, bool]:
    """Walk the file meta group ourselves: pydicom reads its values without any size limit.

    Returns (offset of the data set, is deflated).
    """
    with open(path, "rb") as fh:
        start = fh.read(65536)
    pos = 132 if start[128:132] == b"DICM" else 0
    while pos + 8 <= len(start) and int.from_bytes(start[pos : pos + 2], "little") == 0x0002:
        element = int.from_bytes(start[pos + 2 : pos + 4], "little")
        vr = start[pos + 4 : pos + 6]
        if not (vr.isalpha() and vr.isupper()):  # implicit VR meta (not allowed, but seen)
            header, length = 8, int.from_bytes(start[pos + 4 : pos + 8], "little")
        elif vr in _LONG_VRS:
            header, length = 12, int.from_bytes(start[pos + 8 : pos + 12], "little")
        else:
            header, length = 8, int.from_bytes(start[pos + 6 : pos + 8], "little")
        if length == UNDEFINED_LENGTH:
            break
        if pos + header + length > size:
            raise StudyLoadError(
                f"DICOM element (0002,{element:04X}) declares {length} bytes but the file ends after "
                f"{max(size - pos - header, 0)}: file is truncated or corrupt"
            )
        pos += header + length
    return pos, DEFLATED_UID in start[:pos]


def _deflated_guard(path: Path, pos: int) -> None:
    """Refuse a deflated data set that inflates past the limit (a zip bomb)."""
    inflater = zlib.decompressobj(-zlib.MAX_WBITS)
    total = 0
    try:
        with open(path, "rb") as fh:
            fh.seek(pos)
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                data = chunk
                while data:  # inflate in bounded pieces, counting, never keeping the output
                    total += len(inflater.decompress(data, 1 << 24))
                    if total > MAX_INFLATED_BYTES:
                        limit = MAX_INFLATED_BYTES / 1e9
                        raise StudyLoadError(f"deflated data set expands past the {limit:g} GB limit")
                    data = inflater.unconsumed_tail
    except zlib.error:
        raise StudyLoadError("deflated DICOM data set is corrupt") from None


class _BlankFrame(Exception):
    """This frame has nothing to show (every pixel the same value)."""


def frame_order(frames: int) -> list[int]:
    """Frame indices to try: the first, then outward from the middle (0, mid, mid+1, mid-1, ...).

    The middle of a series (an MR stack, a tiled slide) is the likeliest to show the anatomy
    when the first frame is blank.
    """
    mid = frames // 2
    order = [0]
    for step in range(frames):
        for i in (mid + step, mid - step) if step else (mid,):
            if 0 <= i < frames and i not in order:
                order.append(i)
    return order


def _present_some_frame(
    ds: Dataset, geom: Geometry, syntax: str, pixel_tag: int, notes: list[str]
) -> tuple[np.ndarray, np.ndarray, tuple[float, float], bool]:
    """Present frame 1, or, when it is blank, the first non-blank frame in :func:`frame_order`."""
    for i in frame_order(geom.frames):
        tried: list[str] = []  # a blank frame's notes (windows, padding) do not describe the one shown
        try:
            got = _present(decode_frame(ds, geom, syntax, i), ds, geom, pixel_tag, tried)
        except _BlankFrame:
            continue
        notes.extend(tried)
        if geom.frames > 1:
            why = "" if i == 0 else " (frame 1 is blank)"
            notes.append(f"multi-frame: showing frame {i + 1} of {geom.frames}{why}")
        return got
    if geom.frames > 1:
        raise StudyLoadError(f"all {geom.frames} frames are blank: every pixel has the same value")
    raise StudyLoadError("image is blank: every pixel has the same value")


def _present(
    arr: np.ndarray, ds: Dataset, geom: Geometry, pixel_tag: int, notes: list[str]
) -> tuple[np.ndarray, np.ndarray, tuple[float, float], bool]:
    """(pixels, raw, window, inverted) from one decoded frame; :class:`_BlankFrame` if uniform."""
    gray, colour, full = to_gray(arr, ds, geom)
    if colour:
        notes.append("colour image converted to grayscale")
    mono = geom.photometric in MONO
    mask = _padding_mask(arr, ds, geom) if mono else None
    # Float pixel data carries real-world values already: no rescale (PS3.3 C.7.6.24).
    raw = apply_modality(arr, ds, notes) if mono and pixel_tag == 0x7FE00010 else gray.astype(np.float32)
    inverted = geom.photometric == "MONOCHROME1" or str(attr(ds, "PresentationLUTShape", "")).strip() == "INVERSE"
    got = None
    if mono:
        got = present(raw, ds, mask, geom.signed, notes)
    else:
        if full > 0:
            shown = window_linear_exact(raw, full / 2.0, full)
            got = None if is_blank(shown, None) else (shown, (full / 2.0, full))
        if got is None:
            auto = robust_window(sample(raw, None))
            got = None if auto is None else (window_linear_exact(raw, *auto), auto)
    if got is None:
        raise _BlankFrame
    pixels, window = got
    if inverted:
        pixels = 1.0 - pixels
    finite = np.isfinite(raw)
    if mask is not None or not finite.all():
        # Padding (and NaN) shows as black, and stays black when the viewer re-windows raw.
        bad = ~finite if mask is None else (mask | ~finite)
        good = raw[~bad]
        raw[bad] = float(good.max() if inverted else good.min()) if good.size else 0.0
        pixels[bad] = 0.0
    if not np.isfinite(pixels).all():  # the check costs a fifth of nan_to_num's passes on a 5 MP film
        pixels = np.nan_to_num(pixels, nan=0.0)
    pixels = np.ascontiguousarray(np.clip(pixels, 0.0, 1.0), dtype=np.float32)
    return pixels, np.ascontiguousarray(raw, dtype=np.float32), (float(window[0]), float(window[1])), inverted


def _padding_mask(stored: np.ndarray, ds: Dataset, geom: Geometry) -> np.ndarray | None:
    """Pixels equal to Pixel Padding Value (or inside the padding range), in stored units."""
    try:
        ppv = as_int(attr(ds, "PixelPaddingValue"))
        limit = as_int(attr(ds, "PixelPaddingRangeLimit"))
    except Exception:  # noqa: BLE001 - an undecodable padding value is no padding
        return None
    if ppv is None:
        return None
    wrap = 1 << geom.bits_allocated
    if geom.signed:  # US/SS ambiguity: a signed image's padding may be read unsigned
        ppv = ppv - wrap if ppv >= wrap // 2 else ppv
        limit = limit - wrap if limit is not None and limit >= wrap // 2 else limit
    lo, hi = sorted((ppv, ppv if limit is None else limit))
    mask = (stored >= lo) & (stored <= hi)
    return mask if mask.any() else None
