"""The Linux menu entry, the icons and the install/uninstall script."""

from __future__ import annotations

import configparser
import importlib.util
import os
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from PIL import Image

from xray_desktop.resources import ICON_NAME, ICON_SIZES

REPO = Path(__file__).resolve().parents[2]
DESKTOP = REPO / "resources" / "xray-desktop.desktop"
ICONS = REPO / "resources" / "icons"
INSTALL = REPO / "packaging" / "install-linux.sh"
UNINSTALL = REPO / "packaging" / "uninstall-linux.sh"
MAIN_CATEGORIES = {"AudioVideo", "Audio", "Video", "Development", "Education", "Game", "Graphics", "Network",
                   "Office", "Science", "Settings", "System", "Utility"}
needs_bash = pytest.mark.skipif(sys.platform == "win32" or shutil.which("bash") is None, reason="needs bash")


def _entry(path: Path) -> dict[str, str]:
    parser = configparser.ConfigParser(interpolation=None, delimiters=("=",))
    parser.optionxform = str  # type: ignore[assignment,method-assign]  # keys are case-sensitive
    parser.read_string(path.read_text(encoding="utf-8"))
    assert parser.sections() == ["Desktop Entry"]
    return dict(parser["Desktop Entry"])


# -- .desktop file ------------------------------------------------------------------------------
def test_desktop_entry_required_keys() -> None:
    entry = _entry(DESKTOP)
    assert entry["Type"] == "Application"
    assert entry["Name"]
    assert entry["Terminal"] == "false"
    assert entry["Exec"].split()[0] == "xray-desktop"  # install-linux.sh rewrites it to an absolute path
    assert entry["Exec"].split()[-1] in ("%F", "%f")  # files from the file manager / "Open with"
    assert entry["TryExec"] == "xray-desktop"
    assert entry["Icon"] == ICON_NAME  # a themed name: install-linux.sh puts it in hicolor
    categories = [c for c in entry["Categories"].split(";") if c]
    assert entry["Categories"].endswith(";") and MAIN_CATEGORIES & set(categories)
    assert "application/dicom" in entry["MimeType"].split(";")
    assert entry["StartupWMClass"] == "xray_desktop"  # Qt's WM_CLASS is the application name


def test_startup_wm_class_matches_the_app_name() -> None:
    from xray_desktop import settings

    assert _entry(DESKTOP)["StartupWMClass"] == settings.APP_NAME


# -- icons --------------------------------------------------------------------------------------
def test_svg_icon_is_square_svg() -> None:
    root = ET.parse(ICONS / f"{ICON_NAME}.svg").getroot()
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    assert root.get("viewBox") == "0 0 256 256"


@pytest.mark.parametrize("size", ICON_SIZES)
def test_png_icons_have_their_size(size: int) -> None:
    with Image.open(ICONS / f"{ICON_NAME}-{size}.png") as im:
        assert im.format == "PNG"
        assert im.size == (size, size)
        rgba = im.convert("RGBA")
        assert rgba.getpixel((0, 0))[3] == 0  # rounded corner: transparent
        assert rgba.getpixel((size // 2, size // 2))[3] == 255  # the glyph itself: opaque


def test_windows_ico_holds_every_size() -> None:
    with Image.open(ICONS / f"{ICON_NAME}.ico") as im:
        assert {s for s in im.info["sizes"]} == {(s, s) for s in ICON_SIZES}


def test_pngs_are_rendered_from_the_svg(qapp: object, tmp_path: Path) -> None:
    """The committed PNGs match the SVG (re-run packaging/make_icons.py after editing it)."""
    pytest.importorskip("PySide6.QtSvg")
    import numpy as np

    spec = importlib.util.spec_from_file_location("make_icons", REPO / "packaging" / "make_icons.py")
    assert spec and spec.loader
    make_icons = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(make_icons)
    out = tmp_path / "icon-64.png"
    make_icons.render_png(ICONS / f"{ICON_NAME}.svg", 64, out)
    fresh = np.asarray(Image.open(out).convert("RGBA"), dtype=np.int16)
    committed = np.asarray(Image.open(ICONS / f"{ICON_NAME}-64.png").convert("RGBA"), dtype=np.int16)
    assert float(np.abs(fresh - committed).mean()) < 2.0


# -- install-linux.sh ---------------------------------------------------------------------------
def _fake_bundle(parent: Path) -> Path:
    """A folder shaped like dist/xray-desktop with a stub launcher (the path has a space)."""
    bundle = parent / "My Apps" / "xray-desktop"
    internal = bundle / "_internal" / "resources"
    shutil.copytree(ICONS, internal / "icons")
    shutil.copy2(DESKTOP, internal / DESKTOP.name)
    launcher = bundle / "xray-desktop"
    launcher.write_text("#!/bin/sh\nexit 0\n")
    launcher.chmod(0o755)
    return bundle


def _sh(*args: str | Path, data_home: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "XDG_DATA_HOME": str(data_home)}
    return subprocess.run(["bash", *map(str, args)], env=env, capture_output=True, text=True, timeout=60)


def _installed(data_home: Path) -> dict[str, bytes]:
    return {str(p.relative_to(data_home)): p.read_bytes() for p in sorted(data_home.rglob("*"))
            if p.is_file() and not p.name.endswith(".cache") and p.name != "mimeinfo.cache"}


def test_shell_scripts_parse() -> None:
    if shutil.which("bash") is None:
        pytest.skip("needs bash")
    for script in (INSTALL, UNINSTALL, REPO / "packaging" / "build.sh"):
        assert subprocess.run(["bash", "-n", str(script)], capture_output=True).returncode == 0, script


@needs_bash
def test_install_bundle_is_idempotent_and_uninstalls(tmp_path: Path) -> None:
    bundle = _fake_bundle(tmp_path)
    home = tmp_path / "share"
    first = _sh(INSTALL, "--bundle", bundle, data_home=home)
    assert first.returncode == 0, first.stderr
    entry = _entry(home / "applications" / "xray-desktop.desktop")
    assert entry["Exec"] == f'"{bundle}/xray-desktop" %F'  # quoted: the path has a space
    assert entry["TryExec"] == f"{bundle}/xray-desktop"
    assert entry["Icon"] == "xray-desktop"
    for size in ICON_SIZES:
        with Image.open(home / "icons" / "hicolor" / f"{size}x{size}" / "apps" / "xray-desktop.png") as im:
            assert im.size == (size, size)
    assert (home / "icons" / "hicolor" / "scalable" / "apps" / "xray-desktop.svg").is_file()

    before = _installed(home)
    again = _sh(INSTALL, "--bundle", bundle, data_home=home)
    assert again.returncode == 0, again.stderr
    assert _installed(home) == before  # idempotent: same files, same content

    gone = _sh(UNINSTALL, data_home=home)
    assert gone.returncode == 0, gone.stderr
    assert _installed(home) == {}
    assert bundle.joinpath("xray-desktop").is_file()  # the app itself is left alone
    assert _sh(UNINSTALL, data_home=home).returncode == 0  # uninstalling twice is fine


@needs_bash
def test_install_finds_the_bundle_it_sits_in(tmp_path: Path) -> None:
    bundle = _fake_bundle(tmp_path)
    shutil.copy2(INSTALL, bundle / INSTALL.name)  # build.sh ships the script inside the bundle
    result = _sh(bundle / INSTALL.name, data_home=tmp_path / "share")
    assert result.returncode == 0, result.stderr
    assert _entry(tmp_path / "share" / "applications" / "xray-desktop.desktop")["TryExec"] == f"{bundle}/xray-desktop"


@needs_bash
def test_install_for_a_pip_or_venv_launcher(tmp_path: Path) -> None:
    venv_bin = tmp_path / "venv" / "bin"
    venv_bin.mkdir(parents=True)
    script = venv_bin / "xray-desktop"
    script.write_text("#!/bin/sh\nexit 0\n")
    script.chmod(0o755)
    result = _sh(INSTALL, "--exec", script, data_home=tmp_path / "share")
    assert result.returncode == 0, result.stderr
    entry = _entry(tmp_path / "share" / "applications" / "xray-desktop.desktop")
    assert entry["Exec"] == f"{script} %F"
    assert entry["TryExec"] == str(script)


@needs_bash
def test_install_refuses_unquotable_paths(tmp_path: Path) -> None:
    odd = tmp_path / "a$b"
    odd.mkdir()
    script = odd / "xray-desktop"
    script.write_text("#!/bin/sh\n")
    script.chmod(0o755)
    result = _sh(INSTALL, "--exec", script, data_home=tmp_path / "share")
    assert result.returncode != 0
    assert "cannot put a path" in result.stderr
    assert not (tmp_path / "share" / "applications" / "xray-desktop.desktop").exists()


@needs_bash
def test_install_rejects_a_folder_that_is_not_a_bundle(tmp_path: Path) -> None:
    result = _sh(INSTALL, "--bundle", tmp_path, data_home=tmp_path / "share")
    assert result.returncode != 0
    assert "not a PyInstaller bundle" in result.stderr
