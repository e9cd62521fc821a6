"""A site profile: the operating point a site measured on its own studies, for one model.

A small versioned JSON file. It belongs to exactly one model (by SHA-256) and is refused
for any other; it says where its figures come from (a labelled archive or confirmed
reads), on how many studies, when and by whom. Pure: no Qt, no TensorFlow.

Its creation is recorded in an append-only JSON-lines audit file next to the profiles
(``<data dir>/site_profiles/audit.jsonl``): the reads database's hash chain holds reads
only, and a profile event does not belong in that table.
"""

from __future__ import annotations

import getpass
import hashlib
import json
import math
import os
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from xray_desktop import settings
from xray_desktop.decision import RocTable
from xray_desktop.model.card import read_json_object

FORMAT = "xray-desktop-site-profile"
FORMAT_VERSION = 1
PROFILES_DIR = "site_profiles"
AUDIT_FILE = "audit.jsonl"
MAX_ROC_ROWS = 201  # the stored site ROC is thinned to this many rows (enough for a slider)
_REQUIRED = ("format", "format_version", "profile_id", "model", "source", "n", "created_at", "created_by",
             "operating_points", "default_operating_point", "roc")


class ProfileError(Exception):
    """A site profile is missing, malformed or made for another model; ``str()`` says which."""


def profiles_dir() -> Path:
    """Where profiles (and their audit file) are kept: the per-user data folder."""
    return settings.data_dir() / PROFILES_DIR


@dataclass(frozen=True)
class SitePoint:
    """One site operating point with its site figures (Wilson 95 % CIs)."""

    name: str
    threshold: float
    sensitivity: float
    specificity: float
    sensitivity_ci: tuple[float, float]
    specificity_ci: tuple[float, float]


class SiteProfile:
    """A parsed site profile; read-only."""

    def __init__(self, data: dict[str, Any], path: Path | None = None) -> None:
        missing = [k for k in _REQUIRED if k not in data]
        if missing:
            raise ProfileError(f"site profile lacks {', '.join(missing)}")
        if data["format"] != FORMAT:
            raise ProfileError("not an xray-desktop site profile")
        if int(data["format_version"]) > FORMAT_VERSION:
            raise ProfileError(f"site profile format {data['format_version']} is newer than this program "
                               f"understands ({FORMAT_VERSION}); please update xray_desktop")
        self.data = data
        self.path = path
        self._points = {name: _point(name, op) for name, op in data["operating_points"].items()}
        if not self._points:
            raise ProfileError("site profile has no operating point")
        if data["default_operating_point"] not in self._points:
            raise ProfileError("site profile's default operating point is not among its operating points")
        roc = data["roc"]
        self._roc = RocTable(np.array([r["threshold"] for r in roc]), np.array([r["sensitivity"] for r in roc]),
                             np.array([r["specificity"] for r in roc]))

    @classmethod
    def load(cls, path: Path) -> SiteProfile:
        """Read and validate a profile file."""
        path = Path(path)
        data = read_json_object(path, "site profile", ProfileError)
        try:
            return cls(data, path)
        except (KeyError, TypeError, ValueError) as exc:
            raise ProfileError(f"site profile {path.name} is malformed: {exc}") from None

    @property
    def profile_id(self) -> str:
        return str(self.data["profile_id"])

    @property
    def model_sha256(self) -> str:
        return str(self.data["model"]["sha256"])

    @property
    def n(self) -> int:
        return int(self.data["n"]["studies"])

    @property
    def default_operating_point(self) -> str:
        return str(self.data["default_operating_point"])

    def points(self) -> list[SitePoint]:
        """Every site operating point, most sensitive (lowest threshold) first."""
        return sorted(self._points.values(), key=lambda p: p.threshold)

    def point(self, name: str | None = None) -> SitePoint:
        """A named site point (the profile's default when ``name`` is None)."""
        name = name or self.default_operating_point
        try:
            return self._points[name]
        except KeyError:
            raise ProfileError(f"unknown site operating point '{name}' (known: {', '.join(sorted(self._points))})"
                               ) from None

    def roc_table(self) -> RocTable:
        """The site ROC (thinned) as a :class:`~xray_desktop.decision.RocTable`."""
        return self._roc

    def check_model(self, model_sha256: str) -> None:
        """Refuse a profile made for another model."""
        if self.model_sha256 != model_sha256:
            raise ProfileError(
                f"site profile {self.profile_id} was made for another model (SHA-256 {self.model_sha256[:12]}…); "
                f"the model in use is {model_sha256[:12]}… — calibrate again for this model")


def _pair(value: Any) -> tuple[float, float]:
    lo, hi = value
    return _num(lo), _num(hi)


def _num(value: Any) -> float:
    return math.nan if value is None else float(value)


def _point(name: str, op: dict[str, Any]) -> SitePoint:
    t = float(op["threshold"])
    if not 0.0 <= t <= 1.0:
        raise ValueError(f"threshold of '{name}' is outside 0..1")
    return SitePoint(name, t, _num(op["sensitivity"]), _num(op["specificity"]), _pair(op["sensitivity_ci"]),
                     _pair(op["specificity_ci"]))


def thin_roc(rows: list[dict[str, float]], keep: list[float], max_rows: int = MAX_ROC_ROWS) -> list[dict[str, float]]:
    """At most ``max_rows`` rows of a ROC table: both ends, evenly spaced rows, and ``keep``'s thresholds."""
    if len(rows) <= max_rows:
        return rows
    idx = set(np.linspace(0, len(rows) - 1, max_rows - len(keep)).round().astype(int).tolist())
    ts = np.array([r["threshold"] for r in rows])
    idx.update(int(np.searchsorted(ts, t)) for t in keep if t <= ts[-1])
    return [rows[i] for i in sorted(idx)]


def new_profile_data(**fields: Any) -> dict[str, Any]:
    """A profile dict with the format header, a fresh id, the time and the user filled in."""
    now = datetime.now(UTC).isoformat(timespec="seconds")
    data: dict[str, Any] = {"format": FORMAT, "format_version": FORMAT_VERSION, "profile_id": "", "created_at": now,
                            "created_by": _who()}
    data.update(fields)
    body = json.dumps(data, sort_keys=True, allow_nan=False).encode()
    data["profile_id"] = hashlib.sha256(body).hexdigest()[:16]
    return data


def _who() -> dict[str, str]:
    from xray_desktop import __version__

    try:
        user = getpass.getuser()
    except (OSError, KeyError):  # no user name in a bare container
        user = ""
    return {"user": user, "program": f"xray-desktop {__version__}"}


def save(data: dict[str, Any], out: Path | None = None) -> Path:
    """Write the profile atomically (to ``out`` or the profiles folder); return its path."""
    SiteProfile(data)  # never write what could not be read back
    if out is None:
        stamp = data["created_at"].replace(":", "").replace("-", "")[:15]
        out = profiles_dir() / f"site-{data['model']['sha256'][:12]}-{stamp}-{data['profile_id'][:6]}.json"
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(data, indent=1, allow_nan=False) + "\n"
    fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, out)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return out


def record_creation(data: dict[str, Any], path: Path) -> Path:
    """Append one line to the audit file: who made which profile, for which model, from what."""
    audit = profiles_dir() / AUDIT_FILE
    audit.parent.mkdir(parents=True, exist_ok=True)
    op = data["operating_points"][data["default_operating_point"]]
    entry = {
        "time": datetime.now(UTC).isoformat(timespec="seconds"), "event": "site-profile-created",
        "profile_id": data["profile_id"], "path": str(Path(path).resolve()),
        "file_sha256": hashlib.sha256(Path(path).read_bytes()).hexdigest(),
        "model_sha256": data["model"]["sha256"], "source": data["source"].get("kind", ""), "n": data["n"],
        "threshold": op["threshold"], "created_by": data["created_by"],
    }
    line = (json.dumps(entry, sort_keys=True) + "\n").encode("utf-8")
    fd = os.open(audit, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, line)  # one write with O_APPEND: concurrent writers never interleave a line
        os.fsync(fd)
    finally:
        os.close(fd)
    return audit


def newest_for(model_sha256: str) -> SiteProfile | None:
    """The most recent valid profile in the profiles folder made for this model, or None."""
    folder = profiles_dir()
    best: SiteProfile | None = None
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        try:
            prof = SiteProfile.load(path)
        except ProfileError:
            continue
        if prof.model_sha256 == model_sha256 and (best is None or prof.data["created_at"] >= best.data["created_at"]):
            best = prof
    return best
