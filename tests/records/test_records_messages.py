"""Messages that point the user somewhere must point at something that exists (#16.6)."""

from __future__ import annotations

import pytest
from records_helpers import REPO, make_input

from xray_desktop.records import InvalidReadError, Store


def test_missing_reviewer_names_the_menu_that_sets_it(store: Store) -> None:
    with pytest.raises(InvalidReadError, match="File > Change reviewer…") as err:
        store.add_read(make_input(reviewer="  "))
    assert "preferences" not in str(err.value)  # there is no preferences dialog
    assert '"Change reviewer…"' in (REPO / "xray_desktop" / "ui" / "menus.py").read_text(encoding="utf-8")
