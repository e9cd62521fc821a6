"""Is a path on a network file system? (SQLite's locking and WAL shared memory are local-only.)

Linux: the mount holding the path, from ``/proc/self/mountinfo`` (longest mount point that
contains it); Windows: UNC paths (``\\\\server\\share``). Elsewhere nothing is detected.
"""

from __future__ import annotations

import os
from pathlib import Path

# File systems where several machines can open the same file: SQLite's POSIX locks are
# unreliable there and WAL's shared-memory index does not work at all (sqlite.org/wal.html).
NETWORK_FS = frozenset({
    "nfs", "nfs4", "cifs", "smb3", "smbfs", "ncpfs", "9p", "afs", "ceph", "glusterfs", "lustre", "gpfs",
    "ocfs2", "gfs2", "beegfs", "fuse.sshfs", "sshfs", "fuse.glusterfs", "fuse.cephfs", "fuse.davfs2", "davfs",
    "fuse.s3fs", "fuse.rclone", "fuse.gvfsd-fuse", "fuse.smbnetfs", "fuse.curlftpfs",
})
MOUNTINFO = Path("/proc/self/mountinfo")


def _unescape(field: str) -> str:
    """Mount points in mountinfo escape space, tab, newline and backslash as octal."""
    for code, char in (("\\040", " "), ("\\011", "\t"), ("\\012", "\n"), ("\\134", "\\")):
        field = field.replace(code, char)
    return field


def mount_fstype(path: Path, mountinfo: str) -> str | None:
    """The type of the file system whose mount point holds ``path`` (absolute), per ``mountinfo``."""
    best, best_type = "", None
    target = str(path)
    for line in mountinfo.splitlines():
        left, sep, right = line.partition(" - ")
        fields = left.split()
        if not sep or len(fields) < 5 or not right.split():
            continue
        mount = _unescape(fields[4])
        inside = target == mount or target.startswith(mount.rstrip("/") + "/")
        if inside and len(mount) >= len(best):  # later lines stack on earlier ones
            best, best_type = mount, right.split()[0]
    return best_type


def network_fs(path: Path, mountinfo: str | None = None) -> str:
    """The network file-system type ``path`` would live on, or "" (local or unknown)."""
    raw = str(path)
    if os.name == "nt" and (raw.startswith("\\\\") or raw.startswith("//")):
        return "SMB (UNC path)"
    if mountinfo is None:
        try:
            mountinfo = MOUNTINFO.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""
    here = Path(os.path.abspath(path))
    while not here.exists() and here.parent != here:  # a database not created yet: its folder
        here = here.parent
    fstype = mount_fstype(here.resolve(), mountinfo)
    return fstype if fstype in NETWORK_FS else ""
