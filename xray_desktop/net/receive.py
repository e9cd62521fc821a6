"""A DICOM C-STORE receiver (storage SCP) with C-ECHO, for films sent by a PACS or modality.

Core service, no Qt: ``Receiver(config, on_received=...)``; ``start()`` listens on a
pynetdicom server thread, ``stop()`` closes it. Each instance is written atomically (temp
file in its study folder, fsync, rename, fsync the folder) as
``<folder>/<StudyInstanceUID>/<SOPInstanceUID>.dcm``, byte for byte as the peer encoded it
(pixel data is never decoded or re-encoded), then announced through ``on_received``.

Threads: ``on_received`` and ``on_problem`` run on a pynetdicom association thread, one
call at a time per association, possibly concurrently across associations. A GUI wraps
them by emitting a Qt signal (delivered queued to the GUI thread); a callback must not
block for long (the peer waits for its C-STORE response) and its exceptions are logged,
never passed to the peer.

Negotiation: the storage classes a chest film arrives as (``STORAGE_CLASSES``), each in
exactly the transfer syntaxes the loader decodes (``decodable_transfer_syntaxes``), plus
Verification. Anything else is refused per presentation context at association time.
No PHI is logged: UIDs appear only as ``key_hash`` tags.
"""

from __future__ import annotations

import io
import logging
import os
import re
import secrets
import time
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydicom.dataset import Dataset
from pydicom.filereader import read_dataset
from pydicom.uid import UID, AllTransferSyntaxes, DeflatedExplicitVRLittleEndian

from xray_desktop.io.dicom_pixels import check_syntax_supported
from xray_desktop.io.errors import StudyLoadError
from xray_desktop.logging_setup import key_hash
from xray_desktop.net.config import ReceivedInstance, ReceiverConfig, ReceiverError, check_ae_title

__all__ = [
    "ReceivedInstance", "Receiver", "ReceiverConfig", "ReceiverError", "check_ae_title", "decodable_transfer_syntaxes",
]

log = logging.getLogger(__name__)

VERIFICATION = "1.2.840.10008.1.1"
STORAGE_CLASSES = {
    "1.2.840.10008.5.1.4.1.1.1": "Computed Radiography Image Storage",
    "1.2.840.10008.5.1.4.1.1.1.1": "Digital X-Ray Image Storage - For Presentation",
    "1.2.840.10008.5.1.4.1.1.1.1.1": "Digital X-Ray Image Storage - For Processing",
    "1.2.840.10008.5.1.4.1.1.7": "Secondary Capture Image Storage",
    "1.2.840.10008.5.1.4.1.1.7.1": "Multi-frame Single Bit Secondary Capture Image Storage",
    "1.2.840.10008.5.1.4.1.1.7.2": "Multi-frame Grayscale Byte Secondary Capture Image Storage",
    "1.2.840.10008.5.1.4.1.1.7.3": "Multi-frame Grayscale Word Secondary Capture Image Storage",
    "1.2.840.10008.5.1.4.1.1.7.4": "Multi-frame True Color Secondary Capture Image Storage",
}
# C-STORE statuses (PS3.4 B.2.3).
SUCCESS = 0x0000
OUT_OF_RESOURCES = 0xA700
DATASET_MISMATCH = 0xA900
CANNOT_UNDERSTAND = 0xC000

_UID = re.compile(r"[0-9][0-9.]{0,63}")
_UNSAFE = re.compile(r"[^0-9A-Za-z._-]")
NO_STUDY_FOLDER = "no-study-uid"
_HEADER_BYTES = 16 * 2**20  # inflated bytes read from a deflated data set to find its UIDs
STOP_TIMEOUT_S = 3.0  # for orderly aborts at stop, before the sockets left are shut down


def decodable_transfer_syntaxes() -> list[str]:
    """Every transfer syntax pydicom knows that the loader can decode, in pydicom's order."""
    out = []
    for uid in AllTransferSyntaxes:
        try:
            check_syntax_supported(uid)
        except StudyLoadError:
            continue
        out.append(str(uid))
    return out


def study_folder_name(study_uid: str) -> str:
    """A safe folder name for a study UID: the UID when it is one, else a sanitised form."""
    if _UID.fullmatch(study_uid):
        return study_uid
    cleaned = _UNSAFE.sub("_", study_uid)[:64].strip(".")
    return cleaned or NO_STUDY_FOLDER


class Receiver:
    """The storage SCP. Use as a context manager, or ``start()`` / ``stop()``."""

    def __init__(
        self,
        config: ReceiverConfig,
        on_received: Callable[[ReceivedInstance], None] | None = None,
        on_problem: Callable[[str], None] | None = None,
    ) -> None:
        self.config = config
        self.on_received = on_received
        self.on_problem = on_problem
        self.ae_title = check_ae_title(config.ae_title)
        self.allowed = tuple(check_ae_title(a, "allowed calling AE title") for a in config.allowed_calling_aets)
        self.transfer_syntaxes = decodable_transfer_syntaxes()
        self._ae: Any = None
        self._server: Any = None

    # -- lifecycle ---------------------------------------------------------------------
    def start(self) -> None:
        """Bind and listen on a background thread; ``ReceiverError`` when that fails."""
        import threading

        from pynetdicom import AE, _config, evt

        from xray_desktop.net.guard import BoundedServer, Limits

        _config.LOG_HANDLER_LEVEL = "none"  # pynetdicom's standard handlers log UIDs
        folder = self.config.folder
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ReceiverError(f"cannot create {folder}: {exc.strerror or exc}") from None
        if not os.access(folder, os.W_OK | os.X_OK):
            raise ReceiverError(f"folder {folder} is not writable")
        remove_stale_parts(folder)
        c = self.config
        ae = AE(ae_title=self.ae_title)
        ae.maximum_pdu_size = c.max_pdu_bytes
        ae.maximum_associations = c.max_associations
        ae.acse_timeout, ae.dimse_timeout, ae.network_timeout = c.acse_timeout, c.dimse_timeout, c.network_timeout
        ae.require_calling_aet = list(self.allowed)
        ae.require_called_aet = True
        ae.add_supported_context(VERIFICATION)
        for sop_class in STORAGE_CLASSES:
            ae.add_supported_context(sop_class, self.transfer_syntaxes)
        limits = Limits(c.max_pdu_bytes, c.max_dataset_bytes, c.network_timeout, c.max_associations + 4)
        handlers = [
            (evt.EVT_C_STORE, self._on_store),
            (evt.EVT_C_ECHO, self._on_echo),
            (evt.EVT_REJECTED, self._on_rejected),
        ]
        try:
            server = BoundedServer(
                ae, (c.bind, c.port), self.ae_title, ae.supported_contexts,
                evt_handlers=handlers, limits=limits, on_violation=self._problem,
            )  # fmt: skip
        except OSError as exc:
            where = f"{c.bind or '*'}:{c.port}"
            raise ReceiverError(f"cannot listen on {where}: {exc.strerror or exc}") from None
        ae._servers.append(server)  # as AE.start_server would: server.shutdown() removes it
        # A short poll: stop() waits for the serve loop to notice (socketserver's default is 0.5 s).
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, name="dicom-receiver",
                         daemon=True).start()
        self._ae, self._server = ae, server
        log.info("receiver listening on port %d as %s (%d transfer syntaxes)", self.port, self.ae_title,
                 len(self.transfer_syntaxes))

    @property
    def port(self) -> int:
        """The port actually bound (useful with port 0)."""
        return int(self._server.server_address[1]) if self._server is not None else self.config.port

    @property
    def running(self) -> bool:
        """True between a successful ``start()`` and ``stop()``."""
        return self._server is not None

    def stop(self) -> None:
        """Stop listening (the port is free at once) and end associations in progress.

        Established associations get an A-ABORT; a connection that has not asked for one
        yet is closed. Bounded: returns within about ``STOP_TIMEOUT_S`` + 1 s. Files
        already stored stay complete (each is renamed into place only when whole).
        """
        server, self._ae, self._server = self._server, None, None
        if server is not None:
            server.stop(STOP_TIMEOUT_S)
            log.info("receiver stopped")

    def __enter__(self) -> Receiver:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- events (pynetdicom association threads) ---------------------------------------
    def _problem(self, message: str) -> None:
        log.warning("receiver: %s", message)
        if self.on_problem is not None:
            try:
                self.on_problem(message)
            except Exception as exc:  # noqa: BLE001 - the listener must survive its callbacks
                log.error("on_problem callback failed: %s", type(exc).__name__)

    def _on_echo(self, event: Any) -> int:
        log.info("C-ECHO from %s", _calling(event))
        return SUCCESS

    def _on_rejected(self, event: Any) -> None:
        self._problem(f"association from {_calling(event)} rejected")

    def _on_store(self, event: Any) -> int:
        try:
            return self._store(event)
        except OSError as exc:
            self._problem(f"cannot write a received instance: {exc.strerror or type(exc).__name__}")
            return OUT_OF_RESOURCES
        except Exception as exc:  # noqa: BLE001 - a bad data set gets a failure status, not a dead thread
            self._problem(f"cannot store a received instance ({type(exc).__name__})")
            return CANNOT_UNDERSTAND

    def _store(self, event: Any) -> int:
        req = event.request
        sop_uid = str(req.AffectedSOPInstanceUID or "").strip()
        sop_class = str(req.AffectedSOPClassUID or "").strip()
        calling = _calling(event)
        if not _UID.fullmatch(sop_uid):
            self._problem(f"instance from {calling} refused: invalid SOP Instance UID")
            return CANNOT_UNDERSTAND
        syntax = UID(event.context.transfer_syntax)
        buf: io.BytesIO = req.DataSet
        try:
            header = _read_header(buf, syntax)
        except Exception:  # noqa: BLE001 - pydicom raises many types on garbage
            self._problem(f"instance {key_hash(sop_uid)} from {calling} refused: data set cannot be parsed")
            return CANNOT_UNDERSTAND
        uids = (str(header.get("SOPInstanceUID", "")).strip(), str(header.get("SOPClassUID", "")).strip())
        if uids != (sop_uid, sop_class):
            self._problem(f"instance {key_hash(sop_uid)} from {calling} refused: data set UIDs differ from the request")
            return DATASET_MISMATCH
        study_uid = str(header.get("StudyInstanceUID", "") or "").strip()
        meta = event.file_meta
        meta.SourceApplicationEntityTitle = calling
        folder = self.config.folder / study_folder_name(study_uid)
        path, size = _write_atomically(folder, f"{sop_uid}.dcm", meta, buf.getbuffer())
        log.info("stored instance %s of study %s from %s (%d bytes, %s)", key_hash(sop_uid), key_hash(study_uid),
                 calling, size, syntax.name)
        if self.on_received is not None:
            item = ReceivedInstance(path, study_uid, sop_uid, sop_class, str(syntax), calling, size)
            try:
                self.on_received(item)
            except Exception as exc:  # noqa: BLE001 - the file is stored; the peer gets success regardless
                log.error("on_received callback failed: %s", type(exc).__name__)
        return SUCCESS


STALE_PART_S = 3600.0


def remove_stale_parts(folder: Path) -> int:
    """Delete temp files a killed receiver left in the study folders (an hour old or more)."""
    cutoff = time.time() - STALE_PART_S
    removed = 0
    for part in folder.glob("*/.*.part"):
        try:
            if part.is_file() and part.stat().st_mtime < cutoff:
                part.unlink()
                removed += 1
        except OSError:
            pass  # best effort: never refuse to start over litter
    return removed


def _calling(event: Any) -> str:
    """The peer's calling AE title, made safe for a log line."""
    try:
        title = str(event.assoc.requestor.ae_title)
    except Exception:  # noqa: BLE001 - a log label must never fail
        return "?"
    return "".join(ch if ch.isprintable() else "?" for ch in title.strip())[:16] or "?"


def _stop_after_ids(tag: Any, vr: Any, length: Any) -> bool:
    return int(tag) > 0x0020FFFF  # SOP class/instance (0008,....) and study UID (0020,000D) come first


def _read_header(buf: io.BytesIO, syntax: UID) -> Dataset:
    """The data set's elements up to group 0x0020 (UIDs), without reading pixel data."""
    if syntax == DeflatedExplicitVRLittleEndian:
        view = buf.getbuffer()
        try:
            inflated = zlib.decompressobj(-zlib.MAX_WBITS).decompress(view[: _HEADER_BYTES], _HEADER_BYTES)
        finally:
            view.release()
        fp: io.BytesIO = io.BytesIO(inflated)
    else:
        fp = buf
        fp.seek(0)
    try:
        return read_dataset(fp, syntax.is_implicit_VR, syntax.is_little_endian, stop_when=_stop_after_ids)
    finally:
        buf.seek(0)


def _write_atomically(folder: Path, name: str, meta: Dataset, body: memoryview) -> tuple[Path, int]:
    """Preamble + file meta + the data set as received, via a temp file in ``folder``."""
    from pynetdicom.dsutils import encode_file_meta

    folder.mkdir(parents=True, exist_ok=True)
    final = folder / name
    tmp = folder / f".{name}.{secrets.token_hex(4)}.part"
    try:
        with open(tmp, "xb") as fh:
            fh.write(b"\0" * 128 + b"DICM")
            fh.write(encode_file_meta(meta))
            fh.write(body)
            fh.flush()
            os.fsync(fh.fileno())
            size = fh.tell()
        os.replace(tmp, final)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    finally:
        body.release()
    if os.name == "posix":
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    return final, size
