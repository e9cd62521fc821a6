"""Which models may load: the bundled one (pinned here), or one a person explicitly trusted.

The model card's SHA-256 of the model file sits unsigned beside the model, so anyone who
can replace the file can re-hash the card too (or just edit its calibration or thresholds).
The code therefore pins the bundled model by ``BUNDLED_MODEL_ID``: the SHA-256 of the
bundled card's canonical JSON (``card_identity``). The card holds the SHA-256 of the model
file and of the gate file, which ``verify_model_dir`` checks, so this one value pins the
weights, the gate, the calibration, the thresholds and the reference value together.

Any other model folder loads only after ``xray-desktop model trust DIR``, which appends a
record (who, when, which folder, both hashes) to ``trusted_models.jsonl`` in the per-user
data folder. Such a model is a *custom model*: its version string, and so the GUI, every
read it contributes to and every export and ``predict`` row, says so with its card hash.
A per-user file is as safe as the user's account: this stops a model swapped in the
program folder, not someone who controls the user's account.

When the bundled model is retrained, update ``BUNDLED_MODEL_ID``: ``tests/model/
test_trust.py`` fails and prints the new value.
"""

from __future__ import annotations

import getpass
import hashlib
import json
import logging
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from xray_desktop import settings

log = logging.getLogger(__name__)

# SHA-256 of the canonical JSON of resources/models/model_card.json (see card_identity): model 2.0.0.
BUNDLED_MODEL_ID = "6691f6fe49b734525def9d5e61f058202a3f9f35e68cab5fa90f3f9bad4ba8f8"
TRUST_FILE = "trusted_models.jsonl"


def card_identity(card_data: dict[str, Any]) -> str:
    """SHA-256 of a card's canonical JSON (sorted keys, no spaces, UTF-8): independent of layout."""
    text = json.dumps(card_data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def is_bundled(identity: str) -> bool:
    """Whether a card identity is the bundled model's."""
    return identity == BUNDLED_MODEL_ID


def custom_label(version: str, identity: str) -> str:
    """The version string of a custom model, as shown and recorded everywhere."""
    return f"{version} (custom model, card sha256 {identity[:16]})"


def trust_file() -> Path:
    """The per-user record of trusted custom models."""
    return settings.data_dir() / TRUST_FILE


def trusted_record(identity: str) -> dict[str, Any] | None:
    """The newest trust record of a card identity, or None."""
    try:
        lines = trust_file().read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return None
    except OSError as exc:
        log.warning("cannot read the trusted-models file: %s", exc.strerror)
        return None
    for line in reversed(lines):
        try:
            record = json.loads(line)
        except ValueError:
            continue  # a torn last line from a crash: ignore, never trust it
        if isinstance(record, dict) and record.get("card_sha256") == identity:
            return record
    return None


def record_trust(model_dir: Path, identity: str, model_sha256: str, name: str, version: str) -> dict[str, Any]:
    """Append a trust record (owner-only file, one JSON line, fsynced) and return it."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no passwd entry, e.g. in a container
        user = ""
    record = {
        "card_sha256": identity, "model_sha256": model_sha256, "name": name, "version": version,
        "folder": str(Path(model_dir).resolve()), "trusted_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "user": user,
    }  # fmt: skip
    path = trust_file()
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, (json.dumps(record, ensure_ascii=False) + "\n").encode("utf-8"))
        os.fsync(fd)
    finally:
        os.close(fd)
    log.info("custom model trusted: %s %s (card sha256 %s)", name, version, identity[:16])
    return record
