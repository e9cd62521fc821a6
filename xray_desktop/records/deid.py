"""Stable pseudonyms for de-identified exports.

A study key (SOP Instance UID or file hash) becomes ``HMAC-SHA256(salt, key)``, shortened.
The 32-byte random salt is made once, owner-only, in ``settings.data_dir()/export_salt``
and reused, so the same study gets the same pseudonym in every export from this
installation (longitudinal research needs that), while nobody without the salt file can
test a guessed UID against a pseudonym. Losing the salt only breaks linkage with older
exports; a damaged salt is an error, never silently replaced.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import tempfile
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from xray_desktop import settings
from xray_desktop.records.columns import COLUMNS, Deid
from xray_desktop.records.reads import StoreError

SALT_BYTES = 32
SALT_FILENAME = "export_salt"
PSEUDONYM_HEX = 24  # 96 bits: collisions are out of reach for any realistic archive


def default_salt_path() -> Path:
    """Where the salt lives unless a caller says otherwise."""
    return settings.data_dir() / SALT_FILENAME


def _create_salt(path: Path) -> None:
    """Create the salt file unless it exists; safe when two exports race to create it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    # Write a complete temp file, then link it into place: link fails if the salt
    # appeared meanwhile, so nobody ever reads a half-written salt or replaces one.
    fd, tmp_name = _mkstemp_0600(path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(secrets.token_bytes(SALT_BYTES))
            fh.flush()
            os.fsync(fh.fileno())
        try:
            os.link(tmp_name, path)
        except FileExistsError:
            pass
        except OSError:  # file systems without hard links: exclusive create instead
            _create_exclusive(path)
    finally:
        os.unlink(tmp_name)


def _mkstemp_0600(folder: Path) -> tuple[int, str]:
    return tempfile.mkstemp(prefix=f".{SALT_FILENAME}.", suffix=".tmp", dir=folder)  # mode 0600


def _create_exclusive(path: Path) -> None:
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    except FileExistsError:
        return
    with os.fdopen(fd, "wb") as fh:
        fh.write(secrets.token_bytes(SALT_BYTES))
        fh.flush()
        os.fsync(fh.fileno())


class Pseudonymizer:
    """Maps study keys to stable salted pseudonyms ("S-" + 24 hex digits)."""

    def __init__(self, salt: bytes) -> None:
        """Use ``load``; ``salt`` must be SALT_BYTES random bytes."""
        if len(salt) != SALT_BYTES:
            raise ValueError("the export salt must be 32 bytes")
        self._salt = salt

    @classmethod
    def load(cls, salt_path: Path | str | None = None) -> Pseudonymizer:
        """Read the salt at ``salt_path`` (default: the data folder), creating it once."""
        path = Path(salt_path) if salt_path is not None else default_salt_path()
        try:
            if not path.exists():
                _create_salt(path)
            salt = path.read_bytes()
        except OSError as exc:
            raise StoreError(f"cannot read or create the export salt at {path}: {exc.strerror}") from exc
        if len(salt) != SALT_BYTES:
            raise StoreError(
                f"the export salt at {path} is damaged ({len(salt)} bytes, expected {SALT_BYTES}); "
                "restore it from a backup to keep pseudonyms stable, or delete it to start new ones"
            )
        return cls(salt)

    def __call__(self, study_key: str) -> str:
        """The pseudonym of ``study_key``."""
        digest = hmac.new(self._salt, study_key.encode("utf-8"), hashlib.sha256).hexdigest()
        return "S-" + digest[:PSEUDONYM_HEX]


# The input gate's reasons, by their fixed opening words; what follows may quote the file
# (a body part, a modality, a view), so the de-identified export keeps only the category.
_GATE_CATEGORIES = (
    ("colour image", "colour image"), ("modality ", "modality"), ("body part ", "body part"),
    ("aspect ratio", "aspect ratio"), ("image is blank", "blank"), ("image is saturated", "saturated"),
    ("unlike the training", "unlike the training films"),
)  # fmt: skip


def generalised_gate(gate_result: str) -> str:
    """``accepted``, ``rejected: <category>`` (a fixed word list) or ``rejected``; never file text."""
    if gate_result in ("", "accepted"):
        return gate_result
    reason = gate_result.removeprefix("rejected: ")
    for opening, category in _GATE_CATEGORIES:
        if reason.startswith(opening):
            return f"rejected: {category}"
    if " view: the model reads frontal" in reason:
        return "rejected: view"
    return "rejected"


def year_only(text: str) -> str:
    """The leading four-digit year of a DICOM or ISO date, else empty."""
    return text[:4] if len(text) >= 4 and text[:4].isascii() and text[:4].isdigit() else ""


# Deid.CATEGORY columns -> the function that reduces a value to its category.
CATEGORISERS: dict[str, Callable[[str], str]] = {"gate_result": generalised_gate}


def _year(value: object) -> str:
    return str(value.year) if isinstance(value, datetime) else year_only(str(value))


def deid_values(read: Any, pseudo: Pseudonymizer) -> dict[str, object]:
    """The de-identified export's replacements for one read's kept columns.

    Which columns and how come from ``columns.COLUMNS``: study keys pseudonymised, the study
    date and the read's own time coarsened alike to their year, gate reasons to a category.
    """
    out: dict[str, object] = {}
    for col in COLUMNS:
        if col.deid is Deid.PSEUDONYMISE:
            out[col.name] = pseudo(getattr(read, col.name))
        elif col.deid is Deid.YEAR:
            out[col.name] = _year(getattr(read, col.name))
        elif col.deid is Deid.CATEGORY:
            out[col.name] = CATEGORISERS[col.name](getattr(read, col.name))
    return out
