"""Logging to a rotating file in the per-user log folder. Never log PHI.

Study keys are logged through :func:`key_hash`; patient names, IDs and file paths are not
logged at all (a path often contains the patient's name).
"""

from __future__ import annotations

import hashlib
import logging
import logging.handlers
from pathlib import Path

from xray_desktop import settings

LOG_FILE = "xray_desktop.log"
_FORMAT = "%(asctime)s %(levelname)s %(threadName)s %(name)s: %(message)s"


def setup_logging(level: int = logging.INFO, log_dir: Path | None = None) -> Path:
    """Attach a rotating file handler to the ``xray_desktop`` logger; return the log file path."""
    folder = Path(log_dir) if log_dir is not None else settings.log_dir()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / LOG_FILE
    logger = logging.getLogger("xray_desktop")
    logger.setLevel(level)
    # Idempotent: a second call (tests, a re-run of the GUI in one process) adds nothing.
    for h in logger.handlers:
        if isinstance(h, logging.handlers.RotatingFileHandler) and Path(h.baseFilename) == path:
            return path
    handler = logging.handlers.RotatingFileHandler(path, maxBytes=2_000_000, backupCount=5, encoding="utf-8")
    handler.setFormatter(logging.Formatter(_FORMAT))
    logger.addHandler(handler)
    return path


def key_hash(key: str) -> str:
    """A short, non-reversible tag for a study key, safe to write to the log."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:12]
