"""Entry script of the PyInstaller bundle: both executables (`xray-desktop`, `xray-desktop-cli`) run this.

It only prepares the frozen process and hands over to :func:`xray_desktop.cli.main`, so the bundle
behaves exactly like the pip-installed ``xray-desktop`` command.
"""

from __future__ import annotations

import multiprocessing
import os
import sys


def _prepare_frozen_process() -> None:
    """Make the frozen process safe to run without a console and with only TensorFlow bundled."""
    # A windowed (console=False) executable on Windows has no stdout/stderr at all (None);
    # a print() or a logging StreamHandler would then raise. Send them to the null device.
    for name in ("stdout", "stderr"):
        if getattr(sys, name) is None:
            setattr(sys, name, open(os.devnull, "w", encoding="utf-8"))  # lives as long as the process
    # Only the TensorFlow backend is bundled; ignore a KERAS_BACKEND meant for another install.
    os.environ["KERAS_BACKEND"] = "tensorflow"
    multiprocessing.freeze_support()


def run() -> int:
    """Run the xray-desktop command line; returns the process exit code."""
    _prepare_frozen_process()
    from xray_desktop.cli import main

    return main()


if __name__ == "__main__":
    raise SystemExit(run())
