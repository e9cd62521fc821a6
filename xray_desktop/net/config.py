"""The receiver's plain values, importable without pynetdicom (the CLI parser uses them)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


class ReceiverError(Exception):
    """The receiver cannot start (port in use, bad AE title, folder not writable...). One line."""


@dataclass(frozen=True)
class ReceiverConfig:
    """Where to listen, what to accept, and the bounds. Times in seconds, sizes in bytes."""

    folder: Path
    port: int = 11112
    ae_title: str = "XRAY_DESKTOP"
    bind: str = ""  # "" = every interface
    allowed_calling_aets: tuple[str, ...] = ()  # empty = any calling AE title
    max_pdu_bytes: int = 128 * 1024
    max_dataset_bytes: int = 256 * 2**20
    max_associations: int = 4
    acse_timeout: float = 30.0
    dimse_timeout: float = 60.0
    network_timeout: float = 60.0


@dataclass(frozen=True)
class ReceivedInstance:
    """One stored instance, as announced to ``on_received`` (plain values; no pixels)."""

    path: Path  # the final file
    study_uid: str = field(repr=False)
    sop_instance_uid: str = field(repr=False)
    sop_class_uid: str
    transfer_syntax: str
    calling_ae: str
    size: int  # bytes of the file
