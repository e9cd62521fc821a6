"""Logging to a rotating file in the per-user log folder. Never log PHI.

Study keys are logged through :func:`key_hash`; patient names, IDs and file paths are not
logged at all (a path often contains the patient's name).
"""

from __future__ import annotations

import hashlib
import logging
import logging.handlers
import os
from pathlib import Path
from typing import TextIO

from xray_desktop import settings

LOG_FILE = "xray_desktop.log"
_FORMAT = "%(asctime)s %(levelname)s %(threadName)s %(name)s: %(message)s"


class _PrivateRotatingFileHandler(logging.handlers.RotatingFileHandler):
    """A rotating handler whose files (the current one and each new one) are owner-only."""

    def _open(self) -> TextIO:
        # Our own file in our own folder: make it 0600 whether new or left from an older version.
        settings.private_file(Path(self.baseFilename))
        return open(self.baseFilename, self.mode, encoding=self.encoding, errors=self.errors)


def setup_logging(level: int = logging.INFO, log_dir: Path | None = None) -> Path:
    """Attach a rotating file handler to the ``xray_desktop`` logger; return the log file path."""
    folder = Path(log_dir) if log_dir is not None else settings.log_dir()
    path = folder / LOG_FILE
    logger = logging.getLogger("xray_desktop")
    logger.setLevel(level)
    # Idempotent: a second call (tests, a re-run of the GUI in one process) adds nothing.
    for h in logger.handlers:
        if isinstance(h, logging.handlers.RotatingFileHandler) and Path(h.baseFilename) == path:
            return path
    settings.private_dir(folder, tighten=log_dir is None and not os.environ.get(settings.ENV_LOG_DIR))
    for old in folder.glob(f"{LOG_FILE}*"):  # rotated files of older versions were 0644
        if old.is_file() and not old.is_symlink():
            settings.private_file(old)
    handler = _PrivateRotatingFileHandler(path, maxBytes=2_000_000, backupCount=5, encoding="utf-8")
    handler.setFormatter(logging.Formatter(_FORMAT))
    logger.addHandler(handler)
    return path


def key_hash(key: str) -> str:
    """A short, non-reversible tag for a study key, safe to write to the log."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:12]
