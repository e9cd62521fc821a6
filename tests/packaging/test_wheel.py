"""`pip install .` (not editable) ships the model, card, gate and icons (issue #17.5)."""

from __future__ import annotations

import fnmatch
import os
import shutil
import subprocess
import sys
import sysconfig
import tomllib
import zipfile
from pathlib import Path

import pytest

from xray_desktop import resources

REPO = Path(__file__).resolve().parents[2]
CONFIG = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]
DATA_PKG = "xray_desktop._resources"
COPY_IGNORE = shutil.ignore_patterns(".venv", ".git", "build", "dist", "*.egg-info", "__pycache__", "runs",
                                     ".pytest_cache", ".ruff_cache", ".hypothesis", ".whl")


def test_package_list_covers_every_package_folder():
    found = {".".join(p.parent.relative_to(REPO).parts) for p in (REPO / "xray_desktop").rglob("__init__.py")}
    assert set(CONFIG["packages"]) == found | {DATA_PKG}


def test_package_data_covers_every_resource_file():
    assert CONFIG["package-dir"] == {DATA_PKG: "resources"}
    patterns = CONFIG["package-data"][DATA_PKG]
    root = REPO / "resources"
    files = [p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()]
    assert files
    for f in files:  # setuptools globs do not cross folders: "icons/*" takes icons/x.png, not icons/a/x.png
        assert any(fnmatch.fnmatch(f, pat) and f.count("/") == pat.count("/") for pat in patterns), f


def test_installed_layout_is_found_through_importlib_resources(tmp_path, monkeypatch):
    """A site-packages copy (no checkout beside it) resolves to xray_desktop/_resources."""
    site = tmp_path / "site-packages"
    shutil.copytree(REPO / "xray_desktop", site / "xray_desktop", ignore=COPY_IGNORE)
    shutil.copytree(REPO / "resources" / "icons", site / "xray_desktop" / "_resources" / "icons")
    code = ("import xray_desktop.resources as r; "
            "print(r.resources_dir()); print(r.model_dir()); print(r.icon_path(48).is_file())")
    env = {**os.environ, "PYTHONPATH": str(site)}
    env.pop("XRAY_DESKTOP_MODEL_DIR", None)
    out = subprocess.run([sys.executable, "-c", code], env=env, cwd=tmp_path, capture_output=True, text=True,
                         timeout=60, check=True).stdout.split()
    data = site / "xray_desktop" / "_resources"
    assert out == [str(data), str(data / "models"), "True"]


def test_checkout_wins_over_package_data():
    assert resources.resources_dir() == REPO / "resources"


@pytest.mark.slow
def test_wheel_installs_and_selftest_passes_outside_the_repo(tmp_path):
    """Build the wheel from a copy of the tree, install it (no deps) into a fresh venv that borrows
    this venv's TensorFlow, and run its console script from a folder outside the repository."""
    if not (REPO / "resources" / "models" / "model_card.json").is_file():
        pytest.skip("no trained model in resources/models")
    src = tmp_path / "src"
    shutil.copytree(REPO, src, ignore=COPY_IGNORE)
    wheels = tmp_path / "wheels"
    subprocess.run([sys.executable, "-m", "pip", "wheel", str(src), "--no-deps", "--no-build-isolation", "-q",
                    "-w", str(wheels)], check=True, timeout=600, capture_output=True)
    (wheel,) = wheels.glob("xray_desktop-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    for f in ("pneumonia_cnn.keras", "model_card.json", "gate.npz", "reference.png", "MODEL_CARD.md"):
        assert f"xray_desktop/_resources/models/{f}" in names
    assert "xray_desktop/_resources/icons/xray-desktop.svg" in names

    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    py = venv / "bin" / "python"
    subprocess.run([sys.executable, "-m", "pip", "--python", str(py), "install", "-q", "--no-deps", "--no-index",
                    str(wheel)], check=True, timeout=600, capture_output=True)
    # Only now borrow this venv's packages (TensorFlow, Qt...): pip must never see, let alone
    # uninstall, the editable install that lives there. A .pth path's own .pth files are not run.
    purelib = subprocess.run([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                             check=True, capture_output=True, text=True).stdout.strip()
    Path(purelib, "zz_borrowed.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")

    outside = tmp_path / "elsewhere"
    outside.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "XRAY_DESKTOP_MODEL_DIR")}
    where = subprocess.run([str(py), "-c", "import xray_desktop.resources as r; print(r.model_dir())"], env=env,
                           cwd=outside, check=True, capture_output=True, text=True).stdout.strip()
    assert where == str(Path(purelib) / "xray_desktop" / "_resources" / "models")
    result = subprocess.run([str(venv / "bin" / "xray-desktop-cli"), "selftest"], env=env, cwd=outside,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("selftest passed:")
