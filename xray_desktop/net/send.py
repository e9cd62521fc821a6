"""C-STORE SCU: send the SRs a run wrote to a PACS (``--send HOST:PORT:AE``). No Qt.

One association for all files, with a presentation context per SOP class found in them
(Comprehensive SR, as ``net.sr`` writes) offering the file's own transfer syntax and the two
uncompressed ones. Every wait is bounded: TCP connect, association, each store's response.
A refused or failed association raises ``SendError`` (one line); a store the peer refuses
is a failed ``SendResult`` and the run goes on with the next file. No PHI is logged.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from xray_desktop.logging_setup import key_hash
from xray_desktop.net.config import Peer, check_ae_title

log = logging.getLogger(__name__)

TIMEOUT_S = 30.0  # TCP connect, association, and each C-STORE response
WARNINGS = (0xB000, 0xB006, 0xB007)  # stored, with a remark (PS3.4 B.2.3)


class SendError(Exception):
    """No association: the peer is unreachable, refused it, or dropped it. One line."""


@dataclass(frozen=True)
class SendResult:
    """What became of one file."""

    path: Path
    ok: bool  # stored (success or warning status)
    detail: str  # "stored", "stored with warning 0xB000 (…)", "failed: status 0xA700 (…)", "not sent: …"


def send_files(paths: Iterable[Path], peer: Peer, calling_ae: str, *, timeout: float = TIMEOUT_S,
               report: Callable[[SendResult], None] | None = None) -> list[SendResult]:
    """C-STORE every file to ``peer``; ``report`` is called per file as it is done.

    Raises ``SendError`` when no association could be made (then nothing was sent), and
    after the files are done when the association broke midway (the results say which
    files were stored).
    """
    import pydicom
    from pydicom.uid import ExplicitVRLittleEndian, ImplicitVRLittleEndian
    from pynetdicom import AE, _config, evt

    _config.LOG_HANDLER_LEVEL = "none"  # pynetdicom's standard handlers log UIDs
    calling = check_ae_title(calling_ae, "calling AE title")
    results: list[SendResult] = []

    def done(result: SendResult) -> None:
        results.append(result)
        if report is not None:
            report(result)

    datasets: list[tuple[Path, Any]] = []
    contexts: dict[str, list[str]] = {}
    for path in paths:
        try:
            ds = pydicom.dcmread(path)
            sop_class, syntax = str(ds.SOPClassUID), str(ds.file_meta.TransferSyntaxUID)
            if "SOPInstanceUID" not in ds:
                raise ValueError("no SOP Instance UID")
        except Exception as exc:  # noqa: BLE001 - pydicom raises many types on a bad file
            done(SendResult(path, False, f"not sent: not a readable DICOM file ({type(exc).__name__})"))
            continue
        offered = contexts.setdefault(sop_class, [])
        for ts in (syntax, str(ExplicitVRLittleEndian), str(ImplicitVRLittleEndian)):
            if ts not in offered:
                offered.append(ts)
        datasets.append((path, ds))
    if not datasets:
        return results

    ae = AE(ae_title=calling)
    ae.connection_timeout = ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = timeout
    for sop_class, syntaxes in contexts.items():
        ae.add_requested_context(sop_class, syntaxes)
    seen: dict[str, Any] = {}

    def on_open(_event: Any) -> None:
        seen["connected"] = True

    def on_acse(event: Any) -> None:
        primitive = event.primitive
        if getattr(primitive, "result", None) in (0x01, 0x02):  # A-ASSOCIATE-RJ
            seen["rejected"] = f"{primitive.reason_str.lower()} ({primitive.source_str.lower()})"

    handlers = [(evt.EVT_CONN_OPEN, on_open), (evt.EVT_ACSE_RECV, on_acse)]
    assoc = ae.associate(peer.host, peer.port, ae_title=peer.ae_title, evt_handlers=handlers)
    if not assoc.is_established:
        if "rejected" in seen:
            why = f"association rejected by {peer}: {seen['rejected']}"
        elif assoc.is_aborted and seen.get("connected"):
            why = f"{peer} accepted the connection but none of the offered storage classes " \
                  "(or aborted the association)"
        elif seen.get("connected"):
            why = f"no answer from {peer} within {timeout:g} s"
        else:
            why = f"cannot connect to {peer} (refused, unreachable or no answer within {timeout:g} s)"
        log.warning("send: %s", why)
        raise SendError(why)
    broken = ""
    try:
        for path, ds in datasets:
            if broken:
                done(SendResult(path, False, f"not sent: {broken}"))
                continue
            done(_store_one(assoc, path, ds))
            if not assoc.is_established:
                broken = "the association ended early"
    finally:
        if assoc.is_established:
            assoc.release()
    stored = sum(r.ok for r in results)
    log.info("send: %d of %d files stored at the peer", stored, len(results))
    if broken:
        raise SendError(f"{peer}: {broken} ({stored} of {len(results)} files stored)")
    return results


def _store_one(assoc: Any, path: Path, ds: Any) -> SendResult:
    from pynetdicom.status import STORAGE_SERVICE_CLASS_STATUS as NAMES
    from pynetdicom.status import code_to_category

    try:
        status = assoc.send_c_store(ds)
    except ValueError:  # no accepted presentation context for this class / syntax
        name = getattr(ds.SOPClassUID, "name", str(ds.SOPClassUID))
        return SendResult(path, False, f"not sent: the peer does not accept {name}")
    code = getattr(status, "Status", None)
    if code is None:  # no response within the DIMSE timeout, or the peer aborted
        return SendResult(path, False, "failed: no response (timed out or aborted)")
    code = int(code)
    label = NAMES.get(code, (code_to_category(code), ""))[1] or code_to_category(code)
    log.info("send: instance %s status 0x%04X", key_hash(str(ds.SOPInstanceUID)), code)
    if code == 0x0000:
        return SendResult(path, True, "stored")
    if code in WARNINGS:
        return SendResult(path, True, f"stored with warning 0x{code:04X} ({label})")
    return SendResult(path, False, f"failed: status 0x{code:04X} ({label})")
