"""The one place that computes resource paths: checkout, installed wheel or PyInstaller bundle.

The files live in the repository's top-level ``resources/`` folder. A wheel ships that folder
as package data, ``xray_desktop/_resources`` (see ``[tool.setuptools]`` in pyproject.toml),
found through :mod:`importlib.resources`; a PyInstaller bundle carries it as
``_internal/resources`` (``sys._MEIPASS``).
"""

from __future__ import annotations

import importlib.resources
import os
import sys
from pathlib import Path

from xray_desktop.settings import ENV_MODEL_DIR

PACKAGE_DATA = "_resources"  # the wheel's copy of resources/, inside the xray_desktop package
_MARKER = "xray-desktop.desktop"  # tells our resources/ from any other folder of that name


def resources_dir() -> Path:
    """The folder holding the model, its card and the icons (the ``resources/`` tree)."""
    bundle = getattr(sys, "_MEIPASS", None)
    if bundle:
        return Path(bundle) / "resources"
    checkout = Path(__file__).resolve().parent.parent / "resources"
    if (checkout / _MARKER).is_file():  # a source checkout, `make run`, an editable install
        return checkout
    installed = _package_data_dir()
    return installed if installed is not None else checkout


def _package_data_dir() -> Path | None:
    """``xray_desktop/_resources`` of an installed wheel, when it is a real folder."""
    try:
        ref = importlib.resources.files("xray_desktop").joinpath(PACKAGE_DATA)
    except (ModuleNotFoundError, TypeError):
        return None
    # Keras and the card read files by path: only a package on the file system will do.
    return ref if isinstance(ref, Path) and ref.is_dir() else None


def resource_root() -> Path:
    """Folder holding ``resources/``: the bundle's unpack dir when frozen, else the repo root."""
    return resources_dir().parent


def resource_path(*parts: str) -> Path:
    """Path of a file under the resources tree."""
    return resources_dir().joinpath(*parts)


def model_dir() -> Path:
    """Folder of the bundled model and its card (XRAY_DESKTOP_MODEL_DIR overrides)."""
    env = os.environ.get(ENV_MODEL_DIR)
    return Path(env) if env else resource_path("models")


ICON_NAME = "xray-desktop"
ICON_SIZES = (16, 32, 48, 64, 128, 256)


def icon_path(size: int | None = None) -> Path:
    """The app icon: the SVG when ``size`` is None, else the PNG of that size (one of ICON_SIZES)."""
    if size is None:
        return resource_path("icons", f"{ICON_NAME}.svg")
    if size not in ICON_SIZES:
        raise ValueError(f"no {size} px icon; sizes are {ICON_SIZES}")
    return resource_path("icons", f"{ICON_NAME}-{size}.png")
