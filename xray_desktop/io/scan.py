"""Expand files and folders into candidate studies, detecting DICOM by content.

Folders are walked iteratively; a directory already visited (by device and inode) is never
entered twice, so symbolic-link loops end. FIFOs and devices are never opened.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from xray_desktop.io.loader import HEAD_BYTES, describe_unknown, sniff

MAX_DEPTH = 64  # deeper trees are almost certainly a loop through bind mounts

# SOP classes that never hold an image (checked from the file meta, cheaply).
_NON_IMAGE_FAMILIES = (
    "1.2.840.10008.5.1.4.1.1.88.",  # structured reports, key objects
    "1.2.840.10008.5.1.4.1.1.104.",  # encapsulated PDF/CDA/STL
    "1.2.840.10008.5.1.4.1.1.11.",  # presentation states
    "1.2.840.10008.5.1.4.1.1.9.",  # waveforms
)
_NON_IMAGE_CLASSES = {
    "1.2.840.10008.5.1.4.1.1.481.3",  # RT structure set
    "1.2.840.10008.5.1.4.1.1.481.5",  # RT plan
    "1.2.840.10008.5.1.4.1.1.481.8",  # RT ion plan
}
_DICOMDIR_UID = "1.2.840.10008.1.3.10"


@dataclass(frozen=True)
class ScanItem:
    """One file found by :func:`scan`; ``skip_reason`` is set for non-images."""

    path: Path
    kind: str  # "DICOM", "PNG" or "JPEG"; "" when skipped
    skip_reason: str = ""


def scan(paths: Iterable[str | os.PathLike[str]]) -> Iterator[ScanItem]:
    """Yield every file under ``paths`` (recursively, sorted), classified by content."""
    visited: set[tuple[int, int]] = set()
    for raw in paths:
        p = Path(raw)
        try:
            st = p.stat()
        except OSError as exc:
            yield ScanItem(p, "", _os_reason(p, exc))
            continue
        if stat.S_ISDIR(st.st_mode):
            yield from _walk(p, visited)
        else:
            yield _classify(p)


def _walk(top: Path, visited: set[tuple[int, int]]) -> Iterator[ScanItem]:
    stack: list[tuple[Path, int]] = [(top, 0)]
    while stack:
        folder, depth = stack.pop()
        try:
            st = folder.stat()
        except OSError as exc:
            yield ScanItem(folder, "", _os_reason(folder, exc))
            continue
        key = (st.st_dev, st.st_ino)
        if key in visited:
            continue  # symlink loop or the same folder given twice
        visited.add(key)
        try:
            with os.scandir(folder) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError as exc:
            yield ScanItem(folder, "", f"cannot open folder: {exc.strerror or exc}")
            continue
        subdirs: list[Path] = []
        for entry in entries:
            if entry.name.startswith("."):
                continue
            path = Path(entry.path)
            try:
                is_dir = entry.is_dir()  # follows links; loops are caught by ``visited``
            except OSError:
                is_dir = False
            if is_dir:
                if depth + 1 < MAX_DEPTH:
                    subdirs.append(path)
                else:
                    yield ScanItem(path, "", "folder nested too deeply; not scanned")
            else:
                yield _classify(path)
        # Reverse so the stack pops sub-folders in sorted order.
        stack.extend((d, depth + 1) for d in reversed(subdirs))


def _os_reason(p: Path, exc: OSError) -> str:
    if isinstance(exc, FileNotFoundError):
        return "broken symbolic link" if p.is_symlink() else "file not found"
    if isinstance(exc, PermissionError):
        return "permission denied"
    return f"cannot read: {exc.strerror or exc}"


def _classify(p: Path) -> ScanItem:
    try:
        st = p.stat()
        if not stat.S_ISREG(st.st_mode):
            # Never open a FIFO or device: open() could block forever.
            return ScanItem(p, "", "not a regular file (device, pipe or socket)")
        if st.st_size == 0:
            return ScanItem(p, "", "file is empty")
        with open(p, "rb") as fh:
            head = fh.read(HEAD_BYTES)
    except OSError as exc:
        return ScanItem(p, "", _os_reason(p, exc))
    sop_class = media_sop_class(head)
    if p.name.upper() == "DICOMDIR" or sop_class == _DICOMDIR_UID:
        # Never follow a DICOMDIR's paths: the folder's files are scanned directly.
        return ScanItem(p, "", "DICOMDIR index (the images are scanned as files)")
    kind = sniff(head)
    if not kind:
        return ScanItem(p, "", describe_unknown(head))
    if kind == "DICOM" and (sop_class in _NON_IMAGE_CLASSES or sop_class.startswith(_NON_IMAGE_FAMILIES)):
        from pydicom.uid import UID  # lazy: scanning plain folders should not load pydicom

        return ScanItem(p, "", f"not an image ({UID(sop_class).name})")
    return ScanItem(p, kind)


def media_sop_class(head: bytes) -> str:
    """Media Storage SOP Class UID from an explicit-VR file meta in ``head``, or ""."""
    if head[128:132] != b"DICM":
        return ""
    at = head.find(b"\x02\x00\x02\x00UI", 132)
    if at < 0:
        return ""
    n = int.from_bytes(head[at + 6 : at + 8], "little")
    text = head[at + 8 : at + 8 + n].rstrip(b"\0 ").decode("ascii", "replace")
    return "".join(ch if ch.isprintable() else "?" for ch in text)  # it may be quoted in a one-line reason
