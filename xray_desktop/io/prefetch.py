"""Walk and decode files ahead of their use, on one background thread, in scan order.

Why: the headless ``predict`` alternates decoding (Pillow, pydicom, numpy) with the model
call; TensorFlow, Pillow's decoders and numpy's loops release the GIL, so a second thread
decodes the next files while the model runs instead of after it.
"""

from __future__ import annotations

import os
import queue
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import Any, NamedTuple

from xray_desktop.domain import Study
from xray_desktop.io.errors import StudyLoadError
from xray_desktop.io.loader import load_study
from xray_desktop.io.scan import ScanItem, scan


class Loaded(NamedTuple):
    """One file found by :func:`scan`: its study, or why there is none."""

    item: ScanItem
    study: Study | None
    error: str  # the skip reason or the load error; "" with a study
    prepared: Any = None  # prepare(study), when asked for and it succeeded


_END = object()


def _prepared(prepare: Callable[[Study], Any] | None, study: Study) -> Any:
    if prepare is None:
        return None
    try:
        return prepare(study)
    except Exception:  # noqa: BLE001 - computed again, and raised, by the caller
        return None


def prefetched(paths: Iterable[str | os.PathLike[str]], depth: int = 16,
               prepare: Callable[[Study], Any] | None = None) -> Iterator[Loaded]:
    """Yield every file under ``paths`` as :class:`Loaded`, in :func:`scan`'s order.

    ``prepare`` runs on each loaded study on the same thread (the headless ``predict``:
    the model input and the gate's rules); if it raises, ``prepared`` stays None and the
    caller computes it again, so the error surfaces where it always did.

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
                        study = load_study(item.path)
                    except StudyLoadError as exc:
                        entry = Loaded(item, None, str(exc))
                    else:
                        entry = Loaded(item, study, "", _prepared(prepare, study))
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
