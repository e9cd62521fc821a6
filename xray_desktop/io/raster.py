"""PNG and JPEG studies through Pillow, with an allow-list and a size cap."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from xray_desktop.domain import Study, StudyMetadata
from xray_desktop.io.errors import StudyLoadError

_FORMATS = {"PNG": ("PNG",), "JPEG": ("JPEG", "MPO")}


def check_size(rows: int, cols: int, frames: int = 1) -> None:
    """Refuse an image whose declared size is over the cap, before decoding it."""
    from xray_desktop.io.loader import MAX_PIXELS

    if rows <= 0 or cols <= 0:
        raise StudyLoadError(f"image declares an empty size ({cols} x {rows} pixels)")
    total = rows * cols * max(frames, 1)
    if total > MAX_PIXELS:
        what = f"{cols} x {rows} pixels" + (f" x {frames} frames" if frames > 1 else "")
        raise StudyLoadError(f"image of {what} exceeds the {MAX_PIXELS // 1_000_000} Mpx limit")


def to_luminance(arr: np.ndarray) -> np.ndarray:
    """ITU-R BT.601 luma of an RGB array (what a grey film of a colour file looks like)."""
    rgb = arr[..., :3].astype(np.float32)
    return rgb[..., 0] * 0.299 + rgb[..., 1] * 0.587 + rgb[..., 2] * 0.114


def load_raster(path: Path, sha256: str, kind: str) -> Study:
    """Decode a PNG/JPEG to presentation pixels in [0, 1]."""
    notes: list[str] = []
    with warnings.catch_warnings():
        # Pillow's decompression-bomb warning becomes an error: never decode a bomb.
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            im = Image.open(path, formats=_FORMATS[kind])
        except Image.DecompressionBombError as exc:
            raise StudyLoadError(f"image refused as a decompression bomb: {exc}") from None
        except Image.DecompressionBombWarning as exc:
            raise StudyLoadError(f"image refused as a decompression bomb: {exc}") from None
        except UnidentifiedImageError:
            raise StudyLoadError(f"file looks like {kind} but its header is invalid") from None
        with im:
            check_size(im.height, im.width)
            try:
                im.load()
            except OSError as exc:
                raise StudyLoadError(f"{kind} data is truncated or corrupt ({exc})") from None
            except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
                raise StudyLoadError(f"image refused as a decompression bomb: {exc}") from None
            im = ImageOps.exif_transpose(im) or im
            arr, colour, bits = _to_gray(im)
    if colour:
        notes.append("colour image converted to grayscale")
    lo, hi = 0.0, float(2**bits - 1)
    pixels = np.clip((arr - lo) / (hi - lo), 0.0, 1.0).astype(np.float32)
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
        raw=arr.astype(np.float32),
        window=((lo + hi) / 2, hi - lo),
        notes=notes,
    )


def _to_gray(im: Image.Image) -> tuple[np.ndarray, bool, int]:
    """Return (float32 gray array, was_colour, bits) for any Pillow mode."""
    mode = im.mode
    if mode in ("I;16", "I;16B", "I;16L", "I"):
        arr = np.asarray(im, dtype=np.float32)
        bits = 16
        return np.clip(arr, 0, 65535), False, bits
    if mode == "F":
        arr = np.asarray(im, dtype=np.float32)
        return np.clip(arr, 0, 65535), False, 16
    if mode in ("1", "L"):
        return np.asarray(im.convert("L"), dtype=np.float32), False, 8
    if mode == "LA":
        return np.asarray(im.getchannel("L"), dtype=np.float32), False, 8
    if mode == "P":
        im = im.convert("RGBA")
        mode = "RGBA"
    rgb = np.asarray(im.convert("RGB"), dtype=np.float32)
    # An RGB file whose three channels are equal is a grey film saved as colour.
    colour = not (np.array_equal(rgb[..., 0], rgb[..., 1]) and np.array_equal(rgb[..., 1], rgb[..., 2]))
    return to_luminance(rgb), colour, 8
