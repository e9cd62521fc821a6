"""The one atomic file writer used for exports, anchors and ``predict --csv``.

Temp file (owner-only, 0600) in the target's own folder, fsync, rename over the target,
fsync the folder. A failure or a kill leaves the old file (or none), never a half-written
one. The target is never followed through a symbolic link: a link at the output path is
refused, so a planted link cannot make us overwrite the file it points to. Temp files a
killed writer left behind (they may hold PHI) are removed by the next write to the same
name once they are an hour old: only our own name pattern, and only old ones, so a writer
running elsewhere right now keeps its temp file.
"""

from __future__ import annotations

import glob
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TextIO, TypeVar

T = TypeVar("T")
STALE_TEMP_S = 3600.0


class SymlinkRefused(OSError):
    """The output path is a symbolic link (we never write through one)."""


def fsync_dir(folder: Path) -> None:
    """Make a rename in ``folder`` durable (a no-op on Windows, where NTFS journals it)."""
    if os.name != "posix":
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def temp_pattern(name: str) -> str:
    """The glob of the temp files a write to ``name`` makes."""
    return f".{glob.escape(name)}.*.tmp"


def remove_stale_temps(folder: Path, name: str) -> None:
    """Delete our temp files for ``name`` that are older than STALE_TEMP_S (best effort)."""
    cutoff = time.time() - STALE_TEMP_S
    for stale in folder.glob(temp_pattern(name)):
        try:
            if stale.is_file() and not stale.is_symlink() and stale.stat().st_mtime < cutoff:
                stale.unlink()
        except OSError:
            pass  # never fail a write over litter


def atomic_write(out_path: Path, write: Callable[[TextIO], T], encoding: str = "utf-8") -> T:
    """Call ``write(fh)`` on a temp file, then put it at ``out_path`` atomically; return its result.

    Raises SymlinkRefused when ``out_path`` is a symbolic link; OSError as the OS gives it.
    """
    out_path = Path(out_path)
    if out_path.is_symlink():
        raise SymlinkRefused(f"{out_path} is a symbolic link; give the real file name (links are not followed)")
    folder = out_path.parent if str(out_path.parent) else Path(".")
    remove_stale_temps(folder, out_path.name)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{out_path.name}.", suffix=".tmp", dir=folder)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "w", encoding=encoding, newline="") as fh:
            result = write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, out_path)  # rename(2) replaces a link made meanwhile, never its target
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_dir(folder)
    return result
