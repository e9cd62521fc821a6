"""Study loading: DICOM and PNG/JPEG to presentation pixels. No Qt, no TensorFlow."""

import os

# pylibjpeg-rle (Rust) panics on some corrupt RLE frames, which the loader refuses with one
# line. With RUST_BACKTRACE set (developer machines, CI images: it is set on this project's
# machines) Rust's panic hook first symbolises the stack from the debug information of the
# libraries on it (libpython: 23 MB here): 0.36-0.43 s wall, 0.12 s CPU for the first panic
# of a process with a warm disk cache, more from a cold one, and 76 lines on stderr, for a
# file we refuse anyway (issue 19.8). Rust reads the variable once, at the first panic; this
# runs at import, on the importing (main) thread, before any decoder thread exists, since
# setenv is not thread-safe.
os.environ["RUST_BACKTRACE"] = "0"

from xray_desktop.io.errors import StudyLoadError
from xray_desktop.io.loader import MAX_PIXELS, load_study
from xray_desktop.io.scan import ScanItem, scan

__all__ = ["MAX_PIXELS", "ScanItem", "StudyLoadError", "load_study", "scan"]
