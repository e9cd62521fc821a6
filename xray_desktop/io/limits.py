"""Size limits shared by every decoder, checked from headers before pixels are allocated."""

from __future__ import annotations

from xray_desktop.io.errors import StudyLoadError

# Largest image we decode (all frames together), checked before any pixel is allocated.
MAX_PIXELS = 100_000_000
# Largest file we read at all; real radiographs are well under this.
MAX_FILE_BYTES = 2_000_000_000
# Largest inflated size of a deflated DICOM data set (a zip bomb guard).
MAX_INFLATED_BYTES = 1_000_000_000
# Longest value shown in the tag dialog.
MAX_TAG_VALUE_CHARS = 200


def check_size(rows: int, cols: int, frames: int = 1) -> None:
    """Refuse an image whose declared size is empty or over :data:`MAX_PIXELS`."""
    if rows <= 0 or cols <= 0:
        raise StudyLoadError(f"image declares an empty size ({cols} x {rows} pixels)")
    if frames <= 0:
        raise StudyLoadError(f"image declares {frames} frames")
    total = rows * cols * frames
    if total > MAX_PIXELS:
        what = f"{cols} x {rows} pixels" + (f" x {frames} frames" if frames > 1 else "")
        raise StudyLoadError(f"image of {what} exceeds the {MAX_PIXELS // 1_000_000} Mpx limit")
