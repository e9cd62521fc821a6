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
