"""`xray-desktop receive` as a subprocess: pynetdicom and OFFIS dcmtk as the peers, clean shutdown.

The dcmtk tests need the Debian package ``dcmtk`` (.ci/run installs it); they fail, not
skip, when it is missing, because they are the check the team runs by hand.
"""

from __future__ import annotations

import contextlib
import os
import re
import selectors
import shutil
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.uid import ExplicitVRLittleEndian
from pynetdicom import AE

from tests.net.net_helpers import chest_film, save
from xray_desktop.logging_setup import key_hash

ROOT = Path(__file__).resolve().parents[2]
AE_TITLE = "XRAY_CLI"
DX = "1.2.840.10008.5.1.4.1.1.1.1"


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    return env


def _readline(proc: subprocess.Popen, timeout: float) -> str:
    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ)
    if not sel.select(timeout):
        raise AssertionError("receive printed nothing in time")
    return proc.stdout.readline()


@contextlib.contextmanager
def receive(folder: Path, *extra: str) -> Iterator[tuple[subprocess.Popen, int]]:
    cmd = [sys.executable, "-m", "xray_desktop", "receive", "--port", "0", "--ae-title", AE_TITLE,
           "--dir", str(folder), "--bind", "127.0.0.1", *extra]
    proc = subprocess.Popen(cmd, cwd=ROOT, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = _readline(proc, 60)
        match = re.search(r"listening on 127\.0\.0\.1:(\d+) as AE XRAY_CLI", line)
        assert match, line + proc.stderr.read() if proc.poll() is not None else line
        yield proc, int(match.group(1))
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)


def _stop(proc: subprocess.Popen, sig: int) -> tuple[int, str, str]:
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=20)
    return proc.returncode, out, err


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_receive_command_stores_then_stops_cleanly(tmp_path, sig):
    ds = chest_film()
    with receive(tmp_path / "in") as (proc, port):
        ae = AE(ae_title="MODALITY")
        ae.add_requested_context(DX, [ExplicitVRLittleEndian])
        assoc = ae.associate("127.0.0.1", port, ae_title=AE_TITLE)
        assert assoc.is_established and assoc.send_c_store(ds).Status == 0
        assoc.release()
        line = _readline(proc, 20)
        tags = f"instance {key_hash(ds.SOPInstanceUID)} of study {key_hash(ds.StudyInstanceUID)}"
        assert line.startswith(f"received {tags}")
        assert ds.SOPInstanceUID not in line and ds.StudyInstanceUID not in line
        rc, out, err = _stop(proc, sig)
    assert rc == 0 and out.strip().endswith("receiver stopped"), err
    assert "Traceback" not in err
    stored = tmp_path / "in" / ds.StudyInstanceUID / f"{ds.SOPInstanceUID}.dcm"
    np.testing.assert_array_equal(pydicom.dcmread(stored).pixel_array, ds.pixel_array)
    with socket.socket() as s:  # nothing listens there any more (TIME_WAIT is allowed)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", port))
        s.listen()


def test_receive_start_errors_are_one_line(tmp_path):
    def run(*args: str) -> subprocess.CompletedProcess:
        cmd = [sys.executable, "-m", "xray_desktop", "receive", *args]
        return subprocess.run(cmd, cwd=ROOT, env=_env(), capture_output=True, text=True, timeout=60)

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = str(busy.getsockname()[1])
        out = run("--port", port, "--ae-title", "X", "--dir", str(tmp_path), "--bind", "127.0.0.1")
        assert out.returncode == 1 and "cannot listen on 127.0.0.1:" in out.stderr
        assert out.stderr.count("\n") == 1 and "Traceback" not in out.stderr
    out = run("--port", "0", "--ae-title", "A_TITLE_LONGER_THAN_16", "--dir", str(tmp_path))
    assert out.returncode == 1 and "AE title must be 1 to 16" in out.stderr
    out = run("--port", "70000", "--ae-title", "X", "--dir", str(tmp_path))
    assert out.returncode == 2 and "port must be 0..65535" in out.stderr


DCMTK = ("echoscu", "storescu", "dcmconv", "dcmcrle", "dcmcjpls", "dcmcjpeg")


def _dcmtk() -> dict[str, str]:
    tools = {name: shutil.which(name) for name in DCMTK}
    missing = [name for name, path in tools.items() if path is None]
    if missing:
        pytest.fail(f"OFFIS dcmtk is not installed (missing {', '.join(missing)}); .ci/run installs it")
    return tools  # type: ignore[return-value]


def test_dcmtk_echoscu_and_storescu_five_films_in_five_syntaxes(tmp_path):
    """Five chest films, each in its own transfer syntax (dcmtk encodes them), land bit-identical."""
    tools = _dcmtk()
    src = tmp_path / "src"
    src.mkdir()
    films = [save(chest_film(rows=256, cols=200, seed=i), src / f"f{i}.dcm") for i in range(5)]
    encode = [  # (converter or None, its options, storescu's proposal, expected syntax)
        (None, [], "-xe", "1.2.840.10008.1.2.1"),
        ("dcmconv", ["+ti"], "-xi", "1.2.840.10008.1.2"),
        ("dcmcrle", [], "-xr", "1.2.840.10008.1.2.5"),
        ("dcmcjpls", [], "-xt", "1.2.840.10008.1.2.4.80"),
        ("dcmcjpeg", [], "-xs", "1.2.840.10008.1.2.4.70"),
    ]
    sent = []
    for film, (tool, opts, propose, syntax) in zip(films, encode, strict=True):
        path = film
        if tool is not None:
            path = film.with_name(film.stem + "_" + tool + ".dcm")
            subprocess.run([tools[tool], *opts, str(film), str(path)], check=True, capture_output=True, timeout=60)
        assert pydicom.dcmread(path).file_meta.TransferSyntaxUID == syntax
        sent.append((path, propose, syntax, pydicom.dcmread(film).pixel_array))
    assert len({s for _, _, s, _ in sent}) >= 4

    with receive(tmp_path / "in") as (proc, port):
        echo = subprocess.run([tools["echoscu"], "-aet", "PACS", "-aec", AE_TITLE, "127.0.0.1", str(port)],
                              capture_output=True, text=True, timeout=60)
        assert echo.returncode == 0, echo.stderr
        for path, propose, _, _ in sent:
            store = subprocess.run(
                [tools["storescu"], "-aet", "PACS", "-aec", AE_TITLE, "-R", propose, "127.0.0.1", str(port), str(path)],
                capture_output=True, text=True, timeout=60,
            )
            assert store.returncode == 0, store.stdout + store.stderr
        wrong_ae = subprocess.run([tools["echoscu"], "-aet", "PACS", "-aec", "NOT_US", "127.0.0.1", str(port)],
                                  capture_output=True, text=True, timeout=60)
        assert wrong_ae.returncode != 0  # association rejected: called AE title not recognised
        rc, _, err = _stop(proc, signal.SIGTERM)
    assert rc == 0, err
    for path, _, syntax, pixels in sent:
        ds = pydicom.dcmread(path)
        got = pydicom.dcmread(tmp_path / "in" / ds.StudyInstanceUID / f"{ds.SOPInstanceUID}.dcm")
        assert got.file_meta.TransferSyntaxUID == syntax  # stored as sent
        assert got.PixelData == ds.PixelData  # the very bytes dcmtk encoded
        np.testing.assert_array_equal(got.pixel_array, pixels)  # and the original film's pixels
