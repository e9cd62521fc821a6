"""predict --site-profile: the site's threshold, recorded in the CSV; a profile for another model refused."""

import json

from tests.model.test_commands import folder, read_csv, tiny_dir, tiny_model  # noqa: F401 -- fixtures
from tests.model.test_operating_points import profile_fields
from xray_desktop.cli import main
from xray_desktop.model import site_profile


def test_predict_uses_the_site_profile_and_records_it(tiny_dir, folder, tmp_path, capsys):  # noqa: F811
    card_sha = json.loads((tiny_dir / "model_card.json").read_text())["sha256"]
    data = site_profile.new_profile_data(**profile_fields(card_sha, threshold=0.0))
    path = site_profile.save(data, tmp_path / "site.json")
    assert main(["predict", str(folder / "good1.png"), "--site-profile", str(path), "--no-heatmap",
                 "--model-dir", str(tiny_dir)]) == 0
    row = read_csv(capsys.readouterr().out)[0]
    assert float(row["threshold"]) == 0.0 and row["ai_label"] == "PNEUMONIA"
    assert row["operating_point"] == "site" and row["site_profile"] == data["profile_id"]
    assert row["model_sha256"] == card_sha
    # without a profile the new columns say which model, and no profile
    assert main(["predict", str(folder / "good1.png"), "--no-heatmap", "--model-dir", str(tiny_dir)]) == 0
    text = capsys.readouterr().out
    assert text.splitlines()[0].endswith(",elapsed_ms,model_sha256,site_profile")  # appended at the end
    row = read_csv(text)[0]
    assert row["site_profile"] == "" and row["model_sha256"] == card_sha and row["operating_point"] == "balanced"


def test_predict_refuses_a_profile_for_another_model(tiny_dir, folder, tmp_path, capsys):  # noqa: F811
    path = site_profile.save(site_profile.new_profile_data(**profile_fields("cd" * 32)), tmp_path / "other.json")
    assert main(["predict", str(folder), "--site-profile", str(path), "--model-dir", str(tiny_dir)]) == 1
    err = capsys.readouterr().err
    assert "made for another model" in err and len(err.strip().splitlines()) == 1
    assert main(["predict", str(folder), "--site-profile", str(tmp_path / "none.json"),
                 "--model-dir", str(tiny_dir)]) == 1
    assert "no site profile" in capsys.readouterr().err
    assert main(["predict", str(folder), "--site-profile", str(path), "--threshold", "0.3"]) == 2
    assert "exclude each other" in capsys.readouterr().err


def test_unknown_site_operating_point(tiny_dir, folder, tmp_path, capsys):  # noqa: F811
    card_sha = json.loads((tiny_dir / "model_card.json").read_text())["sha256"]
    path = site_profile.save(site_profile.new_profile_data(**profile_fields(card_sha)), tmp_path / "site.json")
    assert main(["predict", str(folder), "--site-profile", str(path), "--operating-point", "balanced",
                 "--model-dir", str(tiny_dir)]) == 1
    assert "unknown site operating point 'balanced'" in capsys.readouterr().err

