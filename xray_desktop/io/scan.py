"""Expand files and folders into candidate studies, detecting DICOM by content."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from xray_desktop.io.loader import sniff


@dataclass(frozen=True)
class ScanItem:
    """One file found by :func:`scan`; ``skip_reason`` is set for non-images."""

    path: Path
    kind: str  # "DICOM", "PNG", "JPEG" or "" when skipped
    skip_reason: str = ""


def scan(paths: Iterable[str | os.PathLike[str]]) -> Iterator[ScanItem]:
    """Yield every file under ``paths`` (recursively, sorted), classified by content."""
    for raw in paths:
        p = Path(raw)
        if p.is_dir():
            for root, dirs, files in os.walk(p, followlinks=False):
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                for name in sorted(files):
                    if name.startswith("."):
                        continue
                    yield _classify(Path(root) / name)
        else:
            yield _classify(p)


def _classify(p: Path) -> ScanItem:
    try:
        if not p.is_file():
            return ScanItem(p, "", "not a regular file" if p.exists() else "file not found")
        with open(p, "rb") as fh:
            head = fh.read(512)
    except OSError as exc:
        return ScanItem(p, "", f"cannot read file: {exc.strerror or exc}")
    kind = sniff(head)
    if not kind:
        if p.name.upper() == "DICOMDIR":
            return ScanItem(p, "", "DICOMDIR index (the images are scanned as files)")
        return ScanItem(p, "", "not a DICOM, PNG or JPEG file")
    return ScanItem(p, kind)
