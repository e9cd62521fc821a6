"""Issue 19.4: only the pinned bundled model, or one explicitly trusted, loads (no TensorFlow)."""

from __future__ import annotations

import json
import os
import shutil
import zipfile
from pathlib import Path

import pytest

from xray_desktop.cli import main
from xray_desktop.io.loader import file_sha256
from xray_desktop.model.classifier import ModelError, verify_model_dir
from xray_desktop.model.trust import BUNDLED_MODEL_ID, card_identity, custom_label, trust_file, trusted_record
from xray_desktop.resources import model_dir

BUNDLED = model_dir()


def test_pinned_id_is_the_bundled_card() -> None:
    card = json.loads((BUNDLED / "model_card.json").read_text(encoding="utf-8"))
    found = card_identity(card)
    assert found == BUNDLED_MODEL_ID, (
        f"resources/models/model_card.json changed (retrained?): set BUNDLED_MODEL_ID in "
        f"xray_desktop/model/trust.py to {found!r}"
    )
    assert verify_model_dir(BUNDLED).sha256 == card["sha256"]  # the bundled model loads untrusted


def _copy(tmp_path: Path) -> Path:
    d = tmp_path / "model"
    shutil.copytree(BUNDLED, d)
    return d


def _rehash(d: Path) -> None:
    card = json.loads((d / "model_card.json").read_text(encoding="utf-8"))
    card["sha256"] = file_sha256(d / card["file"])
    (d / "model_card.json").write_text(json.dumps(card, indent=1), encoding="utf-8")


def test_replaced_model_with_rehashed_card_is_refused(tmp_path: Path) -> None:
    d = _copy(tmp_path)
    with zipfile.ZipFile(d / "pneumonia_cnn.keras", "a") as zf:  # still a valid archive, other content
        zf.writestr("assets/extra.txt", "changed")
    _rehash(d)
    with pytest.raises(ModelError, match="not the bundled model .* run: xray-desktop model trust"):
        verify_model_dir(d)


def test_card_with_lowered_bias_is_refused(tmp_path: Path) -> None:
    d = _copy(tmp_path)
    card = json.loads((d / "model_card.json").read_text(encoding="utf-8"))
    card["calibration"]["bias"] = float(card["calibration"].get("bias", 0.0)) - 8.0  # everything NORMAL
    (d / "model_card.json").write_text(json.dumps(card), encoding="utf-8")
    with pytest.raises(ModelError, match="not the bundled model"):
        verify_model_dir(d)


def test_reformatted_bundled_card_is_still_the_bundled_model(tmp_path: Path) -> None:
    d = _copy(tmp_path)
    card = json.loads((d / "model_card.json").read_text(encoding="utf-8"))
    (d / "model_card.json").write_text(json.dumps(card, indent=4, sort_keys=True), encoding="utf-8")
    verify_model_dir(d)


def test_trust_step_is_explicit_and_recorded(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    d = _copy(tmp_path)
    with zipfile.ZipFile(d / "pneumonia_cnn.keras", "a") as zf:
        zf.writestr("assets/extra.txt", "site build")
    _rehash(d)
    identity = card_identity(json.loads((d / "model_card.json").read_text(encoding="utf-8")))
    assert trusted_record(identity) is None
    assert main(["model", "trust", str(d)]) == 0
    out = capsys.readouterr().out
    assert "as a custom model" in out and identity in out
    record = trusted_record(identity)
    assert record is not None and record["folder"] == str(d.resolve()) and record["trusted_at"]
    assert record["model_sha256"] == file_sha256(d / "pneumonia_cnn.keras")
    if os.name == "posix":
        assert trust_file().stat().st_mode & 0o777 == 0o600
    verify_model_dir(d)  # now it loads
    assert custom_label("1.0.0", identity) == f"1.0.0 (custom model, card sha256 {identity[:16]})"
    # a torn line (crash while appending) is ignored, never trusted
    with open(trust_file(), "a", encoding="utf-8") as fh:
        fh.write('{"card_sha256": "')
    assert trusted_record(identity) is not None and trusted_record("0" * 64) is None


def test_trust_refuses_a_tampered_folder_and_the_bundled_needs_none(tmp_path: Path, capsys) -> None:
    d = _copy(tmp_path)
    (d / "weights.h5").write_bytes(b"\x89HDF")
    assert main(["model", "trust", str(d)]) == 1
    assert "unexpected file weights.h5" in capsys.readouterr().err
    assert not trust_file().exists()
    assert main(["model", "trust", str(tmp_path / "nowhere")]) == 1
    assert "no model folder" in capsys.readouterr().err
    assert main(["model", "trust", str(BUNDLED)]) == 0
    assert "needs no trust step" in capsys.readouterr().out
    with pytest.raises(SystemExit) as exc:
        main(["model"])
    assert exc.value.code == 2
