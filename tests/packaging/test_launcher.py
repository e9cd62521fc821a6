"""packaging/launcher.py: the bundle's entry script."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

REPO = Path(__file__).resolve().parents[2]
LAUNCHER = REPO / "packaging" / "launcher.py"


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("xray_launcher", LAUNCHER)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_windowed_process_without_streams_gets_null_streams(monkeypatch: pytest.MonkeyPatch) -> None:
    """A console=False exe on Windows starts with sys.stdout/stderr None: print() must not crash."""
    launcher = _load()
    monkeypatch.setattr(sys, "stdout", None)
    monkeypatch.setattr(sys, "stderr", None)
    monkeypatch.setenv("KERAS_BACKEND", "jax")
    launcher._prepare_frozen_process()
    out, err = sys.stdout, sys.stderr
    try:
        assert out is not None and err is not None
        print("nowhere", file=out)
        print("nowhere", file=err)
    finally:
        out.close()
        err.close()

    assert os.environ["KERAS_BACKEND"] == "tensorflow"  # only the TensorFlow backend is bundled


def test_existing_streams_are_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    launcher = _load()
    monkeypatch.setenv("KERAS_BACKEND", "tensorflow")
    before = (sys.stdout, sys.stderr)
    launcher._prepare_frozen_process()
    assert (sys.stdout, sys.stderr) == before


def test_run_hands_over_to_the_cli(monkeypatch: pytest.MonkeyPatch) -> None:
    import xray_desktop.cli

    launcher = _load()
    monkeypatch.setenv("KERAS_BACKEND", "tensorflow")
    monkeypatch.setattr(xray_desktop.cli, "main", lambda: 7)
    assert launcher.run() == 7


def test_launcher_runs_the_cli_as_a_script() -> None:
    from xray_desktop import __version__

    result = subprocess.run([sys.executable, str(LAUNCHER), "--version"], capture_output=True, text=True,
                            timeout=120, cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)})
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"xray-desktop {__version__}"
