"""The one place that computes resource paths; knows about PyInstaller bundles."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from xray_desktop.settings import ENV_MODEL_DIR


def resource_root() -> Path:
    """Folder holding ``resources/``: the bundle's unpack dir when frozen, else the repo root."""
    bundle = getattr(sys, "_MEIPASS", None)
    if bundle:
        return Path(bundle)
    return Path(__file__).resolve().parent.parent


def resource_path(*parts: str) -> Path:
    """Path of a file under ``resources/``."""
    return resource_root().joinpath("resources", *parts)


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
