"""A dark, low-glare theme for a reading room."""

from __future__ import annotations

from PySide6.QtGui import QColor, QFont, QPalette
from PySide6.QtWidgets import QApplication

# Reading rooms are dim: keep the chrome dark and neutral so the radiograph is the brightest thing.
_BG = QColor(30, 31, 34)
_BASE = QColor(22, 23, 25)
_ALT = QColor(36, 38, 42)
_TEXT = QColor(222, 224, 228)
_DIM = QColor(130, 134, 142)
_ACCENT = QColor(74, 144, 217)

STYLE = """
QToolTip { color: #e0e2e6; background: #2a2c30; border: 1px solid #4a4d55; }
QGroupBox { border: 1px solid #3a3d44; border-radius: 4px; margin-top: 1.2em; padding-top: 4px; }
QGroupBox::title { subcontrol-origin: margin; left: 8px; padding: 0 4px; color: #b8bcc4; }
QLabel#probability { font-size: 22pt; font-weight: 600; }
QLabel#aiLabel { font-size: 12pt; font-weight: 600; }
QLabel#warning { color: #f0b45a; }
QLabel#error { color: #ef6b6b; }
QLabel#hint { color: #8a8e96; }
QPushButton:checked { background: #2f5f93; }
QSplitter::handle { background: #2a2c30; }
"""


def apply_dark_theme(app: QApplication) -> None:
    """Fusion style with a dark palette and a legible default font."""
    app.setStyle("Fusion")
    pal = QPalette()
    for role, color in (
        (QPalette.ColorRole.Window, _BG),
        (QPalette.ColorRole.WindowText, _TEXT),
        (QPalette.ColorRole.Base, _BASE),
        (QPalette.ColorRole.AlternateBase, _ALT),
        (QPalette.ColorRole.ToolTipBase, _ALT),
        (QPalette.ColorRole.ToolTipText, _TEXT),
        (QPalette.ColorRole.Text, _TEXT),
        (QPalette.ColorRole.Button, _ALT),
        (QPalette.ColorRole.ButtonText, _TEXT),
        (QPalette.ColorRole.BrightText, QColor(255, 90, 90)),
        (QPalette.ColorRole.Highlight, _ACCENT),
        (QPalette.ColorRole.HighlightedText, QColor(255, 255, 255)),
        (QPalette.ColorRole.Link, _ACCENT),
        (QPalette.ColorRole.PlaceholderText, _DIM),
    ):
        pal.setColor(role, color)
    for role in (QPalette.ColorRole.Text, QPalette.ColorRole.ButtonText, QPalette.ColorRole.WindowText):
        pal.setColor(QPalette.ColorGroup.Disabled, role, _DIM)
    app.setPalette(pal)
    font = QFont(app.font())
    font.setPointSizeF(max(font.pointSizeF(), 10.5))
    app.setFont(font)
    app.setStyleSheet(STYLE)
