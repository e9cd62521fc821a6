"""Walk and decode files ahead of their use, on one background thread, in scan order.

Why: the headless ``predict`` alternates decoding (Pillow, pydicom, numpy) with the model
call; TensorFlow, Pillow's decoders and numpy's loops release the GIL, so a second thread
decodes the next files while the model runs instead of after it.
"""

from __future__ import annotations

import os
import queue
import threading
from collections.abc import Iterable, Iterator
from typing import NamedTuple

from xray_desktop.domain import Study
from xray_desktop.io.errors import StudyLoadError
from xray_desktop.io.loader import load_study
from xray_desktop.io.scan import ScanItem, scan


class Loaded(NamedTuple):
    """One file found by :func:`scan`: its study, or why there is none."""

    item: ScanItem
    study: Study | None
    error: str  # the skip reason or the load error; "" with a study


_END = object()


def prefetched(paths: Iterable[str | os.PathLike[str]], depth: int = 16) -> Iterator[Loaded]:
    """Yield every file under ``paths`` as :class:`Loaded`, in :func:`scan`'s order.

    At most ``depth`` decoded studies wait ahead of the caller (bounded memory). An
    unexpected exception of the walk is raised here; the thread stops when the caller stops
    iterating (closing the generator).
    """
    ahead: queue.Queue[object] = queue.Queue(maxsize=max(depth, 1))
    stop = threading.Event()

    def put(entry: object) -> bool:
        while not stop.is_set():
            try:
                ahead.put(entry, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def work() -> None:
        try:
            for item in scan(paths):
                if item.skip_reason:
                    entry = Loaded(item, None, item.skip_reason)
                else:
                    try:
                        entry = Loaded(item, load_study(item.path), "")
                    except StudyLoadError as exc:
                        entry = Loaded(item, None, str(exc))
                if not put(entry):
                    return
        except BaseException as exc:  # noqa: BLE001 - handed to the caller and raised there
            put(exc)
            return
        put(_END)

    threading.Thread(target=work, name="xray-prefetch", daemon=True).start()
    try:
        while True:
            entry = ahead.get()
            if entry is _END:
                return
            if isinstance(entry, BaseException):
                raise entry
            assert isinstance(entry, Loaded)
            yield entry
    finally:
        stop.set()
