"""The review keys and the focus rules of the window (issues 17.11, 18.3).

* P/N/I/O, 1–5, Ctrl+Enter, J/K, [/], H, F and Space work wherever the focus is, except inside a
  text field (note, other finding, a number box): the work list's and the sort box's
  type-ahead search must not swallow them, whether or not the window's shortcuts fire.
* Focus never moves into a text field by itself; Esc in a text field goes back to the list.
* Down/Up move in the list unless a slider, combo box or text field wants the arrows.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtGui import QKeyEvent, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QAbstractSlider,
    QAbstractSpinBox,
    QApplication,
    QComboBox,
    QLineEdit,
    QPlainTextEdit,
    QTextEdit,
    QWidget,
)

from xray_desktop.domain import Diagnosis

_TEXT_INPUTS = (QLineEdit, QTextEdit, QPlainTextEdit, QAbstractSpinBox)
_PLAIN = (Qt.KeyboardModifier.NoModifier, Qt.KeyboardModifier.KeypadModifier)
# Keys that are shortcuts of the reading loop. Item views and combo boxes accept the
# ShortcutOverride of printable keys for their type-ahead search, which stopped P in the list.
REVIEW_KEYS = frozenset({Qt.Key.Key_P, Qt.Key.Key_N, Qt.Key.Key_I, Qt.Key.Key_O, Qt.Key.Key_J, Qt.Key.Key_K,
                         Qt.Key.Key_H, Qt.Key.Key_F, Qt.Key.Key_1, Qt.Key.Key_2, Qt.Key.Key_3, Qt.Key.Key_4,
                         Qt.Key.Key_5, Qt.Key.Key_BracketLeft, Qt.Key.Key_BracketRight})
_ENTER = (Qt.Key.Key_Return, Qt.Key.Key_Enter)


def is_typing(w: QWidget | None) -> bool:
    """Whether ``w`` takes typed text (then letters and digits are text, not commands)."""
    if isinstance(w, QComboBox):
        return w.isEditable()
    return isinstance(w, _TEXT_INPUTS)


def build_shortcuts(w: Any) -> dict[str, QShortcut]:
    """The window's review shortcuts (window context); returns them by key for tests."""
    dx = w.diagnosis_panel

    def other() -> None:
        # O is the reader's own request to describe a finding: the one key that enters a text field.
        w._set_diagnosis(Diagnosis.OTHER)
        if dx.isEnabled():
            dx.other_edit.setFocus(Qt.FocusReason.ShortcutFocusReason)

    table: list[tuple[str, Callable[[], Any]]] = [
        ("P", lambda: w._set_diagnosis(Diagnosis.PNEUMONIA)),
        ("N", lambda: w._set_diagnosis(Diagnosis.NORMAL)),
        ("I", lambda: w._set_diagnosis(Diagnosis.INDETERMINATE)),
        ("O", other),
        ("J", lambda: w.list_panel.step(1)),
        ("K", lambda: w.list_panel.step(-1)),
        ("[", lambda: w.step_image(-1)),  # the previous / next image of the study (PA, lateral, ...)
        ("]", lambda: w.step_image(1)),
        ("Ctrl+Return", w.confirm),
        ("Ctrl+Enter", w.confirm),
    ]
    table += [(str(n), lambda n=n: dx.isEnabled() and dx.set_confidence(n)) for n in range(1, 6)]
    shortcuts: dict[str, QShortcut] = {}
    for key, fn in table:
        sc = QShortcut(QKeySequence(key), w)
        sc.setContext(Qt.ShortcutContext.WindowShortcut)
        sc.activated.connect(fn)
        shortcuts[key] = sc
    # The same commands by key, for key presses no shortcut took: a shortcut fires only while
    # its window is the active one, and after a dialog closed (the reviewer's name at start,
    # seen under X11) the window had the keyboard but was not active, so P went to the
    # list's type-ahead.
    w.review_commands = {QKeySequence(k)[0].key(): sc.activated.emit for k, sc in shortcuts.items()
                         if "+" not in k}
    w.review_commands[Qt.Key.Key_H] = w.viewer.heatmap_action.trigger
    w.review_commands[Qt.Key.Key_F] = w.viewer.fit_action.trigger
    return shortcuts


class ReviewKeyFilter(QObject):
    """Event filter for the window's keys, on the window and on its widgets that take focus.

    Key events go to the focus widget (else the window), so the filter sits on those rather
    than on the whole application: an application filter runs Python, and takes the GIL from
    the decoding threads, for every paint, timer and queued signal of every object, which made
    opening a 200-study folder stall the window for over 100 ms. Widgets made later are
    caught when they get the focus.
    """

    def __init__(self, window: Any) -> None:
        super().__init__(window)
        self.w = window
        self._watched: set[int] = set()
        for widget in [window, *window.findChildren(QWidget)]:
            if widget is window or widget.focusPolicy() != Qt.FocusPolicy.NoFocus:
                self._watch(widget)
        QApplication.instance().focusChanged.connect(self._on_focus_changed)  # type: ignore[attr-defined]

    def _watch(self, widget: QWidget) -> None:
        if id(widget) not in self._watched:
            self._watched.add(id(widget))
            widget.installEventFilter(self)
            widget.destroyed.connect(lambda _=None, k=id(widget): self._watched.discard(k))

    def detach(self) -> None:
        """Stop following the focus (the window is closing)."""
        try:
            QApplication.instance().focusChanged.disconnect(self._on_focus_changed)  # type: ignore[attr-defined]
        except (RuntimeError, TypeError):
            pass

    def _on_focus_changed(self, _old: QWidget | None, now: QWidget | None) -> None:
        if now is not None and self._ours(now):
            self._watch(now)

    def _ours(self, obj: QObject) -> bool:
        return isinstance(obj, QWidget) and (obj is self.w or self.w.isAncestorOf(obj))

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:
        kind = event.type()
        if kind not in (QEvent.Type.KeyPress, QEvent.Type.KeyRelease, QEvent.Type.ShortcutOverride) \
                or not self._ours(obj):
            return False
        ke: QKeyEvent = event  # type: ignore[assignment]
        focus = QApplication.focusWidget()
        typing = is_typing(focus)
        plain = ke.modifiers() in _PLAIN
        ctrl_enter = ke.key() in _ENTER and bool(ke.modifiers() & Qt.KeyboardModifier.ControlModifier)
        if kind == QEvent.Type.ShortcutOverride:
            # Not accepting the override lets the window's shortcut fire instead of the
            # widget's own use of the key (type-ahead in the list; a new line in the note).
            if (not typing and plain and ke.key() in REVIEW_KEYS) or ctrl_enter:
                event.ignore()
                return True
            return False
        if ke.key() == Qt.Key.Key_Escape and typing and self.w.isAncestorOf(focus):
            if kind == QEvent.Type.KeyPress:
                self.w.focus_work_list()
            return True
        if ctrl_enter and kind == QEvent.Type.KeyPress:  # no shortcut took it (window not active)
            self.w.confirm()
            return True
        if typing:
            return False
        command = self.w.review_commands.get(ke.key()) if plain else None
        if command is not None:
            if kind == QEvent.Type.KeyPress:
                command()
            return True
        if ke.key() == Qt.Key.Key_Space and plain:
            # Space held hides overlays: that needs press *and* release, which QShortcut cannot give.
            if not ke.isAutoRepeat():
                self.w.viewer.view.set_overlays_hidden(kind == QEvent.Type.KeyPress)
            return True
        if ke.key() == Qt.Key.Key_Question:
            if kind == QEvent.Type.KeyPress:  # "?" is Shift+/ on most layouts: match the character
                self.w.show_shortcuts()
            return True
        if ke.key() in (Qt.Key.Key_Down, Qt.Key.Key_Up) and plain \
                and not isinstance(focus, QAbstractSlider | QComboBox):
            if kind == QEvent.Type.KeyPress:
                self.w.list_panel.step(1 if ke.key() == Qt.Key.Key_Down else -1)
            return True
        return False
