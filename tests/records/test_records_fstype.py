"""SQLite on a network file system is refused at open (issue #15): WAL and locking are local-only."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from xray_desktop.records import Store, StoreError, fstype
from xray_desktop.records.fstype import mount_fstype, network_fs

MOUNTINFO = """\
22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw
40 22 0:38 / /mnt/site\\040share rw,relatime shared:20 - nfs4 server:/export rw,vers=4.2
41 40 8:2 / /mnt/site\\040share/local rw,relatime shared:21 - ext4 /dev/sdb1 rw
42 22 0:40 / /home/reader/remote rw,nosuid shared:22 - fuse.sshfs reader@pacs:/ rw
43 22 0:41 / /srv/smb rw shared:23 - cifs //nas/reads rw
"""


@pytest.mark.parametrize("path, expected", [
    ("/var/lib/reads.sqlite3", "ext4"),
    ("/mnt/site share/reads.sqlite3", "nfs4"),  # the mount point's space is escaped as \\040
    ("/mnt/site share/local/reads.sqlite3", "ext4"),  # a local disk mounted inside the share
    ("/mnt/site sharelings/reads.sqlite3", "ext4"),  # a sibling whose name starts the same
    ("/home/reader/remote/db/reads.sqlite3", "fuse.sshfs"),
    ("/srv/smb", "cifs"),
])
def test_the_mount_holding_a_path(path, expected):
    assert mount_fstype(Path(path), MOUNTINFO) == expected


def test_only_network_file_systems_count(tmp_path):
    here = tmp_path / "not-yet" / "reads.sqlite3"  # a database not created yet: its nearest folder
    local = f"1 0 8:1 / / rw - ext4 /dev/sda1 rw\n2 1 8:2 / {tmp_path} rw - tmpfs tmpfs rw\n"
    assert network_fs(here, local) == ""
    remote = local + f"3 2 0:50 / {tmp_path} rw - nfs server:/x rw\n"
    assert network_fs(here, remote) == "nfs"
    assert network_fs(here, "") == ""  # nothing known: not refused


def test_store_refuses_sqlite_on_a_network_share_and_creates_nothing(tmp_path, monkeypatch):
    share = tmp_path / "share"
    share.mkdir()
    fake = tmp_path / "mountinfo"
    fake.write_text(f"1 0 8:1 / / rw - ext4 /dev/sda1 rw\n2 1 0:50 / {share} rw - cifs //nas/x rw\n")
    monkeypatch.setattr(fstype, "MOUNTINFO", fake)
    with pytest.raises(StoreError) as err:
        Store.open(share / "reads.sqlite3")
    message = str(err.value)
    assert "network file system (cifs)" in message and "postgresql://" in message
    assert not (share / "reads.sqlite3").exists()
    with Store.open(tmp_path / "local.sqlite3") as store:  # a local disk still opens
        assert store.count() == 0


def test_this_machines_mountinfo_parses():
    if sys.platform != "linux":
        pytest.skip("mountinfo is Linux-only; elsewhere only UNC paths are detected")
    info = fstype.MOUNTINFO
    if not info.exists():
        pytest.fail("/proc/self/mountinfo missing: the check would silently do nothing on Linux")
    assert mount_fstype(Path("/"), info.read_text()) is not None
