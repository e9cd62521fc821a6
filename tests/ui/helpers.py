"""Shared helpers for the UI tests."""

from __future__ import annotations

import time
from pathlib import Path

from fakes import write_broken, write_png

from xray_desktop.ui.study_list import DONE


def make_folder(root: Path, levels=(0.2, 0.5, 0.8), broken: int = 1, ood: int = 0) -> Path:
    """A folder of small PNGs (probability ~ level), plus broken and out-of-scope files."""
    folder = root / "studies"
    for i, level in enumerate(levels):
        write_png(folder / f"study_{i:03d}.png", level)
    for i in range(broken):
        write_broken(folder / f"broken_{i}.png")
    for i in range(ood):
        write_png(folder / f"ood_{i}.png", 0.6)
    return folder


def view_order(panel) -> list[int]:
    """Source rows in the order the list panel shows them."""
    return [panel.proxy.mapToSource(panel.proxy.index(r, 0)).row() for r in range(panel.proxy.rowCount())]


def settled(w) -> bool:
    """Every row is finished and nothing is pending."""
    return (bool(w.model.rows) and not w.batch.busy() and all(r.status in DONE for r in w.model.rows)
            and not w.model.has_pending_changes())


def open_and_wait(qtbot, w, paths, n_rows: int, timeout: int = 10_000) -> None:
    w.open_paths(paths)
    qtbot.waitUntil(lambda: len(w.model.rows) == n_rows and settled(w), timeout=timeout)


def row_by_name(w, name: str) -> int:
    return next(i for i, r in enumerate(w.model.rows) if r.path.name == name)


def select(qtbot, w, row: int) -> None:
    """Select a row and wait until its study (and AI answer, if any) is on screen."""
    w.list_panel.select_source_row(row)
    qtbot.waitUntil(lambda: w.viewer.view.study() is not None and w.session.pred_rid == 0, timeout=5000)


class Heartbeat:
    """A 10 ms GUI timer: ``gaps`` holds (gap in ms, seconds since start) for each tick.

    A gap well over the interval is a stall of the event loop (what a reader feels as a freeze).
    """

    def __init__(self, interval_ms: int = 10) -> None:
        from PySide6.QtCore import QTimer

        self.gaps: list[tuple[float, float]] = []
        self._timer = QTimer()
        self._timer.setInterval(interval_ms)
        self._timer.timeout.connect(self._beat)
        self.t0 = self._last = time.perf_counter()

    def start(self) -> None:
        self.t0 = self._last = time.perf_counter()
        self._timer.start()

    def stop(self) -> None:
        self._timer.stop()

    def _beat(self) -> None:
        now = time.perf_counter()
        self.gaps.append(((now - self._last) * 1000, now - self.t0))
        self._last = now
