"""Operating points come from a source: the card's validation or a site profile (round trip, refusals)."""

import json

import pytest

from tests.model.tiny_model import synthetic_card
from xray_desktop.model import site_profile
from xray_desktop.model.card import ModelCard
from xray_desktop.model.operating_points import CardPoints, SitePoints, describe, source_for
from xray_desktop.model.site_profile import ProfileError, SiteProfile

SHA = "ab" * 32


def profile_fields(model_sha: str = SHA, threshold: float = 0.3) -> dict:
    return {
        "model": {"name": "tiny", "version": "0.0.1-test", "sha256": model_sha},
        "source": {"kind": "labelled archive"}, "n": {"studies": 120, "positive": 60, "negative": 60},
        "operating_points": {"site": {"threshold": threshold, "sensitivity": 0.95, "specificity": 0.6,
                                      "sensitivity_ci": [0.86, 0.98], "specificity_ci": [0.47, 0.71]}},
        "default_operating_point": "site",
        "roc": [{"threshold": 0.0, "sensitivity": 1.0, "specificity": 0.0},
                {"threshold": threshold, "sensitivity": 0.95, "specificity": 0.6},
                {"threshold": 1.0, "sensitivity": 0.0, "specificity": 1.0}],
    }


def test_card_source_says_its_figures_are_validation():
    card = ModelCard(synthetic_card(SHA, training_data={"validation": {"images": 784}}))
    src = source_for(card)
    assert isinstance(src, CardPoints) and src.kind == "card" and src.profile_id == ""
    assert [p.name for p in src.points()] == ["high-sensitivity", "balanced", "high-specificity"]
    p = src.point()
    assert (p.name, p.threshold, p.sensitivity) == ("balanced", 0.5, 0.875)
    assert p.origin == "validation (training source), n = 784"
    assert src.roc_table().rates_at(0.5).sensitivity == pytest.approx(card.rates_at(0.5).sensitivity)
    assert describe(p).endswith("— validation (training source), n = 784")


def test_profile_round_trip_through_a_file_and_the_site_source(tmp_path):
    data = site_profile.new_profile_data(**profile_fields())
    assert len(data["profile_id"]) == 16 and data["created_by"]["program"].startswith("xray-desktop")
    path = site_profile.save(data, tmp_path / "p.json")
    assert not [f for f in tmp_path.iterdir() if f.name.startswith(".")]  # no temp file left behind
    prof = SiteProfile.load(path)
    assert prof.data == data and prof.n == 120 and prof.model_sha256 == SHA
    src = source_for(ModelCard(synthetic_card(SHA)), path)
    assert isinstance(src, SitePoints) and src.kind == "site" and src.profile_id == data["profile_id"]
    p = src.point()
    assert (p.name, p.threshold, p.sensitivity_ci) == ("site", 0.3, (0.86, 0.98))
    assert p.origin == "site (n = 120)" and p.profile_id == data["profile_id"]
    assert "sensitivity 95.0 % (86.0–98.0 %)" in describe(p)
    assert src.roc_table().rates_at(0.3).specificity == pytest.approx(0.6)


def test_profile_for_another_model_is_refused(tmp_path):
    path = site_profile.save(site_profile.new_profile_data(**profile_fields("cd" * 32)), tmp_path / "p.json")
    with pytest.raises(ProfileError, match="made for another model"):
        source_for(ModelCard(synthetic_card(SHA)), path)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d.pop("model"), "lacks model"),
        (lambda d: d.update(format="other"), "not an xray-desktop site profile"),
        (lambda d: d.update(format_version=99), "newer than this program"),
        (lambda d: d.update(default_operating_point="x"), "default operating point"),
        (lambda d: d["operating_points"]["site"].update(threshold=1.5), "outside 0..1"),
        (lambda d: d.update(roc=[]), "malformed"),
    ],
)
def test_malformed_profiles_are_refused_with_a_reason(tmp_path, change, message):
    data = site_profile.new_profile_data(**profile_fields())
    change(data)
    path = tmp_path / "p.json"
    path.write_text(json.dumps(data))
    with pytest.raises(ProfileError, match=message):
        SiteProfile.load(path)


def test_unreadable_profiles(tmp_path):
    with pytest.raises(ProfileError, match="no site profile"):
        SiteProfile.load(tmp_path / "none.json")
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(ProfileError, match="unreadable"):
        SiteProfile.load(tmp_path / "bad.json")
    (tmp_path / "list.json").write_text("[]")
    with pytest.raises(ProfileError, match="not a JSON object"):
        SiteProfile.load(tmp_path / "list.json")


def test_default_location_audit_line_and_newest_for_the_model(tmp_path):
    first = site_profile.new_profile_data(**profile_fields())
    first["created_at"] = "2026-01-01T00:00:00+00:00"
    other = site_profile.new_profile_data(**profile_fields("cd" * 32))
    second = site_profile.new_profile_data(**profile_fields(threshold=0.4))
    paths = [site_profile.save(d) for d in (first, other, second)]
    assert all(p.parent == site_profile.profiles_dir() for p in paths)  # the per-user data dir
    for d, p in zip((first, second), (paths[0], paths[2]), strict=True):
        site_profile.record_creation(d, p)
    lines = [json.loads(x) for x in (site_profile.profiles_dir() / "audit.jsonl").read_text().splitlines()]
    assert [x["profile_id"] for x in lines] == [first["profile_id"], second["profile_id"]]
    assert lines[1]["threshold"] == 0.4 and lines[1]["model_sha256"] == SHA and len(lines[1]["file_sha256"]) == 64
    newest = site_profile.newest_for(SHA)
    assert newest is not None and newest.profile_id == second["profile_id"]
    assert site_profile.newest_for("ef" * 32) is None


def test_thin_roc_keeps_ends_and_the_operating_point():
    rows = [{"threshold": i / 1000, "sensitivity": 1 - i / 1000, "specificity": i / 1000} for i in range(1001)]
    thin = site_profile.thin_roc(rows, keep=[0.4567], max_rows=50)
    assert len(thin) <= 51 and thin[0] == rows[0] and thin[-1] == rows[-1]
    assert any(r["threshold"] == 0.457 for r in thin)  # the first row at or above the kept threshold
    assert site_profile.thin_roc(rows[:10], keep=[]) == rows[:10]
