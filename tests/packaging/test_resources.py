"""Resource lookup in both layouts: the source tree and a PyInstaller bundle (sys._MEIPASS)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from xray_desktop import resources


@pytest.fixture
def bundle(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fake one-folder bundle: sys._MEIPASS points at a folder holding resources/."""
    root = tmp_path / "dist" / "xray-desktop" / "_internal"
    models = root / "resources" / "models"
    models.mkdir(parents=True)
    (models / "model_card.json").write_text("{}")
    (root / "resources" / "icons").mkdir()
    monkeypatch.setattr(sys, "_MEIPASS", str(root), raising=False)
    return root


def test_frozen_layout_resolves_under_meipass(bundle: Path) -> None:
    assert resources.resource_root() == bundle
    assert resources.resource_path("models", "model_card.json") == bundle / "resources" / "models" / "model_card.json"
    assert resources.resource_path("models", "model_card.json").is_file()
    assert resources.model_dir() == bundle / "resources" / "models"
    assert resources.icon_path() == bundle / "resources" / "icons" / "xray-desktop.svg"
    assert resources.icon_path(48) == bundle / "resources" / "icons" / "xray-desktop-48.png"


def test_frozen_layout_never_looks_at_the_source_tree(bundle: Path, repo: Path) -> None:
    for p in (resources.resource_path("x"), resources.model_dir(), resources.icon_path()):
        assert not p.is_relative_to(repo)


def test_source_layout_resolves_in_the_repo(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delattr(sys, "_MEIPASS", raising=False)
    assert resources.resource_root() == repo
    assert resources.resource_path("models") == repo / "resources" / "models"
    assert resources.model_dir() == repo / "resources" / "models"
    assert resources.icon_path().is_file()
    for size in resources.ICON_SIZES:
        assert resources.icon_path(size).is_file()


def test_model_dir_env_override_wins_in_both_layouts(bundle: Path, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XRAY_DESKTOP_MODEL_DIR", str(tmp_path / "site-model"))
    assert resources.model_dir() == tmp_path / "site-model"
    monkeypatch.delattr(sys, "_MEIPASS")
    assert resources.model_dir() == tmp_path / "site-model"


def test_icon_path_rejects_unknown_sizes() -> None:
    with pytest.raises(ValueError, match="sizes are"):
        resources.icon_path(100)


def test_settings_paths_never_next_to_the_executable(bundle: Path, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """Database and settings follow platformdirs (or the site's env settings), not sys._MEIPASS."""
    from xray_desktop import settings

    monkeypatch.setenv("HOME", str(tmp_path / "home"))  # XDG_DATA_HOME is already a tmp folder
    monkeypatch.delenv("XRAY_DESKTOP_DATA_DIR")
    monkeypatch.delenv("XRAY_DESKTOP_SETTINGS")
    exe_dir = bundle.parent
    for p in (settings.db_path(), settings.settings_file(), settings.config_dir()):
        assert not p.is_relative_to(exe_dir)
    monkeypatch.setenv("XRAY_DESKTOP_DB", str(tmp_path / "site" / "reads.sqlite3"))
    assert settings.db_path() == tmp_path / "site" / "reads.sqlite3"
