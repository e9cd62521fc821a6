"""Keep TensorFlow's native start-up chatter off the terminal and in our log file.

TensorFlow and absl write straight to file descriptor 2 from C++ while TensorFlow is imported
and a model is loaded ("oneDNN custom operations are on", "All log messages before
absl::InitializeLog() ...", CUDA probing on CPU-only machines), whatever Python's ``sys.stderr``
is. :func:`native_stderr_to_log` points fd 2 at a temporary file for that stretch and copies
what was written into the ``xray_desktop`` log afterwards, so ``predict``, ``selftest`` and the
window print only our own lines. A load that fails still raises, and the CLI prints its one-line
reason; the native details are in the log. After start-up fd 2 is the terminal again, and
TF_CPP_MIN_LOG_LEVEL=2 lets TensorFlow's real errors through.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import tempfile
import threading
from collections.abc import Iterator

log = logging.getLogger(__name__)
MAX_LINES = 200  # a runaway stream must not flood the log
_lock = threading.RLock()  # fd 2 is process-wide: one redirection at a time (nesting is fine)


def quiet_tensorflow_env() -> None:
    """Ask TensorFlow for errors only (unless the user chose a level); call before importing it."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


@contextlib.contextmanager
def native_stderr_to_log(what: str = "tensorflow") -> Iterator[None]:
    """Send everything written to fd 2 inside the block to the log (INFO, one record per line)."""
    with _lock:
        _flush()
        try:
            saved = os.dup(2)
        except OSError:  # no fd 2 at all (a windowed Windows process): nothing to redirect
            saved = -1
        if saved < 0:
            yield
            return
        with tempfile.TemporaryFile() as sink:
            os.dup2(sink.fileno(), 2)
            try:
                yield
            finally:
                _flush()
                os.dup2(saved, 2)
                os.close(saved)
                sink.seek(0)
                _log_lines(what, sink.read().decode("utf-8", errors="replace"))


def _flush() -> None:
    for stream in (sys.stderr, sys.__stderr__):
        with contextlib.suppress(Exception):  # a closed or missing stream has nothing buffered
            if stream is not None:
                stream.flush()


def _log_lines(what: str, text: str) -> None:
    lines = [ln.rstrip() for ln in text.splitlines() if ln.strip()]
    for line in lines[:MAX_LINES]:
        log.info("%s stderr: %s", what, line[:1000])
    if len(lines) > MAX_LINES:
        log.info("%s stderr: %d more lines not logged", what, len(lines) - MAX_LINES)
