"""The loader stays free of Qt and TensorFlow, even after decoding a study."""

from __future__ import annotations

from tests.import_check import heavy_modules_after


def test_import_pulls_no_qt_or_tensorflow():
    assert heavy_modules_after(
        "import xray_desktop.io\n"
        "from pydicom.data import get_testdata_file\n"
        "xray_desktop.io.load_study(get_testdata_file('CT_small.dcm'))"
    ) == []


def test_public_contract():
    import xray_desktop.io as io

    assert {"load_study", "scan", "StudyLoadError", "ScanItem", "MAX_PIXELS"} <= set(io.__all__)
    assert io.MAX_PIXELS == 100_000_000
