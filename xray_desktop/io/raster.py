"""PNG and JPEG studies through Pillow, with an allow-list and a header size cap."""

from __future__ import annotations

import struct
import warnings
import zlib
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from xray_desktop.domain import Study, StudyMetadata
from xray_desktop.io.errors import StudyLoadError
from xray_desktop.io.limits import check_size

__all__ = ["check_size", "image_size", "load_raster", "to_luminance"]

# Pillow plugins we allow per sniffed kind: nothing else may parse the file. (Multi-picture
# JPEGs open through the JPEG plugin; "MPO" is not an open format and would raise KeyError.)
_FORMATS = {"PNG": ("PNG",), "JPEG": ("JPEG",)}
HEADER_BYTES = 1 << 20  # EXIF/ICC segments come before SOF; 1 MiB covers real files
# Huffman JPEG codes at least one bit per 8x8 block per component (the DC term), so a file
# holds at least one byte per 512 pixels; 4096 leaves room for arithmetic coding.
JPEG_MIN_PIXELS_PER_BYTE = 4096
_DECODE_ERRORS = (OSError, SyntaxError, ValueError, EOFError, zlib.error, struct.error, IndexError)


def to_luminance(arr: np.ndarray) -> np.ndarray:
    """ITU-R BT.601 luma of an RGB array (what a grey film of a colour file looks like)."""
    rgb = arr[..., :3].astype(np.float32)
    return rgb[..., 0] * 0.299 + rgb[..., 1] * 0.587 + rgb[..., 2] * 0.114


def grey_luminance(channel: np.ndarray) -> np.ndarray:
    """:func:`to_luminance` of an RGB array whose three channels all equal ``channel``, bit for bit.

    Why: a grey film saved as RGB is the common JPEG; one channel costs a third of the work.
    """
    g = channel.astype(np.float32)
    out = g * 0.299
    out += g * 0.587
    out += g * 0.114
    return out


def image_size(head: bytes, kind: str) -> tuple[int, int] | None:
    """(width, height) from a PNG IHDR or a JPEG SOF segment, without decoding anything."""
    if kind == "PNG":
        if len(head) >= 24 and head[12:16] == b"IHDR":
            return int.from_bytes(head[16:20], "big"), int.from_bytes(head[20:24], "big")
        return None
    pos = 2
    while pos + 4 <= len(head):
        if head[pos] != 0xFF:
            return None
        marker = head[pos + 1]
        if marker == 0xFF:  # fill byte before a marker
            pos += 1
            continue
        if marker in (0x01, *range(0xD0, 0xD8)):  # stand-alone markers carry no length
            pos += 2
            continue
        if marker in (0xD9, 0xDA):  # EOI or start of scan before any SOF
            return None
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC) and pos + 9 <= len(head):
            return int.from_bytes(head[pos + 7 : pos + 9], "big"), int.from_bytes(head[pos + 5 : pos + 7], "big")
        pos += 2 + int.from_bytes(head[pos + 2 : pos + 4], "big")
    return None


def check_png_chunks(path: Path) -> None:
    """Walk every PNG chunk: a bad CRC or a chunk past the end of file is refused up front.

    Pillow does not verify IDAT checksums, and a file cut after the image data but before
    IEND would otherwise pass as complete.
    """
    with open(path, "rb") as fh:
        fh.seek(8)
        while True:
            header = fh.read(8)
            if len(header) < 8:
                raise StudyLoadError("PNG data is truncated (no IEND chunk)")
            length, ctype = int.from_bytes(header[:4], "big"), header[4:]
            crc = zlib.crc32(ctype)
            left = length
            while left > 0:
                block = fh.read(min(left, 1 << 20))
                if not block:
                    raise StudyLoadError("PNG data is truncated")
                crc = zlib.crc32(block, crc)
                left -= len(block)
            stored = fh.read(4)
            if len(stored) < 4:
                raise StudyLoadError("PNG data is truncated")
            if int.from_bytes(stored, "big") != crc:
                name = ctype.decode("ascii", "replace")
                raise StudyLoadError(f"PNG data is corrupt (bad CRC in {name} chunk)")
            if ctype == b"IEND":
                return


def _bomb(exc: Exception) -> StudyLoadError:
    return StudyLoadError(f"image refused as a decompression bomb ({str(exc).split(',')[0][:100]})")


def _decode_error(kind: str, exc: BaseException) -> StudyLoadError:
    """Map Pillow's many error types to one line: truncated, bad checksum or corrupt."""
    msg = (str(exc).splitlines() or [type(exc).__name__])[0]
    low = msg.lower()
    if isinstance(exc, EOFError) or "truncated" in low or "premature end" in low:
        return StudyLoadError(f"{kind} data is truncated")
    if "crc" in low or "checksum" in low:
        return StudyLoadError(f"{kind} data is corrupt (bad CRC checksum)")
    return StudyLoadError(f"{kind} data is corrupt ({msg[:120]})")


def load_raster(path: Path, sha256: str, kind: str) -> Study:
    """Decode a PNG/JPEG to presentation pixels in [0, 1]."""
    with open(path, "rb") as fh:
        head = fh.read(HEADER_BYTES)
    size = image_size(head, kind)
    if size is None and kind == "PNG":
        raise StudyLoadError("PNG header is invalid (no IHDR chunk)")
    if size is not None:
        check_size(size[1], size[0])  # before Pillow allocates anything
    if kind == "PNG":
        check_png_chunks(path)
    elif size is not None and path.stat().st_size * JPEG_MIN_PIXELS_PER_BYTE < size[0] * size[1]:
        # libjpeg fills missing scan data with grey and only warns: catch a tiny body here.
        raise StudyLoadError(f"JPEG data is truncated (file too small for {size[0]} x {size[1]} pixels)")
    notes: list[str] = []
    with warnings.catch_warnings():
        # Pillow's decompression-bomb warning becomes an error: never decode a bomb.
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            im = Image.open(path, formats=_FORMATS[kind])
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise _bomb(exc) from None
        except UnidentifiedImageError:
            raise StudyLoadError(f"file looks like {kind} but its header is invalid") from None
        except _DECODE_ERRORS as exc:
            raise _decode_error(kind, exc) from None
        with im:
            check_size(im.height, im.width)
            try:
                im.load()
            except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
                raise _bomb(exc) from None
            except _DECODE_ERRORS as exc:
                raise _decode_error(kind, exc) from None
            try:
                ImageOps.exif_transpose(im, in_place=True)  # in place: no copy of an upright image
            except Exception:  # noqa: BLE001 - broken EXIF must not cost the image
                notes.append("EXIF orientation unreadable; ignored")
            arr, pixels, colour, bits = _to_gray(im, notes)
    if colour:
        notes.append("colour image converted to grayscale")
    hi = float(2**bits - 1)
    if pixels is None:
        pixels = arr / np.float32(hi)  # float32 arithmetic, as arr / hi was
        np.clip(pixels, 0.0, 1.0, out=pixels)
    meta = StudyMetadata(
        source_format=kind,
        rows=pixels.shape[0],
        cols=pixels.shape[1],
        frames=1,
        photometric="RGB" if colour else "MONOCHROME2",
        bits_stored=bits,
    )
    return Study(
        path=path,
        pixels=pixels,
        metadata=meta,
        sha256=sha256,
        raw=arr.astype(np.float32, copy=False),  # arr is this function's own array
        window=(hi / 2, hi),
        notes=notes,
    )


def _lookup(table: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(raw, pixels) tables of an 8-bit film whose raw value is ``table[byte]``."""
    return table, np.clip(table / np.float32(255.0), 0.0, 1.0)


# Why tables: an 8-bit grey film's raw and display values are functions of one byte, so two
# gathers replace five float passes (the same float32 operations, per value: bit for bit).
_GREY = _lookup(np.arange(256, dtype=np.float32))
_GREY_RGB = _lookup(grey_luminance(np.arange(256, dtype=np.uint8)))


def _looked_up(u8: np.ndarray, tables: tuple[np.ndarray, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    return tables[0][u8], tables[1][u8]


def _to_gray(im: Image.Image, notes: list[str]) -> tuple[np.ndarray, np.ndarray | None, bool, int]:
    """(float32 raw grey, its [0, 1] pixels where known already else None, was_colour, significant bits)."""
    mode = im.mode
    if mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        arr = np.clip(np.nan_to_num(np.asarray(im, dtype=np.float32)), 0, 65535)
        # 16-bit exports of 12-bit films use 0..4095: scale to the bits actually used.
        top = float(arr.max()) if arr.size else 0.0
        bits = int(min(16, max(8, np.ceil(np.log2(top + 1.0)))))
        return arr, None, False, bits
    if mode in ("1", "L"):
        return (*_looked_up(np.asarray(im if mode == "L" else im.convert("L")), _GREY), False, 8)
    if mode == "P":
        im = im.convert("RGBA" if "transparency" in im.info else "RGB")
        mode = im.mode
    if mode in ("LA", "La", "PA", "RGBA", "RGBa"):
        rgba = np.asarray(im.convert("RGBA"), dtype=np.float32)
        alpha = rgba[..., 3:4] / 255.0
        if float(alpha.min()) < 1.0:
            notes.append("transparent areas shown black")
        rgb = rgba[..., :3] * alpha
    else:
        im = im if mode == "RGB" else im.convert("RGB")
        # A grey film saved as colour (three equal channels): compared as bytes, luma from one.
        first, *others = (band.tobytes() for band in im.split())
        if all(b == first for b in others):
            return (*_looked_up(np.frombuffer(first, np.uint8).reshape(im.height, im.width), _GREY_RGB), False, 8)
        rgb = np.asarray(im, dtype=np.float32)
    # An RGB file whose three channels are equal is a grey film saved as colour.
    colour = not (np.array_equal(rgb[..., 0], rgb[..., 1]) and np.array_equal(rgb[..., 1], rgb[..., 2]))
    return to_luminance(rgb), None, colour, 8
