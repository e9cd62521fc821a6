"""Regression: a long GUI session must not abort with "Fatal Python error: none_dealloc".

Found by the load test: PySide6 6.12.0 on CPython 3.11 returns None/True/False from void
methods and ``Signal.emit`` without a reference, so a few hundred studies through the window
drove None's reference count to zero and killed the process. ``xray_desktop.ui`` pins the
singletons; this replays many such calls in a child process (an abort cannot be caught here).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
CALLS = 300_000  # far more than None's reference count in a fresh interpreter

CHILD = f"""
import sys
import xray_desktop.ui  # noqa: F401 - pins the singletons
from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QStandardItem
from PySide6.QtWidgets import QApplication, QLabel

class Emitter(QObject):
    changed = Signal(bool)

app = QApplication(sys.argv[:1])
item, label, emitter = QStandardItem(), QLabel(), Emitter()
emitter.changed.connect(lambda on: None)
for i in range({CALLS}):
    item.setData(None, 1)          # void method
    label.setText("x")             # void method
    emitter.changed.emit(i % 2 == 0)  # returns a bool
    label.parent()                 # returns None
print("survived")
"""


def test_many_qt_calls_do_not_free_the_singletons():
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", PYTHONPATH=str(REPO))
    out = subprocess.run([sys.executable, "-c", CHILD], capture_output=True, text=True, env=env, timeout=120)
    assert out.returncode == 0 and "survived" in out.stdout, out.stderr[-2000:]
