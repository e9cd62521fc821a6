"""TensorFlow's native start-up chatter goes to our log, not the terminal (issue #17.4)."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

from xray_desktop.model.native_log import MAX_LINES, native_stderr_to_log

REPO = Path(__file__).resolve().parents[2]


def test_fd2_output_inside_the_block_is_logged_not_printed(capfd, caplog):
    caplog.set_level(logging.INFO, logger="xray_desktop")
    os.write(2, b"before\n")
    with native_stderr_to_log():
        os.write(2, b"I0000 cpu_feature_guard.cc:227] chatter from C++\n\n")
    os.write(2, b"after\n")
    err = capfd.readouterr().err
    assert "before" in err and "after" in err
    assert "chatter" not in err
    logged = [r.getMessage() for r in caplog.records]
    assert "tensorflow stderr: I0000 cpu_feature_guard.cc:227] chatter from C++" in logged


def test_fd2_is_restored_when_the_block_raises(capfd, caplog):
    caplog.set_level(logging.INFO, logger="xray_desktop")
    with pytest.raises(RuntimeError), native_stderr_to_log():
        os.write(2, b"native detail of a failure\n")
        raise RuntimeError("load failed")
    os.write(2, b"visible again\n")
    assert "visible again" in capfd.readouterr().err
    assert any("native detail of a failure" in r.getMessage() for r in caplog.records)


def test_a_flood_is_capped(caplog):
    caplog.set_level(logging.INFO, logger="xray_desktop")
    with native_stderr_to_log():
        os.write(2, b"".join(b"line %d\n" % i for i in range(MAX_LINES + 50)))
    assert len(caplog.records) == MAX_LINES + 1 and "50 more lines" in caplog.records[-1].getMessage()


def _cli(args: list[str], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO), "XRAY_DESKTOP_LOG_DIR": str(tmp_path / "logs"),
           "TF_CPP_MIN_LOG_LEVEL": "0"}  # TensorFlow asked to say everything: still nothing on the terminal
    env.pop("XRAY_DESKTOP_MODEL_DIR", None)
    return subprocess.run([sys.executable, "-m", "xray_desktop", *args], env=env, cwd=tmp_path,
                          capture_output=True, text=True, timeout=300)


@pytest.mark.slow
def test_selftest_and_predict_print_only_our_own_lines(tmp_path):
    from PIL import Image

    from xray_desktop.resources import model_dir

    if not (model_dir() / "model_card.json").is_file():
        pytest.skip("no bundled model")
    st = _cli(["selftest"], tmp_path)
    assert st.returncode == 0, st.stderr
    assert st.stderr == "" and st.stdout.startswith("selftest passed:")
    folder = tmp_path / "studies"
    folder.mkdir()
    for i in range(17):  # two batches (16 + 1): no retracing warnings either
        Image.open(model_dir() / "reference.png").rotate(i).save(folder / f"s{i}.png")
    out = tmp_path / "out.csv"
    pr = _cli(["predict", str(folder), "--csv", str(out), "--no-heatmap"], tmp_path)
    assert pr.returncode == 0, pr.stderr
    assert pr.stderr.splitlines() == [f"wrote 17 rows to {out}"]
    log = (tmp_path / "logs" / "xray_desktop.log").read_text()
    assert "tensorflow stderr:" in log  # the chatter was kept, in our log file


def test_without_fd2_the_block_just_runs(monkeypatch):
    """A windowed Windows process has no fd 2: nothing is redirected, errors still propagate."""

    def no_fd(fd):
        raise OSError(9, "Bad file descriptor")

    monkeypatch.setattr(os, "dup", no_fd)
    with native_stderr_to_log():
        ran = True
    assert ran
    with pytest.raises(ValueError, match="boom"), native_stderr_to_log():
        raise ValueError("boom")
