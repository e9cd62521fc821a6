"""Fixtures for the reliability suite: offscreen Qt, isolated per-user paths, tiny model, window."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
REPO = Path(__file__).resolve().parents[2]
# The builders and fakes of the io and ui suites are plain modules in their folders.
for _folder in (REPO, REPO / "tests" / "io", REPO / "tests" / "ui"):
    if str(_folder) not in sys.path:
        sys.path.insert(0, str(_folder))


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real (tiny) Keras model folder with card and gate, built once per session."""
    pytest.importorskip("keras")
    from tests.model.tiny_model import build_tiny_model_dir

    return build_tiny_model_dir(tmp_path_factory.mktemp("tiny_model"))


@pytest.fixture
def open_window(qtbot: Any) -> Iterator[Callable[..., Any]]:
    """Factory: a shown MainWindow on a fresh store with the given classifier factory."""
    from xray_desktop import settings as keys
    from xray_desktop.records import Store
    from xray_desktop.ui.main_window import MainWindow
    from xray_desktop.ui.settings_store import SettingsStore
    from xray_desktop.ui.workers import configure_threads

    configure_threads()
    opened: list[tuple[Any, Any]] = []

    def make(classifier_factory: Callable[[], Any] | None) -> Any:
        settings = SettingsStore()
        settings.set(keys.REVIEWER, "Dr Reliability")
        store = Store.open()
        w = MainWindow(settings, store, classifier_factory)
        qtbot.addWidget(w)
        opened.append((w, store))
        w.show()
        qtbot.waitExposed(w)
        qtbot.waitUntil(lambda: w.inference.state in ("ready", "failed"), timeout=60_000)
        return w

    yield make
    for w, store in opened:
        w.shutdown()
        store.close()
    sys.setswitchinterval(0.005)  # Python's default; other tests expect it
