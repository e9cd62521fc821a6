"""`predict`/`export --dicom-sr DIR --send HOST:PORT:AE`: OFFIS dcmtk ``storescp`` as the PACS.

Real peers only: ``storescp`` (Debian package dcmtk, installed by .ci/run; these tests fail,
not skip, without it) and the repo's own receiver, which refuses SR storage.
"""

from __future__ import annotations

import argparse
import contextlib
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pydicom
import pytest
from pydicom.filereader import _read_file_meta_info, read_preamble

from tests.model.test_commands import tiny_dir, tiny_model  # noqa: F401 - the module-scoped model fixture
from tests.net.net_helpers import chest_film, running, save
from tests.net.test_sr_commands import _read, dicom_from_png
from xray_desktop.cli import main
from xray_desktop.net.config import Peer, ReceiverError, parse_ae_list, parse_peer, peer_argument
from xray_desktop.records import Store


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def storescp(folder: Path, *extra: str) -> Iterator[int]:
    """dcmtk's storage SCP as AE PACS on a free port, writing into ``folder``."""
    exe = shutil.which("storescp")
    if exe is None:
        pytest.fail("OFFIS dcmtk is not installed (no storescp); .ci/run installs it")
    folder.mkdir(parents=True, exist_ok=True)
    port = _free_port()
    proc = subprocess.Popen([exe, "-aet", "PACS", "-od", str(folder), *extra, str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 20
        while True:  # wait until it listens
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
                break
            assert proc.poll() is None and time.monotonic() < deadline, "storescp did not start"
            time.sleep(0.05)
        yield port
    finally:
        proc.terminate()
        proc.wait(10)


def _body(path: Path) -> bytes:
    """The data set's bytes after the file meta (what went over the wire)."""
    with open(path, "rb") as fh:
        read_preamble(fh, False)
        _read_file_meta_info(fh)
        return fh.read()


def _db_with_read(tmp_path: Path) -> tuple[Path, Path]:
    film = save(chest_film(), tmp_path / "film.dcm")
    db = tmp_path / "reads.db"
    with Store.open(db) as store:
        store.add_read(_read(film, study_key=str(pydicom.dcmread(film).SOPInstanceUID)))
    return db, film


def _arrived(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.name.startswith("SR"))


def test_parse_peer_is_strict():
    assert parse_peer("pacs.example.org:104:PACS") == Peer("pacs.example.org", 104, "PACS")
    assert parse_peer("[::1]:11112:MY PACS") == Peer("::1", 11112, "MY PACS")
    assert parse_peer("10.0.0.2:11112:A:B") == Peer("10.0.0.2", 11112, "A:B")  # an AE title may hold a colon
    for bad in ("pacs:104", "pacs:0:PACS", "pacs:70000:PACS", "pacs:x:PACS", ":104:PACS", "pacs:104:",
                "pacs:104:    ", "pacs:104:SEVENTEEN_CHARS_AE", "pacs:104:A\\B", "pa cs:104:PACS", "::1:104:PACS"):
        with pytest.raises(ReceiverError):
            parse_peer(bad)
    with pytest.raises(argparse.ArgumentTypeError, match="HOST:PORT:AE"):
        peer_argument("nonsense")
    assert parse_ae_list(" PACS1, CR ROOM 2 ,,") == ("PACS1", "CR ROOM 2")


def test_export_sends_the_srs_to_storescp(tmp_path, capsys):
    db, _film = _db_with_read(tmp_path)
    inbox, sr_dir = tmp_path / "pacs", tmp_path / "sr"
    with storescp(inbox) as port:
        rc = main(["export", "--dicom-sr", str(sr_dir), "--db", str(db), "--send", f"127.0.0.1:{port}:PACS"])
    out = capsys.readouterr().out
    assert rc == 0, out
    (written,) = sr_dir.iterdir()
    assert f"send {written.name} to PACS@127.0.0.1:{port}: stored" in out
    assert "sent 1 DICOM SR" in out
    (got,) = _arrived(inbox)
    assert pydicom.dcmread(got).SOPInstanceUID == pydicom.dcmread(written).SOPInstanceUID
    assert _body(got) == _body(written)  # byte for byte


def test_calling_ae_defaults_to_the_gui_receive_ae_title(tmp_path, monkeypatch):
    db, _film = _db_with_read(tmp_path)
    ini = tmp_path / "cfg" / "settings.ini"  # as Qt's IniFormat writes it (QSettings is not used in core tests)
    ini.parent.mkdir(parents=True, exist_ok=True)
    ini.write_text("[dicom]\nae_title=WS_FROM_GUI\nport=11112\n")
    monkeypatch.setenv("XRAY_DESKTOP_SETTINGS", str(ini))
    inbox = tmp_path / "pacs"
    # storescp runs this per stored file; #a is the calling AE title it saw.
    with storescp(inbox, "-xcr", f"touch {inbox}/calling_#a") as port:
        assert main(["export", "--dicom-sr", str(tmp_path / "a"), "--db", str(db),
                     "--send", f"127.0.0.1:{port}:PACS"]) == 0
        assert main(["export", "--dicom-sr", str(tmp_path / "b"), "--db", str(db),
                     "--send", f"127.0.0.1:{port}:PACS", "--calling-ae", "OTHER_AE"]) == 0
        deadline = time.monotonic() + 10
        while len(list(inbox.glob("calling_*"))) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
    assert sorted(p.name for p in inbox.glob("calling_*")) == ["calling_OTHER_AE", "calling_WS_FROM_GUI"]


def test_refused_association_exits_1_with_one_line_and_keeps_the_files(tmp_path, capsys):
    db, _film = _db_with_read(tmp_path)
    sr_dir = tmp_path / "sr"
    with storescp(tmp_path / "pacs", "--refuse") as port:
        rc = main(["export", "--dicom-sr", str(sr_dir), "--db", str(db), "--send", f"127.0.0.1:{port}:PACS"])
    err = capsys.readouterr().err
    assert rc == 1
    assert err.count("\n") == 1 and "association rejected by PACS@127.0.0.1" in err, err
    assert len(list(sr_dir.iterdir())) == 1  # still on disk

    rc = main(["export", "--dicom-sr", str(sr_dir), "--db", str(db), "--send", f"127.0.0.1:{_free_port()}:PACS"])
    err = capsys.readouterr().err
    assert rc == 1 and err.count("\n") == 1 and "cannot connect to PACS@127.0.0.1" in err, err


def test_a_peer_that_does_not_take_srs_is_a_failure(tmp_path, capsys):
    """The repo's own receiver stores images only: the SR class is refused at association."""
    db, _film = _db_with_read(tmp_path)
    with running(tmp_path / "rx") as (rx, arrivals, _problems):
        rc = main(["export", "--dicom-sr", str(tmp_path / "sr"), "--db", str(db),
                   "--send", f"127.0.0.1:{rx.port}:{rx.ae_title}"])
    err = capsys.readouterr().err
    assert rc == 1 and "none of the offered storage classes" in err and err.count("\n") == 1, err
    assert arrivals == []


def test_send_usage_errors_exit_2(tmp_path, capsys):
    db = tmp_path / "reads.db"
    Store.open(db).close()
    for args in (["--send", "pacs:104"], ["--send", "pacs:104:PACS", "--calling-ae", "A" * 17]):
        with pytest.raises(SystemExit) as info:
            main(["export", "--dicom-sr", str(tmp_path / "x"), "--db", str(db), *args])
        assert info.value.code == 2
    with pytest.raises(SystemExit) as info:
        main(["export", "--csv", str(tmp_path / "o.csv"), "--db", str(db), "--send", "pacs:104:PACS"])
    assert info.value.code == 2 and "--send needs --dicom-sr" in capsys.readouterr().err
    assert main(["predict", str(tmp_path), "--send", "pacs:104:PACS"]) == 2
    assert "--send needs --dicom-sr" in capsys.readouterr().err


def test_predict_sends_its_srs(tiny_dir, tmp_path, capsys):  # noqa: F811
    from tests.model.test_classifier import chest_png

    folder = tmp_path / "in"
    folder.mkdir()
    dicom_from_png(chest_png(tmp_path / "c.png"), folder / "film.dcm")
    inbox, sr_dir = tmp_path / "pacs", tmp_path / "sr"
    with storescp(inbox) as port:
        rc = main(["predict", str(folder), "--csv", str(tmp_path / "o.csv"), "--model-dir", str(tiny_dir),
                   "--no-heatmap", "--dicom-sr", str(sr_dir), "--send", f"127.0.0.1:{port}:PACS"])
    err = capsys.readouterr().err
    assert rc == 0, err
    (written,) = sr_dir.iterdir()
    assert f"send {written.name} to PACS@127.0.0.1:{port}: stored" in err
    (got,) = _arrived(inbox)
    assert _body(got) == _body(written)


def test_a_store_the_peer_aborts_is_a_failure_and_exit_1(tmp_path, capsys):
    db, _film = _db_with_read(tmp_path)
    sr_dir = tmp_path / "sr"
    with storescp(tmp_path / "pacs", "--abort-during") as port:
        rc = main(["export", "--dicom-sr", str(sr_dir), "--db", str(db), "--send", f"127.0.0.1:{port}:PACS"])
    captured = capsys.readouterr()
    assert rc == 1
    (written,) = sr_dir.iterdir()
    assert f"send {written.name} to PACS@127.0.0.1:{port}: failed" in captured.out
    err = captured.err  # the association may or may not be seen ending before the last file's status
    assert err.count("\n") == 1 and ("1 of 1 SRs not stored" in err or "0 of 1 files stored" in err), err


def test_a_peer_that_never_answers_a_store_is_bounded_by_the_timeout(tmp_path):
    from xray_desktop.net.send import SendError, send_files

    db, _film = _db_with_read(tmp_path)
    sr_dir = tmp_path / "sr"
    assert main(["export", "--dicom-sr", str(sr_dir), "--db", str(db)]) == 0
    with storescp(tmp_path / "pacs", "--sleep-during", "20") as port:
        t0 = time.monotonic()
        with pytest.raises(SendError, match="ended early"):
            send_files(list(sr_dir.iterdir()), Peer("127.0.0.1", port, "PACS"), "XRAY_DESKTOP", timeout=1.0)
        assert time.monotonic() - t0 < 6
