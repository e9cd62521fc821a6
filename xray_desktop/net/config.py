"""The receiver's plain values, importable without pynetdicom (the CLI parser uses them)."""

from __future__ import annotations

import argparse
import re
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_AE_TITLE = "XRAY_DESKTOP"
# HOST:PORT:AE. HOST is a name or IPv4 address, or an IPv6 address in brackets; the AE
# title is everything after the second colon (an AE title may itself hold a colon).
_PEER = re.compile(r"(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._-]+):([0-9]{1,5}):(.+)")


class ReceiverError(Exception):
    """The receiver cannot start (port in use, bad AE title, folder not writable...). One line."""


@dataclass(frozen=True)
class ReceiverConfig:
    """Where to listen, what to accept, and the bounds. Times in seconds, sizes in bytes."""

    folder: Path
    port: int = 11112
    ae_title: str = DEFAULT_AE_TITLE
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


@dataclass(frozen=True)
class Peer:
    """A remote DICOM application entity: where to send (``--send HOST:PORT:AE``)."""

    host: str
    port: int
    ae_title: str

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.ae_title}@{host}:{self.port}"


def check_ae_title(title: str, what: str = "AE title") -> str:
    """A valid AE title or ``ReceiverError``: 1-16 printable ASCII characters, no backslash.

    Leading and trailing spaces are not significant in DICOM and are dropped, so an
    all-space title is empty and refused.
    """
    t = title.strip()
    why = ""
    if not 1 <= len(t) <= 16:
        why = ("is empty" if not title else "is only spaces") if not t else f"has {len(t)} characters"
    elif not t.isascii() or not t.isprintable():
        why = "holds a control or non-ASCII character"
    elif "\\" in t:
        why = "holds a backslash"
    if why:
        shown = f'"{title}"' if title.isprintable() else repr(title)  # no doubled backslash in a dialog
        raise ReceiverError(f"{what} must be 1 to 16 ASCII characters without backslash; {shown} {why}")
    return t


def check_port(value: int | str, what: str = "port") -> int:
    """A TCP port 1-65535 or ``ReceiverError``."""
    try:
        port = int(str(value).strip())
    except ValueError:
        raise ReceiverError(f"{what} must be a number from 1 to 65535, got {value!r}") from None
    if not 1 <= port <= 65535:
        raise ReceiverError(f"{what} must be from 1 to 65535, got {port}")
    return port


def parse_ae_list(text: str) -> tuple[str, ...]:
    """Comma-separated AE titles (each checked; an AE title may hold a space); "" is none."""
    titles = [t for t in (part.strip() for part in text.split(",")) if t]
    return tuple(check_ae_title(t, "allowed calling AE title") for t in titles)


def parse_peer(text: str) -> Peer:
    """``HOST:PORT:AE`` (IPv6 as ``[ADDR]:PORT:AE``) or ``ReceiverError`` saying what is wrong."""
    m = _PEER.fullmatch(text.strip())
    if m is None:
        raise ReceiverError(f"expected HOST:PORT:AE (e.g. pacs.example.org:104:PACS), got {text!r}")
    host, port, ae = m.groups()
    return Peer(host.strip("[]"), check_port(port), check_ae_title(ae, "the peer's AE title"))


def peer_argument(text: str) -> Peer:
    """argparse ``type`` for ``--send HOST:PORT:AE`` (a bad value is a usage error, exit 2)."""
    try:
        return parse_peer(text)
    except ReceiverError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def ae_argument(text: str) -> str:
    """argparse ``type`` for an AE title option."""
    try:
        return check_ae_title(text)
    except ReceiverError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def add_send_options(parser: argparse.ArgumentParser) -> None:
    """``--send`` and ``--calling-ae``, for the commands that write SRs (``predict``, ``export``)."""
    parser.add_argument("--send", type=peer_argument, metavar="HOST:PORT:AE",
                        help="with --dicom-sr: then send the SRs to this PACS (C-STORE)")
    parser.add_argument("--calling-ae", type=ae_argument, metavar="AE",
                        help=f"our AE title when sending (default: the GUI's DICOM receive AE title, "
                             f"else {DEFAULT_AE_TITLE})")
