"""The ``receive`` sub-command: a headless DICOM storage SCP until SIGINT/SIGTERM.

Exit codes: 0 after a clean shutdown; 1 when the receiver cannot start (one line on
stderr); 2 for usage errors (argparse).
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from pathlib import Path
from typing import Any

from xray_desktop.argtypes import whole_number
from xray_desktop.net.config import ReceivedInstance, ReceiverConfig

PORT = whole_number(0, 65535, "a port number", name="port")


def register(sub: Any) -> None:
    """Add ``receive`` to the CLI's sub-parsers."""
    d = ReceiverConfig(Path("."))
    r = sub.add_parser("receive", help="receive DICOM images from a PACS or modality (C-STORE SCP)")
    r.add_argument("--port", type=PORT, required=True, metavar="P", help="TCP port to listen on (e.g. 11112)")
    r.add_argument("--ae-title", required=True, metavar="AE", help="this workstation's AE title (1-16 characters)")
    r.add_argument("--dir", type=Path, required=True, metavar="FOLDER",
                   help="received files go to FOLDER/<StudyInstanceUID>/<SOPInstanceUID>.dcm")
    r.add_argument("--bind", default="", metavar="ADDRESS", help="listen on this interface only (default: all)")
    r.add_argument("--allow-ae", action="append", default=[], metavar="AE",
                   help="accept only these calling AE titles (repeat, or comma-separated; default: any)")
    r.add_argument("--max-associations", type=whole_number(1), default=d.max_associations, metavar="N",
                   help=f"concurrent associations (default {d.max_associations})")
    r.add_argument("--max-dataset-mb", type=whole_number(1), default=d.max_dataset_bytes // 2**20, metavar="MB",
                   help=f"largest instance accepted (default {d.max_dataset_bytes // 2**20} MiB)")
    r.add_argument("--timeout", type=whole_number(1), default=int(d.network_timeout), metavar="S",
                   help=f"network and DIMSE timeout in seconds (default {int(d.network_timeout)})")
    r.set_defaults(func=run_receive)


def run_receive(args: argparse.Namespace) -> int:
    """``xray-desktop receive``: listen until SIGINT/SIGTERM; print one line per instance."""
    from xray_desktop.logging_setup import setup_logging
    from xray_desktop.net.receive import Receiver, ReceiverError

    allowed = tuple(a.strip() for item in args.allow_ae for a in item.split(",") if a.strip())
    config = ReceiverConfig(
        folder=args.dir, port=args.port, ae_title=args.ae_title, bind=args.bind, allowed_calling_aets=allowed,
        max_associations=args.max_associations, max_dataset_bytes=args.max_dataset_mb * 2**20,
        network_timeout=float(args.timeout), dimse_timeout=float(args.timeout),
    )  # fmt: skip
    try:
        setup_logging()
    except OSError as exc:  # a read-only log folder must not stop the receiver
        print(f"xray-desktop receive: warning: no log file ({exc.strerror or exc})", file=sys.stderr)
    stop = threading.Event()

    def announce(item: ReceivedInstance) -> None:
        # No UIDs on the console either (it often ends up in a journal): hashed tags, like the log.
        from xray_desktop.logging_setup import key_hash

        print(f"received instance {key_hash(item.sop_instance_uid)} of study {key_hash(item.study_uid)} "
              f"({item.size} bytes) from {item.calling_ae}", flush=True)

    def problem(message: str) -> None:
        print(f"xray-desktop receive: {message}", file=sys.stderr, flush=True)

    try:
        receiver = Receiver(config, on_received=announce, on_problem=problem)
        receiver.start()
    except ReceiverError as exc:
        print(f"xray-desktop receive: {exc}", file=sys.stderr)
        return 1
    previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGINT, signal.SIGTERM)}
    where = f"{args.bind or '*'}:{receiver.port}"
    print(f"listening on {where} as AE {receiver.ae_title}, writing to {args.dir} (Ctrl+C to stop)", flush=True)
    try:
        while not stop.wait(0.5):
            pass
    finally:
        receiver.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    print("receiver stopped", flush=True)
    return 0
