"""The long fuzz run's harness (benchmarks/reliability_fuzz.py) works: a short run, and a hang caught.

The default-run fuzzing itself is tests/io/test_fuzz.py (500 examples per format); the long
run (>= 10,000 inputs, per-input hard timeout, address-space cap) is the benchmark script,
whose numbers are in the README. Here it runs small, so the documented command keeps working.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "benchmarks" / "reliability_fuzz.py"


def hang(path: Path) -> None:
    """A stand-in loader that never returns (the harness must end it)."""
    while True:
        time.sleep(0.05)


def _run(out: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(SCRIPT), "--out", str(out), *args], capture_output=True, text=True,
                          timeout=300, cwd=REPO)


def test_short_fuzz_run_reports_no_findings(tmp_path):
    done = _run(tmp_path, "--formats", "png,jpeg,random", "--per-format", "25", "--random", "25")
    assert done.returncode == 0, done.stdout + done.stderr
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert [r["format"] for r in summary] == ["png", "jpeg", "random"]
    assert all(r["inputs"] == 25 and r["findings"] == 0 for r in summary)
    assert all(r["address_space_cap_mb"] > 0 for r in summary) or sys.platform != "linux"
    assert "total: 75 inputs, 0 findings" in done.stdout


def test_a_hanging_input_is_stopped_and_kept(tmp_path):
    t0 = time.monotonic()
    done = _run(tmp_path, "--formats", "png", "--per-format", "3", "--timeout", "1",
                "--target", "tests.reliability.test_fuzz_harness:hang")
    assert done.returncode == 1
    assert time.monotonic() - t0 < 60
    assert "worker died: hang" in done.stdout
    assert (tmp_path / "findings" / "png-hang.bin").is_file()  # the input that hung, to reproduce
