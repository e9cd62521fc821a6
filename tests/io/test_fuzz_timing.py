"""Issue 19.8: the fuzz time limit measures the loader's work, not how busy the machine is."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import test_fuzz
from io_helpers import build_dataset, chest_like, write


def test_a_busy_machine_does_not_fail_the_limit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A load that waits (as on a machine whose CPUs are taken) passes; the old wall-clock check failed."""
    good = write(build_dataset(chest_like(40, 32)), tmp_path / "g.dcm").read_bytes()
    real = test_fuzz.load_study
    monkeypatch.setattr(test_fuzz, "PER_EXAMPLE_CPU_SECONDS", 0.5)
    monkeypatch.setattr(test_fuzz, "load_study", lambda p: (time.sleep(0.8), real(p))[1])
    test_fuzz._only_study_load_error(good, tmp_path / "case.dcm")


def test_a_slow_loader_fails_the_limit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    good = write(build_dataset(chest_like(40, 32)), tmp_path / "g.dcm").read_bytes()
    real = test_fuzz.load_study

    def spin(p: Path) -> object:
        end = time.process_time() + 0.3
        while time.process_time() < end:
            pass
        return real(p)

    monkeypatch.setattr(test_fuzz, "PER_EXAMPLE_CPU_SECONDS", 0.2)
    monkeypatch.setattr(test_fuzz, "load_study", spin)
    with pytest.raises(AssertionError, match="s of CPU"):
        test_fuzz._only_study_load_error(good, tmp_path / "case.dcm")
