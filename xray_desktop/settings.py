"""Every setting the app has, declared once, with its default. No Qt here.

Paths come from platformdirs (per-user, never next to the executable). A site or a test
points them elsewhere with environment variables, which the CLI flags also set.

Per-user files can hold PHI (recent folder names are often patient names), so our folders
are created owner-only (0700) and our files 0600 (``private_dir``, ``private_file``).
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from platformdirs import user_config_dir, user_data_dir, user_log_dir

APP_NAME = "xray_desktop"
APP_AUTHOR = "xray_desktop"

# Environment variables a site (or a test) can set.
ENV_DATA_DIR = "XRAY_DESKTOP_DATA_DIR"  # settings-free data: database, export salt
ENV_DB = "XRAY_DESKTOP_DB"  # the reads database file itself
ENV_LOG_DIR = "XRAY_DESKTOP_LOG_DIR"
ENV_MODEL_DIR = "XRAY_DESKTOP_MODEL_DIR"
ENV_SCREENSHOT = "XRAY_DESKTOP_SCREENSHOT"  # PNG path: grab the window once settled, then quit
ENV_SETTINGS = "XRAY_DESKTOP_SETTINGS"  # the GUI's ini file (tests point it at a tmp file)

# Radiologist preferences (QSettings keys in the GUI) and their defaults.
REVIEWER = ("reviewer/name", "")
# The reads database chosen in the GUI (File -> Reads database...): a path or a postgresql:// URL
# without a password (~/.pgpass holds it); "" = the default. XRAY_DESKTOP_DB, if set, wins.
DB_LOCATION = ("records/database", "")
# Per model: read and write these through model_setting_key, so that a threshold chosen for
# one model never applies to another.
THRESHOLD = ("ai/threshold", None)  # None: the model card's default operating point
OPERATING_POINT = ("ai/operating_point", "")  # "" = the source's default; "site:NAME@PROFILE_ID" for a site point
# Where the panel's operating points and figures come from: "card" (validation of the training
# source) or "site" (the newest site profile made for this model, when there is one).
POINT_SOURCE = ("ai/point_source", "card")
PER_MODEL = (THRESHOLD, OPERATING_POINT, POINT_SOURCE)
PREVALENCE = ("ai/prevalence", 0.30)  # see ui: pediatric ED pneumonia prevalence, stated there
HEATMAP_VISIBLE = ("view/heatmap_visible", True)
HEATMAP_OPACITY = ("view/heatmap_opacity", 0.45)
RECENT_FOLDERS = ("files/recent_folders", [])
LAST_DIR = ("files/last_dir", "")  # where the open dialogs start
METADATA_VISIBLE = ("view/metadata_visible", True)
WORKLIST_SORT = ("worklist/sort", "added")  # "added", "probability", "status" or "name"
UNCONFIRMED_ONLY = ("worklist/unconfirmed_only", False)
# Read-first mode (issue #12): the AI stays hidden on a study until the reader's first impression
# is saved; off by default, recommended for sites that calibrate (Review menu).
READ_FIRST = ("review/read_first", False)
# DICOM receive in the GUI (File -> DICOM receive...): off until a site turns it on. The CLI's
# `--send` uses the AE title as its calling AE title by default (``gui_setting``).
RECEIVE_ENABLED = ("dicom/receive_enabled", False)
RECEIVE_AE_TITLE = ("dicom/ae_title", "XRAY_DESKTOP")
RECEIVE_PORT = ("dicom/port", 11112)
RECEIVE_BIND = ("dicom/bind", "")  # "" = every interface
RECEIVE_ALLOWED_AETS = ("dicom/allowed_calling_aets", "")  # comma-separated; "" = any
RECEIVE_FOLDER = ("dicom/receive_folder", "")  # "" = received_dir()
# Window geometry is kept apart from preferences.
GEOMETRY = ("window/geometry", None)
WINDOW_STATE = ("window/state", None)
SPLITTER = ("window/splitter", None)
RIGHT_SPLITTER = ("window/right_splitter", None)  # AI panel | diagnosis form heights
WORKLIST_HEADER = ("window/worklist_header", None)  # column widths and order


def model_setting_key(spec: tuple[str, Any], model_sha256: str) -> tuple[str, Any]:
    """``spec`` (one of ``PER_MODEL``) for the model with this SHA-256: ``models/<sha256>/<key>``.

    A value stored under the global key (before settings were per model) belongs to no
    model and is not read: the card's default applies until the reader chooses again.
    """
    if spec not in PER_MODEL:
        raise ValueError(f"{spec[0]} is not a per-model setting")
    sha = model_sha256.lower()
    if len(sha) != 64 or not all(c in "0123456789abcdef" for c in sha):
        raise ValueError("a per-model setting needs the model's SHA-256 (64 hex digits)")
    return f"models/{sha}/{spec[0]}", spec[1]


def private_dir(path: Path, tighten: bool = True) -> Path:
    """Create ``path`` owner-only (0700); with ``tighten``, also an existing one that is ours.

    Folders a site named with an environment variable are not tightened: a shared
    department folder may be group-readable on purpose.
    """
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    if tighten and os.name == "posix":
        try:
            st = path.stat()
            if st.st_uid == os.getuid() and st.st_mode & 0o077:
                path.chmod(0o700)
        except OSError:
            pass  # best effort: a folder we cannot tighten still works
    return path


def private_file(path: Path) -> Path:
    """Make sure ``path`` exists and is owner-only (0600), creating it empty if needed."""
    os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
    if os.name == "posix" and path.stat().st_mode & 0o077:
        path.chmod(0o600)
    return path


def data_dir() -> Path:
    """Per-user data folder (database, export salt); created on demand, owner-only."""
    env = os.environ.get(ENV_DATA_DIR)
    return private_dir(Path(env or user_data_dir(APP_NAME, APP_AUTHOR)), tighten=not env)


def db_path() -> Path:
    """The reads database; a site can move it with XRAY_DESKTOP_DB."""
    env = os.environ.get(ENV_DB)
    return Path(env) if env else data_dir() / "reads.sqlite3"


def db_location() -> Path | str:
    """The reads database: ``db_path()``, or what XRAY_DESKTOP_DB holds when it is a URL.

    A URL stays a str: ``Path`` would turn its "//" into "/", and a ``postgresql://`` URL
    must never become a local file under a folder named "postgresql:". ``Store.open``
    accepts ``postgresql://`` (department mode) and refuses any other scheme.
    """
    env = os.environ.get(ENV_DB)
    if env and re.match(r"[A-Za-z][A-Za-z0-9+.-]+:/", env):  # one letter + ":" is a Windows drive
        return env
    return db_path()


def log_dir() -> Path:
    """Per-user log folder; created on demand, owner-only."""
    env = os.environ.get(ENV_LOG_DIR)
    return private_dir(Path(env or user_log_dir(APP_NAME, APP_AUTHOR)), tighten=not env)


def config_dir() -> Path:
    """Per-user configuration folder (Qt settings live here)."""
    return Path(user_config_dir(APP_NAME, APP_AUTHOR))


def received_dir() -> Path:
    """Where the GUI's DICOM receiver writes by default: the data folder's ``received``."""
    return data_dir() / "received"


def gui_setting(spec: tuple[str, Any]) -> str | None:
    """A plain text value from the GUI's ini file, read without Qt (for the CLI); None if unset.

    Only for simple values (an AE title): Qt's ini format quotes text with special
    characters and marks non-text values with ``@``; those come back as None, not guessed.
    """
    import configparser

    section, _, key = spec[0].rpartition("/")
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    try:
        parser.read(settings_file(), encoding="utf-8")
        value = parser.get(section or "General", key, fallback=None)
    except (configparser.Error, OSError, UnicodeDecodeError):
        return None
    if value is None or value.startswith("@"):
        return None
    if len(value) >= 2 and value[0] == value[-1] == '"':
        value = value[1:-1]
    return value if "\\" not in value else None


def settings_file() -> Path:
    """The GUI's ini file (an explicit file, so tests never touch the real user settings)."""
    env = os.environ.get(ENV_SETTINGS)
    return Path(env) if env else config_dir() / "settings.ini"
