"""The Qt user interface: main window, panels, worker threads. Qt is imported only here and in app.py (launch)."""

from __future__ import annotations

import sys


def _pin_singletons() -> None:
    """Keep ``None``, ``True`` and ``False`` alive for the whole session on Python < 3.12.

    PySide6 6.12.0 on CPython 3.11 returns these singletons from many calls (every void
    method such as ``setData``/``setText``, ``Signal.emit``) without taking a reference, so
    each call lowers their reference count by one; after some thousands of calls (a few
    hundred studies in a batch) the interpreter aborts with "Fatal Python error:
    none_dealloc" (or bool_dealloc). Python 3.12 made them immortal; here we give them
    enough references to outlive any session. PySide6 6.11.3 does not have the bug.
    """
    if sys.version_info >= (3, 12) or sys.implementation.name != "cpython":
        return
    import PySide6

    if PySide6.__version__ != "6.12.0":  # pyproject excludes it; this guards a stray install
        return
    import ctypes

    for obj in (None, True, False):
        refcnt = ctypes.c_ssize_t.from_address(id(obj))  # ob_refcnt is PyObject's first field
        if refcnt.value < 1 << 40:
            refcnt.value += 1 << 40


_pin_singletons()
