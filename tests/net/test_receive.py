"""The storage SCP with pynetdicom as the client, in-process: echo, store, refusals, hostile peers."""

from __future__ import annotations

import copy
import logging
import os
import socket
import struct
import threading
import time

import numpy as np
import pydicom
import pytest
from pydicom.uid import (
    DeflatedExplicitVRLittleEndian,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    JPEG2000Lossless,
    JPEGLSLossless,
    RLELossless,
    generate_uid,
)
from pynetdicom import AE

from tests.net.net_helpers import AE_TITLE, chest_film, closed_within, running, save
from xray_desktop.io import load_study
from xray_desktop.io.dicom_pixels import check_syntax_supported
from xray_desktop.io.errors import StudyLoadError
from xray_desktop.net.receive import STORAGE_CLASSES, decodable_transfer_syntaxes, study_folder_name

VERIFICATION = "1.2.840.10008.1.1"
DX = "1.2.840.10008.5.1.4.1.1.1.1"
CT = "1.2.840.10008.5.1.4.1.1.2"
JPEG_XL = "1.2.840.10008.1.2.4.112"
MPEG2 = "1.2.840.10008.1.2.4.100"


def client(title: str = "TEST_SCU", contexts: list[tuple[str, list[str]]] | None = None) -> AE:
    ae = AE(ae_title=title)
    ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = 10
    for abstract, syntaxes in contexts or [(VERIFICATION, [ExplicitVRLittleEndian])]:
        ae.add_requested_context(abstract, syntaxes)
    return ae


def echo_ok(port: int) -> bool:
    assoc = client().associate("127.0.0.1", port, ae_title=AE_TITLE)
    try:
        return assoc.is_established and assoc.send_c_echo().Status == 0
    finally:
        if assoc.is_established:
            assoc.release()


def test_c_echo(tmp_path):
    with running(tmp_path) as (rx, _, _):
        assert echo_ok(rx.port)


SYNTAXES = [
    ExplicitVRLittleEndian, ImplicitVRLittleEndian, DeflatedExplicitVRLittleEndian,
    RLELossless, JPEGLSLossless, JPEG2000Lossless,
]  # fmt: skip


def test_store_in_several_transfer_syntaxes_keeps_pixels_identical(tmp_path):
    films = []
    for i, ts in enumerate(SYNTAXES):
        ds = chest_film(seed=i)
        original = ds.pixel_array.copy()
        if ts in (RLELossless, JPEGLSLossless, JPEG2000Lossless):
            ds.compress(ts)
        else:
            ds.file_meta.TransferSyntaxUID = ts
        ds = pydicom.dcmread(save(ds, tmp_path / f"src{i}.dcm"))  # encoded as a real file is
        films.append((ds, original, ts))
    contexts = [(DX, [ts]) for ts in SYNTAXES]  # one context per syntax: each film travels in its own
    with running(tmp_path / "in") as (rx, arrivals, problems):
        assoc = client(contexts=contexts).associate("127.0.0.1", rx.port, ae_title=AE_TITLE)
        assert assoc.is_established
        assert len(assoc.accepted_contexts) == len(SYNTAXES)
        for ds, _, _ in films:
            assert assoc.send_c_store(ds).Status == 0
        assoc.release()
    assert problems == []
    assert len(arrivals) == len(films)
    for (ds, original, ts), item in zip(films, arrivals, strict=True):
        path = tmp_path / "in" / ds.StudyInstanceUID / f"{ds.SOPInstanceUID}.dcm"
        assert item.path == path and path.is_file()
        assert item.transfer_syntax == ts and item.calling_ae == "TEST_SCU"
        got = pydicom.dcmread(path)
        assert got.file_meta.TransferSyntaxUID == ts  # stored as sent, never transcoded
        assert got.SOPInstanceUID == ds.SOPInstanceUID and got.PatientID == ds.PatientID
        np.testing.assert_array_equal(got.pixel_array, original)
        if ts.is_compressed:
            assert got.PixelData == ds.PixelData  # the very same compressed bytes
        assert load_study(path).metadata.sop_instance_uid == ds.SOPInstanceUID  # the app's loader opens it
    assert not [p for p in (tmp_path / "in").rglob("*") if p.name.startswith(".")]  # no temp files left


def test_negotiated_syntaxes_are_exactly_the_loaders():
    offered = set(decodable_transfer_syntaxes())
    for uid in pydicom.uid.AllTransferSyntaxes:
        try:
            check_syntax_supported(uid)
            decodable = True
        except StudyLoadError:
            decodable = False
        assert (uid in offered) == decodable, uid
    assert JPEG_XL not in offered and MPEG2 not in offered
    assert {ExplicitVRLittleEndian, DeflatedExplicitVRLittleEndian, RLELossless, JPEG2000Lossless} <= offered


def test_unsupported_syntax_and_class_are_refused_at_association(tmp_path):
    contexts = [(DX, [JPEG_XL, MPEG2]), (CT, [ExplicitVRLittleEndian]), (DX, [ExplicitVRLittleEndian])]
    with running(tmp_path) as (rx, arrivals, _):
        assoc = client(contexts=contexts).associate("127.0.0.1", rx.port, ae_title=AE_TITLE)
        assert assoc.is_established
        accepted = {(c.abstract_syntax, c.transfer_syntax[0]) for c in assoc.accepted_contexts}
        assert accepted == {(DX, ExplicitVRLittleEndian)}
        rejected = {c.context_id: c.result for c in assoc.rejected_contexts}
        assert rejected == {1: 0x04, 3: 0x03}  # transfer syntaxes not supported; abstract syntax not supported
        ds = chest_film()
        ds.file_meta.TransferSyntaxUID = JPEG_XL
        with pytest.raises(ValueError):  # no accepted context: nothing is sent
            assoc.send_c_store(ds)
        assoc.release()
    assert arrivals == []


def test_every_chest_storage_class_is_accepted(tmp_path):
    with running(tmp_path) as (rx, _, _):
        contexts = [(uid, [ExplicitVRLittleEndian]) for uid in STORAGE_CLASSES]
        assoc = client(contexts=contexts).associate("127.0.0.1", rx.port, ae_title=AE_TITLE)
        assert {c.abstract_syntax for c in assoc.accepted_contexts} == set(STORAGE_CLASSES)
        assoc.release()


def test_calling_ae_allow_list_and_called_ae_title(tmp_path):
    with running(tmp_path, allowed_calling_aets=("PACS1", "MODALITY")) as (rx, _, problems):
        refused = client("INTRUDER").associate("127.0.0.1", rx.port, ae_title=AE_TITLE)
        assert refused.is_rejected
        wrong_called = client("PACS1").associate("127.0.0.1", rx.port, ae_title="SOMEONE_ELSE")
        assert wrong_called.is_rejected
        ok = client("PACS1").associate("127.0.0.1", rx.port, ae_title=AE_TITLE)
        assert ok.is_established and ok.send_c_echo().Status == 0
        ok.release()
    assert any("INTRUDER" in p for p in problems)


def test_association_cap(tmp_path):
    with running(tmp_path, max_associations=2) as (rx, _, _):
        held = [client().associate("127.0.0.1", rx.port, ae_title=AE_TITLE) for _ in range(2)]
        assert all(a.is_established for a in held)
        third = client().associate("127.0.0.1", rx.port, ae_title=AE_TITLE)
        assert third.is_rejected  # A-ASSOCIATE-RJ, local limit exceeded: a polite peer retries later
        for a in held:
            a.release()
        time.sleep(0.5)
        assert echo_ok(rx.port)


def test_garbage_and_huge_declared_lengths_drop_only_that_peer(tmp_path):
    rng = np.random.default_rng(1)
    payloads = [
        rng.integers(0, 256, 5000, dtype=np.uint8).tobytes(),  # noise
        b"\x01\x00" + struct.pack(">L", 0xFFFFFFFF),  # A-ASSOCIATE-RQ declaring 4 GiB
        b"\x04\x00" + struct.pack(">L", 2**31) + b"\x00" * 64,  # P-DATA declaring 2 GiB
        b"\x07\x00\x00\x00\x00\x04",  # truncated A-ABORT, then silence
        b"\x09\x00\x00\x00\x00\x00",  # unknown PDU type
    ]
    with running(tmp_path, network_timeout=1.0, acse_timeout=1.0) as (rx, _, problems):
        for payload in payloads:
            with socket.create_connection(("127.0.0.1", rx.port), timeout=5) as s:
                s.sendall(payload)
                waited = closed_within(s, 10)
                assert waited is not None and waited < 5, payload[:8]
        assert echo_ok(rx.port)
    assert any("declared a PDU of 4294967295 bytes" in p for p in problems)


def test_silent_and_trickling_peers_time_out(tmp_path):
    with running(tmp_path, network_timeout=1.0, acse_timeout=1.0) as (rx, _, _):
        silent = socket.create_connection(("127.0.0.1", rx.port))
        half = socket.create_connection(("127.0.0.1", rx.port))
        half.sendall(b"\x01\x00\x00\x00\x01\x00abc")  # promises 256 bytes, sends 3
        for s in (silent, half):
            waited = closed_within(s, 10)
            assert waited is not None and waited < 5
            s.close()
        assert echo_ok(rx.port)


def test_connection_flood_is_capped_and_recovers(tmp_path):
    with running(tmp_path, max_associations=2, network_timeout=2.0, acse_timeout=2.0) as (rx, _, problems):
        socks = [socket.create_connection(("127.0.0.1", rx.port), timeout=5) for _ in range(40)]
        time.sleep(0.5)
        closed_at_once = sum(closed_within(s, 0.3) is not None for s in socks)
        assert closed_at_once >= 40 - 6  # cap = max_associations + 4 connections
        threads = [t for t in threading.enumerate() if "AcceptorThread" in t.name]
        assert len(threads) <= 6
        for s in socks:
            s.close()
        time.sleep(2.5)
        assert echo_ok(rx.port)
    assert any("connection refused" in p for p in problems)


def test_data_set_over_the_limit_is_dropped_and_nothing_written(tmp_path):
    big = chest_film(rows=256, cols=256)  # 128 KiB of pixels
    with running(tmp_path, max_dataset_bytes=64 * 1024) as (rx, arrivals, problems):
        assoc = client(contexts=[(DX, [ExplicitVRLittleEndian])]).associate("127.0.0.1", rx.port, ae_title=AE_TITLE)
        assert assoc.is_established
        status = assoc.send_c_store(big)
        assert not status or status.Status != 0  # the connection is dropped mid-transfer
        assoc.abort()
        assert echo_ok(rx.port)
    assert arrivals == [] and not list(tmp_path.rglob("*.dcm"))
    assert any("data set larger than the 65536 bytes limit" in p for p in problems)


def test_callback_failure_does_not_fail_the_store_and_log_has_no_phi(tmp_path):
    from xray_desktop.logging_setup import setup_logging
    from xray_desktop.net.receive import Receiver, ReceiverConfig

    log_file = setup_logging(logging.INFO, tmp_path / "logs")

    def boom(item):
        raise RuntimeError(f"callback exploded for {item.path}")

    ds = chest_film()
    rx = Receiver(ReceiverConfig(tmp_path / "in", port=0, bind="127.0.0.1", ae_title=AE_TITLE), on_received=boom)
    with rx:
        assoc = client(contexts=[(DX, [ExplicitVRLittleEndian])]).associate("127.0.0.1", rx.port, ae_title=AE_TITLE)
        assert assoc.send_c_store(copy.deepcopy(ds)).Status == 0
        assoc.release()
    assert (tmp_path / "in" / ds.StudyInstanceUID / f"{ds.SOPInstanceUID}.dcm").is_file()
    for h in logging.getLogger("xray_desktop").handlers:
        h.flush()
    text = log_file.read_text()
    assert "stored instance" in text and "on_received callback failed: RuntimeError" in text
    for phi in ("DOE", "PHI-12345", "ACC-99", ds.SOPInstanceUID, ds.StudyInstanceUID, str(tmp_path)):
        assert phi not in text


def test_study_folder_names_are_safe():
    assert study_folder_name("1.2.840.5") == "1.2.840.5"
    for hostile in ("../../etc", "..", "/abs/path", "a\\b", "x" * 300, "", "\x00\n"):
        name = study_folder_name(hostile)
        assert name and "/" not in name and "\\" not in name and name not in (".", "..")
        assert len(name) <= 64 and not name.startswith(".")


def test_received_file_is_written_atomically(tmp_path, monkeypatch):
    """A failed write leaves no file and no temp file; the peer gets a failure status."""
    real_replace = os.replace

    def failing_replace(src, dst):
        raise OSError(28, "No space left on device")

    ds = chest_film()
    with running(tmp_path) as (rx, arrivals, problems):
        monkeypatch.setattr(os, "replace", failing_replace)
        assoc = client(contexts=[(DX, [ExplicitVRLittleEndian])]).associate("127.0.0.1", rx.port, ae_title=AE_TITLE)
        assert assoc.send_c_store(ds).Status == 0xA700
        monkeypatch.setattr(os, "replace", real_replace)
        assert assoc.send_c_store(ds).Status == 0
        assoc.release()
    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert [p.name for p in files] == [f"{ds.SOPInstanceUID}.dcm"]
    assert len(arrivals) == 1 and any("No space left" in p for p in problems)


def test_mismatched_uids_are_refused(tmp_path):
    ds = chest_film()
    with running(tmp_path) as (rx, arrivals, _):
        assoc = client(contexts=[(DX, [ExplicitVRLittleEndian])]).associate("127.0.0.1", rx.port, ae_title=AE_TITLE)
        # pynetdicom takes the request's UIDs from the data set; patch the request to lie.
        from pynetdicom.dimse_primitives import C_STORE

        orig = C_STORE.AffectedSOPInstanceUID.fset

        def lying(self, value):
            orig(self, generate_uid() if value else value)

        C_STORE.AffectedSOPInstanceUID = property(C_STORE.AffectedSOPInstanceUID.fget, lying)
        try:
            assert assoc.send_c_store(ds).Status == 0xA900
        finally:
            C_STORE.AffectedSOPInstanceUID = property(C_STORE.AffectedSOPInstanceUID.fget, orig)
        assoc.release()
    assert arrivals == []


def test_stale_temp_files_of_a_killed_receiver_are_removed_at_start(tmp_path):
    study = tmp_path / "1.2.3"
    study.mkdir()
    old, fresh = study / ".1.2.4.dcm.ab12cd34.part", study / ".1.2.5.dcm.ef56ab78.part"
    old.write_bytes(b"x")
    fresh.write_bytes(b"y")
    os.utime(old, (time.time() - 7200, time.time() - 7200))
    with running(tmp_path):
        pass
    assert not old.exists() and fresh.exists()  # a fresh one may belong to a receiver running now


def test_hostile_study_uid_cannot_escape_the_folder(tmp_path):
    """The study folder comes from the data set: a path in it is sanitised, never followed."""
    with pydicom.config.disable_value_validation():
        ds = chest_film(StudyInstanceUID="../../../escaped")
    with running(tmp_path / "in") as (rx, arrivals, _):
        assoc = client(contexts=[(DX, [ExplicitVRLittleEndian])]).associate("127.0.0.1", rx.port, ae_title=AE_TITLE)
        with pydicom.config.disable_value_validation():
            assert assoc.send_c_store(ds).Status == 0
        assoc.release()
    (item,) = arrivals
    assert item.path.parent.parent == tmp_path / "in" and item.path.parent.name == "_.._.._escaped"
    assert [p for p in tmp_path.rglob("*.dcm")] == [item.path]
