"""install-linux.sh checks the X11 libraries the window needs, with the app's own table (issue #17.1)."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

from tests.packaging.test_desktop_integration import INSTALL, _fake_bundle, needs_bash
from xray_desktop.platform_check import XCB_LIBRARIES

ABSENT = ("libxcb-icccm.so.4", "libxcb-keysyms.so.1")


def test_script_table_matches_platform_check():
    text = INSTALL.read_text(encoding="utf-8")
    block = re.search(r"^XCB_LIBS=\(\n(.*?)^\)", text, re.S | re.M)
    assert block, "XCB_LIBS table not found in install-linux.sh"
    rows = [line.strip().strip('"').split() for line in block.group(1).splitlines() if line.strip()]
    assert {soname: (apt, dnf) for soname, apt, dnf in rows} == XCB_LIBRARIES


def _fake_ldconfig(folder: Path, absent: tuple[str, ...]) -> Path:
    """A stub `ldconfig -p` listing every library of the table except ``absent``."""
    folder.mkdir(parents=True, exist_ok=True)
    lines = [f"{len(XCB_LIBRARIES)} libs found in cache `/etc/ld.so.cache'"]
    lines += [f"\t{s} (libc6,x86-64) => /usr/lib/{s}" for s in XCB_LIBRARIES if s not in absent]
    stub = folder / "ldconfig"
    stub.write_text("#!/bin/sh\ncat <<'EOF'\n" + "\n".join(lines) + "\nEOF\n")
    stub.chmod(0o755)
    return folder


def _install(tmp_path: Path, absent: tuple[str, ...], *args: str | Path) -> subprocess.CompletedProcess[str]:
    stubs = _fake_ldconfig(tmp_path / "stubs", absent)
    env = {**os.environ, "XDG_DATA_HOME": str(tmp_path / "share"), "PATH": f"{stubs}:{os.environ['PATH']}"}
    return subprocess.run(["bash", str(INSTALL), *map(str, args)], env=env, capture_output=True, text=True,
                          timeout=60)


@needs_bash
def test_missing_libraries_are_named_with_install_lines(tmp_path):
    bundle = _fake_bundle(tmp_path)
    result = _install(tmp_path, ABSENT, "--bundle", bundle)
    assert result.returncode == 0, result.stderr  # the menu entry is still installed
    assert "libxcb-icccm.so.4 libxcb-keysyms.so.1" in result.stderr
    assert "sudo apt-get install libxcb-icccm4 libxcb-keysyms1" in result.stderr
    assert "sudo dnf install xcb-util-wm xcb-util-keysyms" in result.stderr


@needs_bash
def test_no_warning_when_everything_is_there_or_carried_by_the_bundle(tmp_path):
    bundle = _fake_bundle(tmp_path)
    assert "warning" not in _install(tmp_path, (), "--bundle", bundle).stderr
    for soname in ABSENT:
        (bundle / "_internal" / soname).write_bytes(b"")
    result = _install(tmp_path, ABSENT, "--bundle", bundle)
    assert result.returncode == 0 and "warning" not in result.stderr, result.stderr
