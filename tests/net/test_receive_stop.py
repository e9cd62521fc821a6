"""``Receiver.stop()`` with connections in every phase: no thread raises, it is bounded, the port is free.

pynetdicom's ``AE.shutdown()`` sent an A-ABORT request to a connection that had not asked
for an association yet (Sta2) or had just closed (Sta1); its state machine then raised
``InvalidEventError`` out of the DUL thread, and the association thread lingered for the
ACSE timeout. These tests pin each phase down before calling ``stop()``.
"""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path
from typing import Any

import pydicom
import pytest
from pydicom.uid import ExplicitVRLittleEndian
from pynetdicom import AE

from tests.net.net_helpers import AE_TITLE, chest_film, closed_within, running
from xray_desktop.net.receive import Receiver, ReceiverConfig

DX = "1.2.840.10008.5.1.4.1.1.1.1"
STOP_BOUND_S = 5.0


@pytest.fixture
def thread_errors(monkeypatch) -> list[str]:
    """Exceptions that escaped any thread during the test, as 'thread: Type: message'."""
    errors: list[str] = []

    def hook(args: threading.ExceptHookArgs) -> None:
        name = args.thread.name if args.thread is not None else "?"
        errors.append(f"{name}: {args.exc_type.__name__}: {args.exc_value}")

    monkeypatch.setattr(threading, "excepthook", hook)
    return errors


def _connections(rx: Receiver) -> list[Any]:
    return list(rx._server.active_associations)


def _wait_for_state(rx: Receiver, states: tuple[str, ...], timeout: float = 5.0) -> list[Any]:
    """The receiver's association threads once one exists with its DUL in one of ``states``."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        assocs = _connections(rx)
        if assocs and assocs[0].dul.state_machine.current_state in states:
            return assocs
        time.sleep(0.01)
    raise AssertionError(f"no connection reached {states}")


def _stop_timed(rx: Receiver) -> float:
    t0 = time.monotonic()
    rx.stop()
    return time.monotonic() - t0


def _port_is_free_again(folder: Path, port: int) -> bool:
    """A new receiver binds the same port (what the CLI and the window do on restart)."""
    again = Receiver(ReceiverConfig(folder, port=port, bind="127.0.0.1", ae_title=AE_TITLE))
    again.start()
    again.stop()
    return True


@pytest.mark.parametrize("peer", ["silent", "gone"])
def test_stop_ends_a_connection_without_an_association_cleanly(tmp_path, thread_errors, peer):
    """Connected, no A-ASSOCIATE-RQ: still open (Sta2), or already closed by the peer (Sta1)."""
    with running(tmp_path) as (rx, _, problems):
        port = rx.port
        sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        if peer == "gone":
            sock.close()
        assocs = _wait_for_state(rx, ("Sta2",) if peer == "silent" else ("Sta1", "Sta2"))
        if peer == "gone":  # the DUL saw the close (AA-5) and ended in Sta1; its association thread waits on
            end = time.monotonic() + 5
            dul = assocs[0].dul
            while (dul.ident is None or dul.is_alive()) and time.monotonic() < end:
                time.sleep(0.01)
            assert dul.ident is not None and not dul.is_alive() and assocs[0].is_alive()
        took = _stop_timed(rx)
    for assoc in assocs:
        assoc.join(2.0)
    assert thread_errors == []  # was: InvalidEventError: Invalid event 'Evt15' for the current state 'Sta2'
    assert took < STOP_BOUND_S, took
    assert not any(a.is_alive() for a in assocs)  # ended at stop, not at the ACSE timeout (30 s)
    if peer == "silent":
        assert closed_within(sock, 2.0) is not None  # its socket was closed
        sock.close()
    assert problems == []
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
    assert _port_is_free_again(tmp_path, port)
    assert thread_errors == []


def test_stop_is_bounded_when_a_peer_holds_a_read(tmp_path, thread_errors):
    """A peer trickling its A-ASSOCIATE-RQ holds the DUL in a read; stop shuts its socket after the grace."""
    with running(tmp_path) as (rx, _, _):
        port = rx.port
        sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        sock.sendall(b"\x01\x00\x00\x00\x01\x00abc")  # promises 256 bytes, sends 3
        assocs = _wait_for_state(rx, ("Sta1", "Sta2"))
        time.sleep(0.3)  # its DUL is now blocked reading the rest (before it even leaves Sta1)
        took = _stop_timed(rx)
    assert took < STOP_BOUND_S, took  # STOP_TIMEOUT_S (3 s) of grace, then its socket is shut
    for assoc in assocs:
        assoc.join(2.0)
        assert not assoc.is_alive()
    assert closed_within(sock, 2.0) is not None
    sock.close()
    assert thread_errors == []
    assert _port_is_free_again(tmp_path, port)


class _PausingSend:
    """Wraps an SCU's socket send: once armed, pauses the transfer after ``after`` bytes."""

    def __init__(self, sock: Any, after: int) -> None:
        self.real, self.after, self.sent = sock.send, after, 0
        self.armed = False
        self.paused, self.resume = threading.Event(), threading.Event()

    def __call__(self, data: bytes) -> None:
        if self.armed:
            self.sent += len(data)
            if self.sent > self.after and not self.paused.is_set():
                self.paused.set()
                self.resume.wait(10)
        self.real(data)


def test_stop_mid_transfer_aborts_and_keeps_stored_files_whole(tmp_path, thread_errors):
    """Film 1 stored, film 2 half sent: stop aborts; film 1 is whole on disk, nothing of film 2."""
    first, second = chest_film(1024, 1024, seed=1), chest_film(1024, 1024, seed=2)  # 2 MiB of pixels each
    scu = AE(ae_title="PACS")
    scu.acse_timeout = scu.dimse_timeout = scu.network_timeout = 10
    scu.maximum_pdu_size = 16384
    scu.add_requested_context(DX, ExplicitVRLittleEndian)
    statuses: list[int | None] = []
    with running(tmp_path) as (rx, arrivals, _):
        assoc = scu.associate("127.0.0.1", rx.port, ae_title=AE_TITLE)
        assert assoc.is_established
        pause = _PausingSend(assoc.dul.socket, after=256 * 1024)
        assoc.dul.socket.send = pause

        def send_both() -> None:
            for ds in (first, second):
                rsp = assoc.send_c_store(ds)
                statuses.append(int(rsp.Status) if "Status" in rsp else None)
                pause.armed = True

        sender = threading.Thread(target=send_both, name="test-scu")
        sender.start()
        try:
            assert pause.paused.wait(10), "the second film never started"
            assert len(arrivals) == 1  # film 1 stored, film 2 mid-transfer
            assert [a.state_machine.current_state for a in (c.dul for c in _connections(rx))] == ["Sta6"]
            took = _stop_timed(rx)
        finally:
            pause.resume.set()
            sender.join(15)
    assert not sender.is_alive()
    assert took < STOP_BOUND_S, took
    assert statuses == [0x0000, None]  # film 2 got no response: its association was aborted
    stored = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*") if p.is_file())
    assert stored == [Path(first.StudyInstanceUID) / f"{first.SOPInstanceUID}.dcm"]  # no .part, nothing of film 2
    back = pydicom.dcmread(tmp_path / stored[0])
    assert back.SOPInstanceUID == first.SOPInstanceUID and back.PixelData == first.PixelData
    assert thread_errors == []


def test_stop_while_a_film_is_being_written_leaves_it_whole(tmp_path, thread_errors, monkeypatch):
    """Film fully received, its file being written when stop aborts: written whole, its response dropped."""
    from xray_desktop.net import receive

    writing, release = threading.Event(), threading.Event()
    real_write = receive._write_atomically

    def slow_write(*args: Any) -> Any:
        writing.set()
        release.wait(10)
        return real_write(*args)

    monkeypatch.setattr(receive, "_write_atomically", slow_write)
    film = chest_film(seed=3)
    scu = AE(ae_title="PACS")
    scu.acse_timeout = scu.dimse_timeout = scu.network_timeout = 10
    scu.add_requested_context(DX, ExplicitVRLittleEndian)
    statuses: list[int | None] = []
    times: list[float] = []
    with running(tmp_path) as (rx, arrivals, _):
        assoc = scu.associate("127.0.0.1", rx.port, ae_title=AE_TITLE)
        assert assoc.is_established

        def send() -> None:
            rsp = assoc.send_c_store(film)
            statuses.append(int(rsp.Status) if "Status" in rsp else None)

        sender = threading.Thread(target=send, name="test-scu")
        sender.start()
        try:
            assert writing.wait(10)
            (theirs,) = (c.dul for c in _connections(rx))
            stopper = threading.Thread(target=lambda: times.append(_stop_timed(rx)), name="test-stop")
            stopper.start()
            end = time.monotonic() + 5
            while theirs.state_machine.current_state == "Sta6" and time.monotonic() < end:
                time.sleep(0.005)  # until the A-ABORT has gone out
            assert theirs.state_machine.current_state != "Sta6"
        finally:
            release.set()
            sender.join(15)
        stopper.join(10)
    assert times and times[0] < STOP_BOUND_S, times
    assert statuses == [None]  # the C-STORE response is dropped: the association is gone
    assert len(arrivals) == 1
    stored = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert stored == [tmp_path / film.StudyInstanceUID / f"{film.SOPInstanceUID}.dcm"]
    assert pydicom.dcmread(stored[0]).PixelData == film.PixelData
    assert thread_errors == []
