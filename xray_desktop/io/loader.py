"""Entry point of the loader: sniff the format, hash the file, dispatch."""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path

from xray_desktop.domain import Study
from xray_desktop.io.errors import StudyLoadError
from xray_desktop.io.limits import MAX_FILE_BYTES, MAX_PIXELS
from xray_desktop.io.sniff import HEAD_BYTES, executable_preamble, sniff

__all__ = ["HEAD_BYTES", "MAX_PIXELS", "describe_unknown", "executable_preamble", "file_sha256", "load_study", "sniff"]



def file_sha256(path: Path) -> str:
    """SHA-256 of a file's bytes, read in chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def load_study(path: str | os.PathLike[str]) -> Study:
    """Decode one file into a :class:`Study`; raise only :class:`StudyLoadError`."""
    p = Path(path)
    try:
        return _load(p)
    except StudyLoadError as exc:
        msg = str(exc)
        if not msg.isprintable():  # a reason may quote bytes of the file (a chunk name): keep one clean line
            raise StudyLoadError("".join(ch if ch.isprintable() else "?" for ch in msg)) from None
        raise
    except MemoryError:
        raise StudyLoadError(f"not enough memory to decode {p.name}") from None
    except RecursionError:
        raise StudyLoadError("file structure is nested too deeply to read") from None
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException as exc:  # the contract: one exception type, Rust codec panics included
        msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise StudyLoadError(f"cannot decode file: {msg[:200]}") from exc


def _load(p: Path) -> Study:
    try:
        st = p.stat()
    except FileNotFoundError:
        raise StudyLoadError("file not found") from None
    except OSError as exc:
        raise StudyLoadError(f"cannot read file: {exc.strerror or exc}") from None
    if stat.S_ISDIR(st.st_mode):
        raise StudyLoadError("is a folder, not an image file")
    if not stat.S_ISREG(st.st_mode):
        # Never open a FIFO or a device: the open itself could block forever.
        raise StudyLoadError("not a regular file (device, pipe or socket)")
    if st.st_size == 0:
        raise StudyLoadError("file is empty")
    if st.st_size > MAX_FILE_BYTES:
        raise StudyLoadError(f"file of {st.st_size / 1e9:.1f} GB is larger than the 2 GB limit")
    try:
        with open(p, "rb") as fh:
            head = fh.read(HEAD_BYTES)
        sha = file_sha256(p)
    except PermissionError:
        raise StudyLoadError("permission denied") from None
    except OSError as exc:
        raise StudyLoadError(f"cannot read file: {exc.strerror or exc}") from None
    kind = sniff(head)
    if kind == "DICOM":
        from xray_desktop.io.dicom import load_dicom

        return load_dicom(p, sha, head)
    if kind in ("PNG", "JPEG"):
        from xray_desktop.io.raster import load_raster

        return load_raster(p, sha, kind)
    raise StudyLoadError(describe_unknown(head))


def describe_unknown(head: bytes) -> str:
    """Name the format of a file we refuse, when we can tell."""
    exe = executable_preamble(head)
    if exe:
        return f"{exe}, not an image (refused)"
    known = {
        b"II*\x00": "TIFF",
        b"MM\x00*": "TIFF",
        b"8BPS": "Photoshop PSD",
        b"GIF8": "GIF",
        b"BM": "BMP",
        b"%PDF": "PDF",
        b"PK\x03\x04": "ZIP archive",
        b"\x1f\x8b": "gzip archive",
        b"RIFF": "RIFF/WebP",
        b"\x00\x00\x00\x0cjP  ": "JPEG 2000",
        b"\xffO\xffQ": "JPEG 2000",
    }
    for magic, name in known.items():
        if head.startswith(magic):
            return f"{name} files are not supported (use DICOM, PNG or JPEG)"
    if head[4:12] in (b"ftypavif", b"ftypheic", b"ftypheix", b"ftypmif1"):
        return "HEIF/AVIF files are not supported (use DICOM, PNG or JPEG)"
    if len(head) >= 132 and head[:128].strip(b"\0") == b"" and head[128:132] != b"DICM":
        return "file has a DICOM-style preamble but no DICM prefix"
    return "not a DICOM, PNG or JPEG file"
