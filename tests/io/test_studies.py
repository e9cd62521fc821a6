"""Issue 14.1: files grouped into studies (headers only), and the image the AI reads."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest
from io_helpers import chest_like, png_bytes, study_dicom

from xray_desktop.io.studies import ImageStudy, StudyImage, choose_ai_image, group_studies

S1, S2 = "1.2.826.0.1.3680043.8.498.1", "1.2.826.0.1.3680043.8.498.2"


@pytest.fixture
def mixed(tmp_path: Path) -> Path:
    """Two DICOM studies spread over folders with file names out of order, a PNG, a text file."""
    root = tmp_path / "in"
    study_dicom(root / "z" / "001.dcm", S1, series=2, instance=1, view="LL", seed=1)  # lateral, series 2
    study_dicom(root / "a" / "zzz.dcm", S1, series=1, instance=2, view="AP", seed=2)
    study_dicom(root / "m" / "b.dcm", S1, series=1, instance=1, view="PA", seed=3)
    study_dicom(root / "a" / "aaa.dcm", S2, series=1, instance=1, view="AP", seed=4)
    (root / "a" / "film.png").write_bytes(png_bytes(chest_like(32, 32, top=255).astype(np.uint8)))
    (root / "notes.txt").write_text("hello")
    return root


def _by_uid(studies: list[ImageStudy]) -> dict[str, ImageStudy]:
    return {s.key: s for s in studies}


def test_dicoms_group_by_study_uid_in_series_and_instance_order(mixed: Path) -> None:
    studies = group_studies([mixed])
    got = _by_uid(studies)
    s1 = got[S1]
    assert [(i.series_number, i.instance_number, i.view) for i in s1.images] == [(1, 1, "PA"), (1, 2, "AP"),
                                                                                   (2, 1, "LL")]
    assert s1.views == "PA, AP, LL" and s1.laterals == (s1.images[2],)
    assert [i.path.name for i in got[S2].images] == ["aaa.dcm"]
    png = mixed / "a" / "film.png"
    sha = hashlib.sha256(png.read_bytes()).hexdigest()
    assert got[sha].images == (StudyImage(png, "PNG", sha256=sha),) and got[sha].study_uid == ""
    errors = [s for s in studies if s.error]
    assert [(s.key, s.images[0].path.name) for s in errors] == [("", "notes.txt")]
    assert len(studies) == 4


def test_grouping_does_not_depend_on_the_order_paths_are_given(mixed: Path) -> None:
    files = sorted(p for p in mixed.rglob("*.dcm"))
    forward = _by_uid(group_studies(files))
    backward = _by_uid(group_studies(list(reversed(files))))
    assert {k: [i.path for i in s.images] for k, s in forward.items()} == {
        k: [i.path for i in s.images] for k, s in backward.items()}


def test_a_file_given_twice_counts_once(mixed: Path) -> None:
    once = _by_uid(group_studies([mixed]))
    twice = _by_uid(group_studies([mixed, mixed / "m" / "b.dcm"]))
    assert [i.path for i in twice[S1].images] == [i.path for i in once[S1].images]


def test_a_dicom_without_study_uid_is_its_own_study_keyed_by_sha256(tmp_path: Path) -> None:
    a = study_dicom(tmp_path / "a.dcm", None, seed=1)
    b = study_dicom(tmp_path / "b.dcm", None, seed=2)
    studies = group_studies([tmp_path])
    assert [s.key for s in studies] == [hashlib.sha256(p.read_bytes()).hexdigest() for p in (a, b)]
    assert all(len(s.images) == 1 and s.study_uid == "" for s in studies)


def test_missing_series_and_instance_numbers_sort_last(tmp_path: Path) -> None:
    study_dicom(tmp_path / "1.dcm", S1, series=None, instance=None, view="PA", seed=1)
    study_dicom(tmp_path / "2.dcm", S1, series=3, instance=None, view="PA", seed=2)
    study_dicom(tmp_path / "3.dcm", S1, series=3, instance=1, view="PA", seed=3)
    (study,) = group_studies([tmp_path])
    assert [i.path.name for i in study.images] == ["3.dcm", "2.dcm", "1.dcm"]
    assert [i.label for i in study.images] == ["series 3, image 1", "series 3", "1.dcm"]


def test_an_unreadable_dicom_is_an_error_entry_not_a_crash(tmp_path: Path) -> None:
    good = study_dicom(tmp_path / "a.dcm", S1)
    bad = tmp_path / "b.dcm"
    # a file meta element declaring more bytes than the file has
    bad.write_bytes(b"\0" * 128 + b"DICM" + b"\x02\x00\x10\x00UI" + (1000).to_bytes(2, "little") + b"1.2")
    studies = group_studies([tmp_path])
    assert [s.key for s in studies] == [S1, ""]
    assert "truncated or corrupt" in studies[1].error and studies[1].images[0].path == bad
    assert good.exists()


# -- the image the AI reads ---------------------------------------------------------------

def _img(name: str, view: str, series: int = 1, instance: int = 1) -> StudyImage:
    return StudyImage(Path(name), "DICOM", S1, f"{S1}.{series}", series, instance, f"{S1}.{series}.{instance}", view)


def _study(*images: StudyImage) -> ImageStudy:
    return ImageStudy(S1, S1, tuple(sorted(images, key=StudyImage.order_key)))


def test_pa_before_ap_before_lateral_with_a_reason() -> None:
    study = _study(_img("lat", "LL", 2), _img("ap", "AP", 1, 1), _img("pa", "PA", 1, 2))
    choice = choose_ai_image(study)
    assert choice.image is not None and choice.image.path.name == "pa"
    assert choice.reason == ("series 1, image 2 (PA): of 2 frontal images (PA, AP) the AI reads one, PA before AP, "
                             "then the lowest series/instance number; 1 lateral view shown, not scored")


def test_two_pa_images_the_lowest_series_instance_wins() -> None:
    study = _study(_img("late", "PA", 2, 1), _img("early", "PA", 1, 5))
    assert choose_ai_image(study).image.path.name == "early"  # type: ignore[union-attr]


def test_a_refused_candidate_gives_way_to_the_next_and_the_reason_says_so() -> None:
    study = _study(_img("pa", "PA"), _img("ap", "AP", 1, 2))
    choice = choose_ai_image(study, {Path("pa"): "image is blank or nearly uniform"})
    assert choice.image.path.name == "ap"  # type: ignore[union-attr]
    assert "series 1, image 1 (PA) not used: image is blank or nearly uniform" in choice.reason


def test_without_view_positions_the_gate_decides_in_series_order() -> None:
    study = _study(_img("second", "", 1, 2), _img("first", "", 1, 1))
    choice = choose_ai_image(study)
    assert choice.image.path.name == "first"  # type: ignore[union-attr]
    assert "input gate accepts as a frontal film" in choice.reason
    # the gate refused the first (a lateral without ViewPosition, say): the second is read
    assert choose_ai_image(study, {Path("first"): "unlike the training films"}).image.path.name == "second"  # type: ignore[union-attr]


def test_lateral_only_or_all_refused_is_no_choice() -> None:
    lateral = choose_ai_image(_study(_img("lat", "LL")))
    assert lateral.image is None and lateral.reason.startswith("no frontal image (views: LL)")
    refused = choose_ai_image(_study(_img("pa", "PA")), {Path("pa"): "cannot decode"})
    assert refused.image is None and "cannot decode" in refused.reason


def test_single_png_study_reason() -> None:
    study = ImageStudy("ab" * 32, "", (StudyImage(Path("x.png"), "PNG", sha256="ab" * 32),))
    assert choose_ai_image(study).reason == "the study's only image"


def test_a_study_found_later_merges_in_study_order_and_lists_its_image_ids(mixed: Path) -> None:
    """The GUI's join: images of a listed study arriving later (another folder, the next instance)."""
    from xray_desktop.io.studies import image_ids, merge_studies, with_hashes

    first = _by_uid(group_studies([mixed / "z"]))[S1]  # the lateral alone
    later = _by_uid(group_studies([mixed / "m", mixed / "z"]))[S1]  # the PA, and the lateral again
    merged = merge_studies(first, later)
    assert [(i.view, i.path.name) for i in merged.images] == [("PA", "b.dcm"), ("LL", "001.dcm")]
    assert image_ids(merged) == ()  # grouping hashes only what it keys by
    hashed = ImageStudy(merged.key, merged.study_uid, tuple(with_hashes(merged.images)))
    ids = image_ids(hashed)
    assert [k for k, _ in ids] == [i.sop_instance_uid for i in merged.images]
    assert [h for _, h in ids] == [hashlib.sha256(i.path.read_bytes()).hexdigest() for i in merged.images]
    gone = with_hashes([StudyImage(mixed / "nope.dcm", "DICOM")])[0]
    assert gone.kind == "DICOM" and gone.error.startswith("cannot read")
