"""Bounds pynetdicom does not enforce by itself on an acceptor.

pynetdicom reads whatever PDU length a peer declares (up to 4 GiB) into memory, leaves the
accepted sockets blocking without a timeout (a peer that connects and sends nothing, or
half a PDU, holds its thread forever) and spawns a thread for every TCP connection before
any association limit is checked. This module adds, per connection:

- a socket timeout (no single read waits longer than the network timeout);
- a deadline per PDU (a peer trickling one byte a minute cannot hold a slot);
- a cap on each PDU's declared length, before a byte of its body is read;
- a cap on the bytes of one DIMSE data set (and of one command set);

and, per server, a cap on open connections (a flood of sockets is closed at accept).
A violation raises ``OSError`` inside pynetdicom's PDU reader, which pynetdicom treats as
the transport closing: the association ends and only that peer is affected.

Stopping (``BoundedServer.stop``): pynetdicom's ``AE.shutdown()`` sends an A-ABORT request
to every connection, and its state machine raises ``InvalidEventError`` on its DUL thread
for one that has no association to abort (connected but no A-ASSOCIATE-RQ yet, Sta2; or
already closed, Sta1/Sta13). ``StoppableStateMachine`` ends those as PS3.8 does; ``stop``
closes the listening socket first and bounds the whole stop in time.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import socket
import struct
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pynetdicom.fsm import ACTIONS, TRANSITION_TABLE, StateMachine
from pynetdicom.pdu_primitives import A_ABORT, A_ASSOCIATE, A_P_ABORT, A_RELEASE, P_DATA
from pynetdicom.transport import AssociationSocket, RequestHandler, ThreadedAssociationServer

log = logging.getLogger(__name__)

P_DATA_TF = 0x04
A_ASSOCIATE_RQ = 0x01
# An A-ASSOCIATE-RQ with 128 presentation contexts of a few transfer syntaxes each is
# ~30 KB; other control PDUs are a few bytes.
MAX_ASSOCIATE_PDU = 256 * 1024
MAX_CONTROL_PDU = 64 * 1024
MAX_COMMAND_BYTES = 64 * 1024  # a DIMSE command set is a few hundred bytes
MIN_RATE = 32 * 1024  # bytes per second a PDU body must at least arrive at


@dataclass(frozen=True)
class Limits:
    """Per-connection bounds (see the module docstring)."""

    max_pdu_bytes: int
    max_dataset_bytes: int
    network_timeout: float
    max_connections: int


class LimitExceeded(OSError):
    """A peer broke one of our bounds; pynetdicom closes the association."""


class GuardedSocket(AssociationSocket):
    """An ``AssociationSocket`` whose reads are bounded in size and time.

    pynetdicom reads a PDU as ``recv(6)`` (type and length) then ``recv(length)``; that
    is the only place it reads, so checking here sees every byte a peer sends.
    """

    limits: Limits
    on_violation: Callable[[str], None]
    _pdu_type: int | None
    _dataset_bytes: int
    _command_bytes: int

    @classmethod
    def adopt(cls, sock: AssociationSocket, limits: Limits, on_violation: Callable[[str], None]) -> GuardedSocket:
        """Turn pynetdicom's socket into a guarded one in place (it is already wired to its association)."""
        sock.__class__ = cls
        guarded: GuardedSocket = sock  # type: ignore[assignment]
        guarded.limits = limits
        guarded.on_violation = on_violation
        guarded._pdu_type = None
        guarded._dataset_bytes = 0
        guarded._command_bytes = 0
        return guarded

    def recv(self, nr_bytes: int) -> bytearray:
        if self._pdu_type is None:
            data = self._read(nr_bytes)
            if len(data) == 6:
                pdu_type, _, length = struct.unpack(">BBL", bytes(data))
                self._check_length(pdu_type, length)
                self._pdu_type = pdu_type
            return data
        pdu_type, self._pdu_type = self._pdu_type, None
        data = self._read(nr_bytes)
        if pdu_type == P_DATA_TF:
            self._account(data)
        return data

    def _violation(self, message: str) -> LimitExceeded:
        try:
            self.on_violation(message)
        except Exception as exc:  # noqa: BLE001 - a reporting failure must not mask the refusal
            log.error("violation callback failed: %s", type(exc).__name__)
        return LimitExceeded(message)

    def _check_length(self, pdu_type: int, length: int) -> None:
        if pdu_type == P_DATA_TF:
            cap = self.limits.max_pdu_bytes
        elif pdu_type == A_ASSOCIATE_RQ:
            cap = MAX_ASSOCIATE_PDU
        else:
            cap = MAX_CONTROL_PDU
        if length > cap:
            raise self._violation(f"peer declared a PDU of {length} bytes (type 0x{pdu_type:02X}, limit {cap})")

    def _read(self, nr_bytes: int) -> bytearray:
        """Read up to ``nr_bytes``; short only when the peer closed. Deadline-bound."""
        sock = self.socket
        if sock is None:
            return bytearray()
        deadline = time.monotonic() + self.limits.network_timeout + nr_bytes / MIN_RATE
        buf = bytearray()
        while len(buf) < nr_bytes:
            if time.monotonic() > deadline:
                raise self._violation(f"peer too slow: {len(buf)} of {nr_bytes} bytes of a PDU before the deadline")
            chunk = sock.recv(min(65536, nr_bytes - len(buf)))  # socket timeout: network_timeout
            if not chunk:
                break
            buf += chunk
        return buf

    def _account(self, body: bytearray) -> None:
        """Sum the presentation data values of a P-DATA-TF body per message."""
        pos = 0
        while pos + 6 <= len(body):
            item_len = int.from_bytes(body[pos : pos + 4], "big")
            control = body[pos + 5]
            value_len = max(item_len - 2, 0)
            if control & 0x01:  # command fragment
                self._command_bytes += value_len
                if self._command_bytes > MAX_COMMAND_BYTES:
                    raise self._violation(f"DIMSE command set over {MAX_COMMAND_BYTES} bytes")
                if control & 0x02:
                    self._command_bytes = 0
            else:
                self._dataset_bytes += value_len
                if self._dataset_bytes > self.limits.max_dataset_bytes:
                    cap = self.limits.max_dataset_bytes
                    limit = f"{cap / 2**20:g} MiB" if cap >= 2**20 else f"{cap} bytes"
                    raise self._violation(f"data set larger than the {limit} limit")
                if control & 0x02:
                    self._dataset_bytes = 0
            pos += 4 + item_len


# The DUL events a local service-user primitive raises, and that primitive's types.
_LOCAL_REQUESTS: dict[str, tuple[type, ...]] = {
    "Evt7": (A_ASSOCIATE,), "Evt8": (A_ASSOCIATE,), "Evt9": (P_DATA,),
    "Evt11": (A_RELEASE,), "Evt14": (A_RELEASE,), "Evt15": (A_ABORT, A_P_ABORT),
}


class StoppableStateMachine(StateMachine):
    """pynetdicom's DUL state machine, for which a local request never kills the DUL thread.

    PS3.8's state table (9-10) has no A-ABORT request in Sta1, Sta2 or Sta13 (no
    association exists to abort), nor a P-DATA or release request once the connection is
    closing. pynetdicom raises ``InvalidEventError`` out of the DUL thread then: on
    ``AE.shutdown()`` with a peer connected but silent, or when a C-STORE response is
    queued just as an abort closes the connection. Here such a request is dropped, and an
    A-ABORT request in Sta2 closes the transport and returns to Sta1 (AA-2, the action
    PS3.8 takes in Sta2 when the ARTIM timer expires). This runs on the DUL thread, the
    only one that changes the state, so the check and the action cannot race.
    """

    associate_seen: bool  # an A-ASSOCIATE indication went to the association thread
    woken: bool

    @classmethod
    def adopt(cls, machine: StateMachine) -> StoppableStateMachine:
        """Turn a DUL's state machine into this class in place (the DUL holds the reference)."""
        machine.__class__ = cls
        stoppable: StoppableStateMachine = machine  # type: ignore[assignment]
        stoppable.associate_seen = False
        stoppable.woken = False
        return stoppable

    def do_action(self, event: str) -> None:
        if event not in _LOCAL_REQUESTS or (event, self.current_state) in TRANSITION_TABLE:
            super().do_action(event)
            if event == "Evt6" and self.current_state == "Sta3":
                self.associate_seen = True
            return
        dul = self.dul
        # Consume the primitive (a valid action would); pynetdicom re-reads the queue's head
        # every loop, so one left there would raise this event forever.
        with contextlib.suppress(IndexError, queue.Empty):
            if isinstance(dul.to_provider_queue.queue[0], _LOCAL_REQUESTS[event]):
                dul.to_provider_queue.get(block=False)
        log.debug("DUL: %s in %s has no association to act on; dropped", event, self.current_state)
        if event != "Evt15":
            return
        if self.current_state == "Sta2":
            self.transition(ACTIONS["AA-2"][1](dul))  # close the transport, stop the DUL: Sta1
        self.wake_acceptor()

    def wake_acceptor(self) -> None:
        """End the acceptor's wait for an A-ASSOCIATE indication that can no longer come.

        Call on the DUL thread, or once it has ended. None is what that wait returns on its
        timeout (acse_timeout), so the association thread takes pynetdicom's own path out.
        """
        if self.dul.assoc.is_acceptor and not self.associate_seen and not self.woken:
            self.woken = True
            self.dul.to_user_queue.put(None)


class GuardedHandler(RequestHandler):
    """pynetdicom's request handler with a socket timeout and a guarded socket."""

    server: BoundedServer

    def handle(self) -> None:
        self.request.settimeout(self.server.limits.network_timeout)
        super().handle()

    def _create_association(self) -> Any:
        assoc = super()._create_association()
        GuardedSocket.adopt(assoc.dul.socket, self.server.limits, self.server.on_violation)
        StoppableStateMachine.adopt(assoc.dul.state_machine)
        return assoc


class BoundedServer(ThreadedAssociationServer):
    """A threaded association server that refuses connections over ``max_connections``.

    The count is taken at accept time: associations alive plus connections accepted but
    not yet started. A refused connection is closed at once, before a thread exists.
    """

    daemon_threads = True

    def __init__(self, *args: Any, limits: Limits, on_violation: Callable[[str], None], **kwargs: Any) -> None:
        self.limits = limits
        self.on_violation = on_violation
        self._pending = 0
        self._count_lock = threading.Lock()
        super().__init__(*args, request_handler=GuardedHandler, **kwargs)

    def verify_request(self, request: Any, client_address: Any) -> bool:
        with self._count_lock:
            busy = len(self.active_associations) + self._pending
            accept = busy < self.limits.max_connections
            if accept:
                self._pending += 1
        if not accept:
            self.on_violation(f"connection refused: {busy} connections open (limit {self.limits.max_connections})")
        return accept

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            with self._count_lock:
                self._pending -= 1

    def handle_error(self, request: Any, client_address: Any) -> None:
        # socketserver's default prints a traceback to stderr; one log line is enough.
        exc = sys.exc_info()[1]
        log.warning("connection handler failed: %s", type(exc).__name__)

    def stop(self, timeout: float) -> None:
        """Stop listening (the port is free on return) and end every connection.

        Established associations get an A-ABORT, silent connections are closed; a
        connection still open after ``timeout`` seconds (a peer trickling a PDU, or
        streaming on after the abort) has its socket shut down. Returns within about
        ``timeout`` + 1 s; a C-STORE handler still writing then finishes on its own.
        """
        deadline = time.monotonic() + timeout
        self.shutdown()  # pynetdicom's: serve loop ended, listening socket closed, removed from the AE
        while self._pending and time.monotonic() < deadline:  # accepted; its association is starting
            time.sleep(0.01)
        assocs = self.active_associations
        aborts = [threading.Thread(target=_abort, args=(a,), name="dicom-receiver-abort", daemon=True) for a in assocs]
        for thread in aborts:
            thread.start()
        _settle(assocs, deadline)
        for assoc in assocs:
            if assoc.is_alive():
                _shut_transport(assoc)
        grace = time.monotonic() + 1.0
        _settle(assocs, grace)
        for thread in aborts:
            thread.join(max(0.0, grace - time.monotonic()))
        left = sum(t.is_alive() for t in assocs)
        if left:
            log.warning("%d DICOM connection(s) still ending after stop", left)


def _settle(assocs: list[Any], until: float) -> None:
    """Wait until every association thread has ended, waking those whose DUL ended before an association."""
    while True:
        alive = [a for a in assocs if a.is_alive()]
        if not alive or time.monotonic() >= until:
            return
        for assoc in alive:
            dul, machine = assoc.dul, assoc.dul.state_machine
            ended = dul.ident is not None and not dul.is_alive()  # started (by the association thread) and done
            if ended and isinstance(machine, StoppableStateMachine):
                machine.wake_acceptor()  # e.g. the peer closed first: the DUL stopped in Sta1
        time.sleep(0.01)


def _abort(assoc: Any) -> None:
    """A-ABORT (or close) one connection; blocks until its DUL is idle."""
    try:
        assoc.abort()
    except Exception as exc:  # noqa: BLE001 - a stop must reach every connection
        log.warning("abort of a DICOM connection failed: %s", type(exc).__name__)


def _shut_transport(assoc: Any) -> None:
    """Shut the connection's socket down: a blocked read returns and the DUL sees it close."""
    with contextlib.suppress(AttributeError, OSError):
        assoc.dul.socket.socket.shutdown(socket.SHUT_RDWR)
