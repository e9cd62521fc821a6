"""QSettings wrapper: keys and defaults come from :mod:`xray_desktop.settings`, values come back typed."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from PySide6.QtCore import QSettings

from xray_desktop import settings as s

Spec = tuple[str, Any]


class SettingsStore:
    """Typed access to the GUI's ini file.

    An explicit ini file (``settings.settings_file()``, overridable with
    ``XRAY_DESKTOP_SETTINGS``) rather than the platform registry, so a test or a site can
    point it elsewhere and nothing ever leaks into the real user's settings.
    """

    def __init__(self, path: Path | None = None) -> None:
        self.path = Path(path) if path is not None else s.settings_file()
        # Owner-only (issue 19.5): recent folders are often patient names. QSettings rewrites
        # the file through QSaveFile, which keeps an existing file's permissions.
        s.private_dir(self.path.parent, tighten=path is None and not os.environ.get(s.ENV_SETTINGS))
        s.private_file(self.path)
        self._qs = QSettings(str(self.path), QSettings.Format.IniFormat)

    def get(self, spec: Spec) -> Any:
        """The stored value of ``spec = (key, default)``, coerced to the default's type."""
        key, default = spec
        value = self._qs.value(key, default)
        return _coerce(value, default)

    def get_optional_float(self, spec: Spec) -> float | None:
        """A float setting whose default is None (e.g. the threshold)."""
        value = self._qs.value(spec[0], None)
        try:
            return None if value in (None, "") else float(value)
        except (TypeError, ValueError):
            return None

    def set(self, spec: Spec, value: Any) -> None:
        """Store a value; None removes the key so the default applies again."""
        if value is None:
            self._qs.remove(spec[0])
        else:
            self._qs.setValue(spec[0], value)

    def sync(self) -> None:
        """Write pending changes to disk (and keep the file owner-only)."""
        self._qs.sync()
        s.private_file(self.path)


def _coerce(value: Any, default: Any) -> Any:
    # The ini format stores everything as text; bring it back to the declared type.
    if default is None:
        return value
    try:
        if isinstance(default, bool):
            return value if isinstance(value, bool) else str(value).lower() in ("true", "1", "yes")
        if isinstance(default, float):
            return float(value)
        if isinstance(default, int):
            return int(value)
        if isinstance(default, list):
            if value in (None, ""):
                return []
            return [str(v) for v in value] if isinstance(value, list | tuple) else [str(value)]
        if isinstance(default, str):
            return "" if value is None else str(value)
    except (TypeError, ValueError):
        return default
    return value
