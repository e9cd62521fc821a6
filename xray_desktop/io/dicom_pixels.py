"""DICOM pixel data: header geometry, length checks, transfer syntaxes, one-frame decode."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pydicom.encaps
import pydicom.pixels
from pydicom.dataset import Dataset
from pydicom.uid import (
    JPEG2000,
    UID,
    ExplicitVRBigEndian,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    JPEGBaseline8Bit,
    JPEGExtended12Bit,
    JPEGLosslessSV1,
    JPEGLSLossless,
    RLELossless,
)

from xray_desktop.io.errors import StudyLoadError
from xray_desktop.io.limits import check_size

PIXEL_TAGS = (0x7FE00010, 0x7FE00008, 0x7FE00009)  # Pixel Data, Float, Double Float
UNDEFINED_LENGTH = 0xFFFFFFFF

MONO = ("MONOCHROME1", "MONOCHROME2")
COLOUR = (
    "RGB",
    "YBR_FULL",
    "YBR_FULL_422",
    "YBR_PARTIAL_420",
    "YBR_PARTIAL_422",
    "YBR_ICT",
    "YBR_RCT",
    "PALETTE COLOR",
)

# Names pydicom 3.0 does not know yet, so the user sees what the file is.
_EXTRA_NAMES = {
    "1.2.840.10008.1.2.4.110": "JPEG XL Lossless",
    "1.2.840.10008.1.2.4.111": "JPEG XL JPEG Recompression",
    "1.2.840.10008.1.2.4.112": "JPEG XL",
}


def syntax_name(uid: str) -> str:
    """Human name of a transfer syntax (the UID itself when unknown)."""
    if uid in _EXTRA_NAMES:
        return _EXTRA_NAMES[uid]
    return UID(uid).name


def family(uid: str) -> str:
    """Codec family used in user messages: "JPEG", "JPEG-LS", "JPEG 2000", "RLE" or "DICOM"."""
    name = syntax_name(uid)
    if "JPEG-LS" in name:
        return "JPEG-LS"
    if "JPEG 2000" in name:
        return "JPEG 2000"
    if name.startswith("JPEG"):
        return "JPEG"
    if name.startswith("RLE"):
        return "RLE"
    return "DICOM"


@dataclass(frozen=True)
class Geometry:
    """The pixel-describing attributes of an image, validated."""

    rows: int
    cols: int
    frames: int
    spp: int
    bits_allocated: int
    bits_stored: int
    signed: bool
    photometric: str

    def native_length(self) -> int:
        """Bytes of uncompressed pixel data the header promises (all frames)."""
        pixels = self.rows * self.cols * self.frames
        if self.bits_allocated == 1:
            return math.ceil(pixels * self.spp / 8)
        samples = 2 if self.photometric == "YBR_FULL_422" else self.spp  # 4:2:2 subsampling
        return pixels * samples * (self.bits_allocated // 8)


def attr(ds: Dataset, keyword: str, default: object = None) -> object:
    """``ds.get`` that treats an undecodable element (bad VR, garbage value) as absent."""
    try:
        return ds.get(keyword, default)
    except Exception:  # noqa: BLE001 - pydicom raises many types while converting raw values
        return default


def first_float(value: object) -> float | None:
    """First value of a possibly multi-valued, possibly textual element as a finite float."""
    if isinstance(value, Sequence) and not isinstance(value, str | bytes):
        value = value[0] if len(value) else None
    if value is None or value == "":
        return None
    try:
        f = float(str(value).strip())
    except ValueError:
        return None
    return f if math.isfinite(f) else None


def as_int(value: object, default: int | None = None) -> int | None:
    """First value of a possibly multi-valued, possibly textual element as an int."""
    f = first_float(value)
    return int(f) if f is not None and f == int(f) else default


def read_geometry(ds: Dataset, notes: list[str]) -> Geometry | None:
    """Validate Rows/Columns/Frames/bits; ``None`` when the data set declares no image."""
    rows, cols = as_int(attr(ds, "Rows")), as_int(attr(ds, "Columns"))
    if rows is None and cols is None:
        return None
    if rows is None or cols is None:
        raise StudyLoadError("DICOM image has no valid Rows/Columns")
    frames = 1
    if "NumberOfFrames" in ds:
        n = as_int(attr(ds, "NumberOfFrames"))
        if n is None or n < 1:
            notes.append("invalid Number of Frames; first frame read")
        else:
            frames = n
    check_size(rows, cols, frames)
    spp = as_int(attr(ds, "SamplesPerPixel"), 1)
    if spp not in (1, 3):
        raise StudyLoadError(f"unsupported Samples per Pixel {spp}")
    bits_allocated = as_int(attr(ds, "BitsAllocated"), 16 if spp == 1 else 8)
    if bits_allocated not in (1, 8, 16, 32, 64):
        raise StudyLoadError(f"unsupported Bits Allocated {bits_allocated}")
    bits_stored = as_int(attr(ds, "BitsStored"), bits_allocated) or bits_allocated
    bits_stored = min(max(bits_stored, 1), bits_allocated)
    photometric = str(attr(ds, "PhotometricInterpretation", "") or "").strip().upper()
    if not photometric:
        photometric = "MONOCHROME2" if spp == 1 else "RGB"
        notes.append(f"Photometric Interpretation missing; read as {photometric}")
    if photometric not in MONO + COLOUR:
        raise StudyLoadError(f"unsupported Photometric Interpretation {photometric[:40]}")
    if (spp == 3) != (photometric in COLOUR and photometric != "PALETTE COLOR"):
        raise StudyLoadError(f"Photometric Interpretation {photometric} does not fit {spp} samples per pixel")
    signed = as_int(attr(ds, "PixelRepresentation"), 0) == 1
    return Geometry(rows, cols, frames, spp, bits_allocated, bits_stored, signed, photometric)


def normalise_header(ds: Dataset, geom: Geometry) -> None:
    """Write the validated geometry back so pydicom's decoders see consistent values."""
    values = {
        "Rows": geom.rows,
        "Columns": geom.cols,
        "SamplesPerPixel": geom.spp,
        "BitsAllocated": geom.bits_allocated,
        "BitsStored": geom.bits_stored,
        "HighBit": geom.bits_stored - 1,
        "PixelRepresentation": int(geom.signed),
        "PhotometricInterpretation": geom.photometric,
    }
    if geom.frames > 1 or "NumberOfFrames" in ds:
        values["NumberOfFrames"] = geom.frames
    if geom.spp == 3:
        planar = as_int(attr(ds, "PlanarConfiguration"))
        values["PlanarConfiguration"] = planar if planar in (0, 1) else 0
    for keyword, value in values.items():
        if keyword in ds:
            delattr(ds, keyword)  # assigning in place would first decode the (maybe garbage) old value
        setattr(ds, keyword, value)


def check_syntax_supported(uid: str) -> None:
    """Refuse a transfer syntax no installed pixel handler can decode."""
    try:
        decoder = pydicom.pixels.get_decoder(UID(uid))
    except NotImplementedError:
        name = syntax_name(uid)
        what = f"{name} ({uid})" if name != uid else f"{uid[:64]} (unknown)"
        raise StudyLoadError(f"unsupported transfer syntax {what}") from None
    if not decoder.is_available:
        raise StudyLoadError(f"no decoder installed for {syntax_name(uid)} ({uid})")


def first_fragment(data: bytes) -> bytes | None:
    """The first non-empty fragment after the Basic Offset Table, or ``None``."""
    try:
        items = pydicom.encaps.generate_fragments(data)
        next(items)  # the Basic Offset Table is not image data
        return next(f for f in items if f)
    except (StopIteration, ValueError):
        return None


def infer_encapsulated_syntax(data: bytes) -> UID | None:
    """Guess the codec of encapsulated pixel data from the first fragment's magic bytes."""
    frag = first_fragment(data)
    if frag is None:
        return None
    if _j2k_codestream(frag) is not None:
        return JPEG2000
    if frag.startswith(b"\xff\xd8"):
        sof = _jpeg_sof(frag)
        marker = sof[0] if sof else None
        if marker == 0xF7:
            return JPEGLSLossless
        if marker == 0xC3:
            return JPEGLosslessSV1
        if marker == 0xC0:
            return JPEGBaseline8Bit
        if marker in (0xC1, 0xC2):
            return JPEGExtended12Bit
        return None
    if len(frag) >= 64:
        segments = int.from_bytes(frag[:4], "little")
        first = int.from_bytes(frag[4:8], "little")
        if 1 <= segments <= 15 and first == 64:  # the RLE header is 64 bytes long
            return RLELossless
    return None


def _j2k_codestream(frag: bytes) -> bytes | None:
    """The raw J2K codestream of a fragment (bare, or inside a JP2 ``jp2c`` box)."""
    if frag.startswith(b"\xff\x4f\xff\x51"):
        return frag
    if frag[4:12] == b"jP  \r\n\x87\n":
        at = frag.find(b"jp2c")
        return frag[at + 4 :] if at > 0 else None
    return None


def _jpeg_sof(stream: bytes) -> tuple[int, int, int, int] | None:
    """(marker, width, height, components) of the first SOF in a JPEG/JPEG-LS stream."""
    pos = 2
    while pos + 4 <= len(stream) and stream[pos] == 0xFF:
        marker = stream[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker in (0xC0, 0xC1, 0xC2, 0xC3, 0xF7):
            seg = stream[pos + 5 : pos + 10]
            if len(seg) < 5:
                return None
            return marker, int.from_bytes(seg[2:4], "big"), int.from_bytes(seg[0:2], "big"), seg[4]
        pos += 2 + int.from_bytes(stream[pos + 2 : pos + 4], "big")
    return None


def check_codestream(data: bytes, geom: Geometry, syntax: str) -> None:
    """Refuse a frame whose own header declares more pixels than the DICOM image.

    The codecs allocate from the codestream header, not from Rows/Columns: without this
    check a 40 x 32 DICOM holding a 60000 x 60000 JPEG-LS header allocates gigabytes.
    """
    fam = family(syntax)
    if fam not in ("JPEG", "JPEG-LS", "JPEG 2000"):
        return
    frag = first_fragment(data)
    if frag is None:
        return
    if fam == "JPEG 2000":
        cs = _j2k_codestream(frag)
        if cs is None or len(cs) < 42:
            return
        x, y, xo, yo, xt, yt, xto, yto = (int.from_bytes(cs[i : i + 4], "big") for i in range(8, 40, 4))
        width, height, comps = max(x - xo, 0), max(y - yo, 0), int.from_bytes(cs[40:42], "big")
        _check_frame_size(fam, width, height, comps, geom)
        if xt == 0 or yt == 0 or math.ceil(max(x - xto, 0) / xt) * math.ceil(max(y - yto, 0) / yt) > 65535:
            raise StudyLoadError("JPEG 2000 pixel data is corrupt (invalid tiling)")
        return
    sof = _jpeg_sof(frag)
    if sof is not None:
        _check_frame_size(fam, sof[1], sof[2], sof[3], geom)


def _check_frame_size(fam: str, width: int, height: int, comps: int, geom: Geometry) -> None:
    """Frame header pixels (all components) may not exceed Rows x Columns x Samples."""
    if width * height * max(comps, 1) > geom.rows * geom.cols * geom.spp:
        raise StudyLoadError(
            f"{fam} frame declares {width} x {height} pixels but the image is {geom.cols} x {geom.rows}"
        )


def native_syntax(implicit: bool, little: bool) -> UID:
    """The uncompressed transfer syntax matching how pydicom actually read a data set."""
    if not little:
        return ExplicitVRBigEndian
    return ImplicitVRLittleEndian if implicit else ExplicitVRLittleEndian


def check_native_length(geom: Geometry, available: int) -> int:
    """Expected byte count of native pixel data; refuse when fewer bytes are present."""
    expected = geom.native_length()
    if available < expected:
        raise StudyLoadError(f"pixel data is truncated ({available} of {expected} bytes)")
    return expected


def decode_frame(ds: Dataset, geom: Geometry, syntax: str, index: int = 0) -> np.ndarray:
    """Decode one frame only (pydicom allocates one frame, not the whole series)."""
    try:
        arr = pydicom.pixels.pixel_array(ds, index=index)
    except (StudyLoadError, MemoryError, KeyboardInterrupt, SystemExit):
        raise
    except BaseException as exc:  # noqa: BLE001 - Rust codecs raise PanicException (a BaseException)
        raise StudyLoadError(_decode_failure(ds, geom, syntax, exc)) from None
    if arr.ndim == 3 and geom.spp == 1 and arr.shape[0] == geom.frames:
        arr = arr[index]
    if arr.shape[:2] != (geom.rows, geom.cols):
        raise StudyLoadError(
            f"decoded image is {arr.shape[1]} x {arr.shape[0]} but the header says {geom.cols} x {geom.rows}"
        )
    return arr


def _decode_failure(ds: Dataset, geom: Geometry, syntax: str, exc: BaseException) -> str:
    """Tell truncated from corrupt compressed data: a JPEG-family frame must end with FFD9."""
    fam = family(syntax)
    reason = _first_reason(exc)
    if fam == "DICOM":
        return f"pixel data cannot be decoded ({reason})"
    try:
        frame = pydicom.encaps.get_frame(ds.PixelData, 0, number_of_frames=geom.frames)
    except Exception:  # noqa: BLE001 - an unparsable fragment list is itself the diagnosis
        return f"{fam} pixel data is truncated or corrupt (bad fragment list)"
    if fam != "RLE" and b"\xff\xd9" not in frame[-4:]:  # EOI/EOC, maybe followed by padding
        return f"{fam} pixel data is truncated"
    return f"{fam} pixel data is corrupt ({reason})"


def _first_reason(exc: BaseException) -> str:
    """The first plugin's complaint from pydicom's "all plugins failed" message."""
    lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()] or [type(exc).__name__]
    reason = lines[1] if len(lines) > 1 and lines[0].startswith("Unable to decode") else lines[0]
    return reason[:120]


def to_gray(arr: np.ndarray, ds: Dataset, geom: Geometry) -> tuple[np.ndarray, bool, float]:
    """Return (float32 luminance or stored values, was_colour, full-scale value)."""
    if geom.photometric == "PALETTE COLOR":
        try:
            rgb = pydicom.pixels.apply_color_lut(arr, ds)
        except Exception as exc:  # noqa: BLE001 - malformed palettes come in many shapes
            raise StudyLoadError(f"palette colour image has an invalid palette ({exc})") from None
        return _luma(rgb), True, float(np.iinfo(rgb.dtype).max) if rgb.dtype.kind == "u" else 0.0
    if arr.ndim == 3:
        # pydicom already turned YBR into RGB; equal channels are a grey film saved as colour.
        colour = not (np.array_equal(arr[..., 0], arr[..., 1]) and np.array_equal(arr[..., 1], arr[..., 2]))
        full = float(2**geom.bits_stored - 1) if geom.bits_stored <= 16 else 0.0
        return _luma(arr), colour, full
    return arr.astype(np.float32, copy=False), False, 0.0


def _luma(rgb: np.ndarray) -> np.ndarray:
    """ITU-R BT.601 luma, the grey a colour film would print as."""
    rgb = rgb.astype(np.float32, copy=False)
    return rgb[..., 0] * 0.299 + rgb[..., 1] * 0.587 + rgb[..., 2] * 0.114
