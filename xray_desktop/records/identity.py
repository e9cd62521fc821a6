"""Which reads belong to an image: the study key, checked against the file's content.

A study key is the SOP Instance UID, else the file's SHA-256. UIDs are meant to be unique,
but collide in real life (bad anonymisers, modality bugs, a copy edited and re-saved), and a
read must never carry over to a different image. So a read applies to an image only when
its ``file_sha256`` matches: when the UID already has reads of other content (or another
image with that UID came first in the same work list), the image is a new one, keyed
``collision_key(uid, sha256)``, and is shown with ``COLLISION_WARNING``. ``Store.add_reads``
applies the same rule under its write lock, so two workstations racing on one UID still
keep their reads apart.

A read of a study (issue 14) is keyed by the StudyInstanceUID (a non-DICOM file's SHA-256)
and lists its images (``image_keys``/``image_sha256s``). Its content is that set of images:
reads under the UID (or under one of its collision keys) apply when they share an image with
the study, so an image added to the study later (a lateral received after the read) keeps the
read; a study with that UID and no image in common is another study, keyed
``collision_key(uid, first image's sha256)``. Reads of single files from before v4 keep their
keys: :func:`lookup_study` falls back to them, image by image, when the study has no read.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from xray_desktop.records.reads import Read, StoreError


class ReadsLookup(Protocol):
    """What :func:`resolve` needs of a ``Store`` (store.py imports this module, not the reverse)."""

    @property
    def conn(self) -> sqlite3.Connection: ...

    def latest_for(self, study_key: str) -> Read | None: ...


COLLISION_WARNING = (
    "UID collision: another image with this SOP Instance UID has different content; "
    "this one is treated as a new image"
)


def collision_key(study_key: str, file_sha256: str) -> str:
    """The key of an image whose UID is taken by other content."""
    return f"{study_key}#sha256:{file_sha256}"


def content_key(conn: sqlite3.Connection, study_key: str, file_sha256: str) -> str:
    """``study_key``, or its collision key when the reads under it are all of other content."""
    if not file_sha256 or study_key == file_sha256:
        return study_key
    hashes = {row[0] for row in conn.execute("SELECT DISTINCT file_sha256 FROM reads WHERE study_key = ?",
                                             (study_key,))}  # fmt: skip
    return study_key if not hashes or file_sha256 in hashes else collision_key(study_key, file_sha256)


def study_content_key(conn: sqlite3.Connection, study_key: str, image_sha256s: Sequence[str]) -> str:
    """The key a study's reads live under: ``study_key`` or the collision key whose reads share an image."""
    mine = set(image_sha256s)
    if not mine or [study_key] == list(image_sha256s):  # no content known, or a single file keyed by its hash
        return study_key
    content: dict[str, set[str]] = {}
    rows = conn.execute(  # the key itself and its collision keys (a range, so the index serves it)
        "SELECT study_key, file_sha256, image_sha256s FROM reads WHERE study_key = ? OR (study_key >= ? AND "
        "study_key < ?)", (study_key, f"{study_key}#sha256:", f"{study_key}#sha256;"))  # fmt: skip
    for key, file_sha, hashes in rows:
        content.setdefault(key, set()).update([file_sha, *hashes.split()])
    if study_key not in content or content[study_key] & mine:
        return study_key
    shared = sorted(k for k, v in content.items() if v & mine)
    return shared[0] if shared else collision_key(study_key, image_sha256s[0])


@dataclass(frozen=True)
class Resolved:
    """Where an image's (or a study's) reads live, its latest read, and whether its UID collides.

    ``per_image``: the read is an older read of one of a study's files, under that file's key.
    """

    key: str
    read: Read | None
    collision: bool
    per_image: bool = False

    @property
    def warning(self) -> str:
        return COLLISION_WARNING if self.collision else ""


def resolve(store: ReadsLookup, study_key: str, file_sha256: str, first_seen: dict[str, str] | None = None) -> Resolved:
    """The key and latest read of an image (a ``Store``), by UID *and* content.

    ``first_seen`` (UID -> SHA-256 of the first image with it, kept by the caller for one
    work list) makes a second image with a taken UID a new one even before anything is read.
    """
    found = lookup(store, study_key, file_sha256)
    return claim(store, found, study_key, file_sha256, first_seen) if first_seen is not None else found


def lookup(store: ReadsLookup, study_key: str, file_sha256: str) -> Resolved:
    """The store's part of :func:`resolve` (any thread with its own connection may run it)."""
    try:
        key = content_key(store.conn, study_key, file_sha256)
    except sqlite3.Error as exc:
        raise StoreError(f"reads database error: {exc}") from exc
    return Resolved(key, store.latest_for(key), key != study_key)


def lookup_study(store: ReadsLookup, study_key: str, images: Sequence[tuple[str, str]]) -> Resolved:
    """The latest read of a study (key, [(image key, file SHA-256)] in study order).

    A read of the study comes first; without one, the newest read of one of its files (a
    per-file read of an older database, or of the per-file CLI), found by the file rule.
    """
    try:
        key = study_content_key(store.conn, study_key, [sha for _, sha in images if sha])
    except sqlite3.Error as exc:
        raise StoreError(f"reads database error: {exc}") from exc
    found = Resolved(key, store.latest_for(key), key != study_key)
    if found.read is not None:
        return found
    per_file = [r for r in (lookup(store, k, sha) for k, sha in images if k != study_key) if r.read is not None]
    if per_file:
        best = max(per_file, key=lambda r: r.read.id)  # type: ignore[union-attr]
        return Resolved(best.key, best.read, best.collision, per_image=True)
    return found


def claim(store: ReadsLookup, found: Resolved, study_key: str, file_sha256: str,
          first_seen: dict[str, str]) -> Resolved:
    """The work list's part of :func:`resolve`: the first image listed with a UID owns it."""
    if study_key == file_sha256:
        return found
    first = first_seen.setdefault(study_key, file_sha256)
    if not found.collision and first != file_sha256:
        # Nothing read under this UID from our content yet: the first image listed owns it.
        owned = store.latest_for(study_key)
        if owned is None or owned.file_sha256 != file_sha256:
            key = collision_key(study_key, file_sha256)
            return Resolved(key, store.latest_for(key), True)
    return found
