"""Before the window opens: can Qt's X11 (xcb) platform plugin load on this Linux machine?

Without the X11 client libraries it needs (often missing on a fresh Debian/Ubuntu desktop:
libxcb-cursor0, libxcb-icccm4, ...), ``QApplication()`` aborts the process with a core dump
and a misleading "Reinstalling the application may fix this problem". This module finds the
missing libraries cheaply (``dlopen`` by soname, no Qt import) and says what to install.
``packaging/install-linux.sh`` checks the same list (a test keeps the two in step).
"""

from __future__ import annotations

import ctypes
import os
import sys
from collections.abc import Callable, Mapping
from pathlib import Path

# soname -> (Debian/Ubuntu package, Fedora/RHEL package). The system libraries that Qt's xcb
# plugin (libqxcb.so, libQt6XcbQpa) and QtGui load on Linux; PySide6 wheels carry none of them.
XCB_LIBRARIES: dict[str, tuple[str, str]] = {
    "libxcb.so.1": ("libxcb1", "libxcb"),
    "libX11.so.6": ("libx11-6", "libX11"),
    "libX11-xcb.so.1": ("libx11-xcb1", "libX11-xcb"),
    "libxkbcommon.so.0": ("libxkbcommon0", "libxkbcommon"),
    "libxkbcommon-x11.so.0": ("libxkbcommon-x11-0", "libxkbcommon-x11"),
    "libxcb-cursor.so.0": ("libxcb-cursor0", "xcb-util-cursor"),
    "libxcb-icccm.so.4": ("libxcb-icccm4", "xcb-util-wm"),
    "libxcb-util.so.1": ("libxcb-util1", "xcb-util"),
    "libxcb-image.so.0": ("libxcb-image0", "xcb-util-image"),
    "libxcb-keysyms.so.1": ("libxcb-keysyms1", "xcb-util-keysyms"),
    "libxcb-render-util.so.0": ("libxcb-render-util0", "xcb-util-renderutil"),
    "libxcb-randr.so.0": ("libxcb-randr0", "libxcb"),
    "libxcb-render.so.0": ("libxcb-render0", "libxcb"),
    "libxcb-shape.so.0": ("libxcb-shape0", "libxcb"),
    "libxcb-shm.so.0": ("libxcb-shm0", "libxcb"),
    "libxcb-sync.so.1": ("libxcb-sync1", "libxcb"),
    "libxcb-xfixes.so.0": ("libxcb-xfixes0", "libxcb"),
    "libxcb-xkb.so.1": ("libxcb-xkb1", "libxcb"),
    "libEGL.so.1": ("libegl1", "libglvnd-egl"),
    "libGL.so.1": ("libgl1", "libglvnd-glx"),
    "libfontconfig.so.1": ("libfontconfig1", "fontconfig"),
}
EXIT_NO_DISPLAY_LIBS = 3


def _dlopen(name: str) -> bool:
    """True when the dynamic loader finds and loads ``name`` (a soname or a path)."""
    try:
        ctypes.CDLL(name)
    except OSError:
        return False
    return True


def _extra_dirs() -> list[Path]:
    """Folders that may carry these libraries besides the system's: a PyInstaller bundle's."""
    bundle = getattr(sys, "_MEIPASS", None)
    return [Path(bundle)] if bundle else []


def missing_libraries(load: Callable[[str], bool] | None = None, extra_dirs: list[Path] | None = None) -> list[str]:
    """Sonames from :data:`XCB_LIBRARIES` the loader (default: dlopen) cannot load, in table order."""
    load = load or _dlopen
    dirs = _extra_dirs() if extra_dirs is None else extra_dirs
    missing = []
    for soname in XCB_LIBRARIES:
        if load(soname):
            continue
        if any((d / soname).is_file() and load(str(d / soname)) for d in dirs):
            continue
        missing.append(soname)
    return missing


def uses_xcb(env: Mapping[str, str] | None = None, platform: str | None = None) -> bool:
    """Whether Qt will try the xcb plugin first: Linux, an X display, no other platform asked for."""
    env = os.environ if env is None else env
    if not (platform or sys.platform).startswith("linux"):
        return False
    requested = env.get("QT_QPA_PLATFORM", "").strip()
    if requested:
        first = requested.split(";")[0].split(":")[0].strip().lower()
        return first == "xcb"
    if env.get("WAYLAND_DISPLAY") and env.get("XDG_SESSION_TYPE", "").lower() == "wayland":
        return False  # Qt 6 prefers its wayland plugin in a Wayland session
    return bool(env.get("DISPLAY"))


def install_hint(missing: list[str]) -> str:
    """One paragraph: what is missing and the apt-get / dnf lines that install it."""
    apt = sorted({XCB_LIBRARIES[s][0] for s in missing if s in XCB_LIBRARIES})
    dnf = sorted({XCB_LIBRARIES[s][1] for s in missing if s in XCB_LIBRARIES})
    return (
        "xray-desktop cannot open its window: Qt's X11 (xcb) platform plugin needs system libraries "
        f"that are not installed: {', '.join(missing)}. Install them, then start again: on Debian/Ubuntu "
        f"`sudo apt-get install {' '.join(apt)}`, on Fedora/RHEL `sudo dnf install {' '.join(dnf)}`. "
        "(The headless commands predict, selftest, export and verify do not need them; in a Wayland "
        "session QT_QPA_PLATFORM=wayland avoids X11.)"
    )


def xcb_problem(env: Mapping[str, str] | None = None, load: Callable[[str], bool] | None = None,
                platform: str | None = None) -> str:
    """The paragraph to show when the window cannot open for lack of xcb libraries; "" when fine."""
    if not uses_xcb(env, platform):
        return ""
    missing = missing_libraries(load)
    return install_hint(missing) if missing else ""
