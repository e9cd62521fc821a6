"""The xcb preflight: a clear paragraph and exit 3 instead of Qt's abort and core dump (issue #17.1)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from xray_desktop import platform_check as pc

REPO = Path(__file__).resolve().parent.parent
ABSENT = {"libxcb-icccm.so.4", "libxcb-keysyms.so.1", "libxcb-cursor.so.0"}


def fake_loader(absent: set[str]):
    """A dlopen stand-in: every library loads except ``absent`` (by soname or path)."""
    return lambda name: Path(name).name not in absent


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"DISPLAY": ":0"}, True),
        ({"DISPLAY": ":0", "QT_QPA_PLATFORM": "xcb"}, True),
        ({"QT_QPA_PLATFORM": "xcb:nograb"}, True),
        ({"DISPLAY": ":0", "QT_QPA_PLATFORM": "offscreen"}, False),
        ({"DISPLAY": ":0", "QT_QPA_PLATFORM": "minimal"}, False),
        ({"DISPLAY": ":0", "QT_QPA_PLATFORM": "wayland;xcb"}, False),
        ({"WAYLAND_DISPLAY": "wayland-0", "DISPLAY": ":0", "XDG_SESSION_TYPE": "wayland"}, False),
        ({"WAYLAND_DISPLAY": "wayland-0", "XDG_SESSION_TYPE": "wayland"}, False),
        ({"DISPLAY": ":0", "XDG_SESSION_TYPE": "x11"}, True),
        ({}, False),
    ],
)
def test_uses_xcb(env, expected):
    assert pc.uses_xcb(env, platform="linux") is expected


def test_only_linux_is_checked():
    for platform in ("win32", "darwin"):
        assert not pc.uses_xcb({"DISPLAY": ":0"}, platform=platform)
        assert pc.xcb_problem({"DISPLAY": ":0"}, load=fake_loader(ABSENT), platform=platform) == ""


def test_missing_libraries_are_named_with_apt_and_dnf_lines():
    msg = pc.xcb_problem({"DISPLAY": ":0"}, load=fake_loader(ABSENT), platform="linux")
    assert "\n" not in msg  # one paragraph
    assert "libxcb-cursor.so.0, libxcb-icccm.so.4, libxcb-keysyms.so.1" in msg
    assert "`sudo apt-get install libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1`" in msg
    assert "`sudo dnf install xcb-util-cursor xcb-util-keysyms xcb-util-wm`" in msg


def test_nothing_to_say_when_everything_loads_or_no_display():
    assert pc.xcb_problem({"DISPLAY": ":0"}, load=fake_loader(set()), platform="linux") == ""
    assert pc.xcb_problem({"QT_QPA_PLATFORM": "offscreen"}, load=fake_loader(ABSENT), platform="linux") == ""


def test_a_library_carried_by_the_bundle_counts_as_present(tmp_path):
    (tmp_path / "libxcb-icccm.so.4").write_bytes(b"")
    tried = []

    def load(name):
        tried.append(name)
        return name == str(tmp_path / "libxcb-icccm.so.4") or Path(name).name not in ABSENT

    assert pc.missing_libraries(load, extra_dirs=[tmp_path]) == ["libxcb-cursor.so.0", "libxcb-keysyms.so.1"]
    assert str(tmp_path / "libxcb-icccm.so.4") in tried


def test_real_dlopen_finds_libc_and_not_a_made_up_library():
    if not sys.platform.startswith("linux"):
        pytest.skip("Linux only")
    assert pc._dlopen("libc.so.6")
    assert not pc._dlopen("libxray-desktop-does-not-exist.so.9")


def test_every_package_line_is_well_formed():
    for soname, (apt, dnf) in pc.XCB_LIBRARIES.items():
        assert re.fullmatch(r"lib[\w.+-]+\.so\.\d+", soname)
        assert re.fullmatch(r"[a-z0-9][a-z0-9.+-]+", apt) and re.fullmatch(r"[\w.+-]+", dnf)


def test_gui_entry_exits_3_with_the_paragraph_not_a_core_dump(tmp_path):
    """The real entry point in a subprocess, with dlopen made to miss three libraries."""
    boot = (
        "import xray_desktop.platform_check as pc;"
        f"pc._dlopen = lambda n: n.rsplit('/', 1)[-1] not in {sorted(ABSENT)!r};"
        "from xray_desktop.cli import main; import sys;"
        "rc = main([]);"
        "assert 'PySide6.QtWidgets' not in sys.modules, 'Qt was imported before the check';"
        "raise SystemExit(rc)"
    )
    env = {k: v for k, v in os.environ.items() if k not in ("QT_QPA_PLATFORM", "WAYLAND_DISPLAY")}
    env.update(DISPLAY=":99", PYTHONPATH=str(REPO))
    proc = subprocess.run([sys.executable, "-c", boot], env=env, cwd=tmp_path, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == pc.EXIT_NO_DISPLAY_LIBS, proc.stderr
    err = proc.stderr.strip()
    assert err.startswith("xray-desktop cannot open its window") and "\n" not in err
    assert "sudo apt-get install libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1" in err
    assert "Traceback" not in err and "core dump" not in err.lower() and not list(tmp_path.glob("core*"))
    log = Path(env["XRAY_DESKTOP_LOG_DIR"]) / "xray_desktop.log"
    assert "window not opened" in log.read_text()
