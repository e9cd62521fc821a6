"""DICOM decoding: modality LUT, VOI, polarity, syntaxes, metadata and tags."""

from __future__ import annotations

import math

import numpy as np
import pydicom
import pytest
from io_helpers import build_dataset, chest_like, jpeg_dicom, rewrite_transfer_syntax, write
from pydicom.dataset import Dataset
from pydicom.uid import (
    BasicTextSRStorage,
    DeflatedExplicitVRLittleEndian,
    ExplicitVRBigEndian,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    SecondaryCaptureImageStorage,
)

from xray_desktop.io import StudyLoadError, load_study
from xray_desktop.io.voi import BLANK_NOTE

ARR = chest_like(80, 60, top=4095)


def test_monochrome1_and_monochrome2_present_the_same_image(dicom_file):
    m2 = load_study(dicom_file(ARR, "m2.dcm", WindowCenter=2000, WindowWidth=3000))
    m1 = load_study(
        dicom_file(
            (4095 - ARR).astype(np.uint16), "m1.dcm", photometric="MONOCHROME1", WindowCenter=2095, WindowWidth=3000
        )
    )
    assert not m2.inverted and m1.inverted
    # The standard LINEAR ramp is half a pixel asymmetric: allow 1/(width-1).
    np.testing.assert_allclose(m1.pixels, m2.pixels, atol=1.5 / 2999)
    # With no stored window the automatic window must agree too.
    a2 = load_study(dicom_file(ARR, "a2.dcm"))
    a1 = load_study(dicom_file((4095 - ARR).astype(np.uint16), "a1.dcm", photometric="MONOCHROME1"))
    np.testing.assert_allclose(a1.pixels, a2.pixels, atol=2e-3)
    assert a1.pixels[40, 30] > 0.8 and a1.pixels[0, 0] < 0.2  # bone bright, air dark


def test_presentation_lut_shape_inverse_inverts(dicom_file):
    plain = load_study(dicom_file(ARR, "p.dcm"))
    inv = load_study(dicom_file(ARR, "i.dcm", PresentationLUTShape="INVERSE"))
    assert inv.inverted and not plain.inverted
    np.testing.assert_allclose(inv.pixels, 1.0 - plain.pixels, atol=1e-6)
    np.testing.assert_array_equal(inv.raw, plain.raw)


def test_rescale_slope_intercept_applied(dicom_file):
    s = load_study(dicom_file(ARR, RescaleSlope=2, RescaleIntercept=-1024, WindowCenter=2000, WindowWidth=4000))
    np.testing.assert_array_equal(s.raw, ARR.astype(np.float32) * 2 - 1024)
    assert s.window == (2000.0, 4000.0)
    assert s.raw.dtype == np.float32 and s.pixels.dtype == np.float32


def test_modality_lut_sequence_applied(dicom_file):
    item = Dataset()
    item.LUTDescriptor = [4096, 0, 16]
    item.add_new(0x00283006, "US", [min(v * 3, 65535) for v in range(4096)])  # LUT Data
    item.ModalityLUTType = "US"
    s = load_study(dicom_file(ARR, ModalityLUTSequence=[item]))
    np.testing.assert_array_equal(s.raw, ARR.astype(np.float32) * 3)


def _ramp() -> np.ndarray:
    return np.tile(np.arange(0, 4096, 16, dtype=np.uint16), (8, 1))  # 8 x 256, values 0..4080


def test_linear_window_applied(dicom_file):
    s = load_study(dicom_file(_ramp(), WindowCenter=2048, WindowWidth=1025))
    row = s.pixels[0]
    assert s.window == (2048.0, 1025.0) and not s.notes
    assert row[0] == 0.0 and row[-1] == 1.0
    assert row[int(1500 / 16)] == 0.0 and row[int(2600 / 16)] == 1.0
    assert abs(row[2048 // 16] - 0.5) < 0.01  # x = center -> mid grey (DICOM LINEAR)
    assert np.all(np.diff(row) >= 0)


def test_sigmoid_window_applied(dicom_file):
    s = load_study(dicom_file(_ramp(), WindowCenter=2048, WindowWidth=1024, VOILUTFunction="SIGMOID"))
    row = s.pixels[0]
    assert abs(row[2048 // 16] - 0.5) < 1e-4
    expected = 1.0 / (1.0 + math.exp(-4 * (2560 - 2048) / 1024))  # x = c + w/2
    assert abs(row[2560 // 16] - expected) < 1e-4
    assert 0.0 < row[0] < 0.01 and 0.99 < row[-1] < 1.0


def test_voi_lut_sequence_applied(dicom_file):
    item = Dataset()
    item.LUTDescriptor = [4096, 0, 8]
    item.add_new(0x00283006, "US", [v // 16 for v in range(4096)])
    s = load_study(dicom_file(_ramp(), VOILUTSequence=[item]))
    np.testing.assert_allclose(s.pixels[0], (np.arange(0, 4096, 16) // 16) / 255.0, atol=1e-6)


def test_blank_stored_window_replaced_with_note(dicom_file):
    arr = (ARR // 2 + 1500).astype(np.uint16)  # 1500..3500: a CT window misses it all
    s = load_study(dicom_file(arr, WindowCenter=40, WindowWidth=400))
    assert BLANK_NOTE in s.notes
    assert s.window != (40.0, 400.0)
    assert s.pixels.std() > 0.15
    lo, hi = s.window[0] - s.window[1] / 2, s.window[0] + s.window[1] / 2
    assert 1500 <= lo < hi <= 3600


def test_no_stored_window_uses_robust_percentiles(dicom_file):
    arr = ARR.copy()
    arr[0, 0] = 4095  # one hot pixel must not squash the window
    arr[0, 1] = 0
    s = load_study(dicom_file(arr))
    lo, hi = np.percentile(arr, [0.5, 99.5])
    assert s.window == pytest.approx(((lo + hi) / 2, hi - lo), rel=1e-6)
    assert BLANK_NOTE not in s.notes


def test_uniform_image_refused(dicom_file):
    with pytest.raises(StudyLoadError, match="blank"):
        load_study(dicom_file(np.full((16, 16), 100, np.uint16)))


def test_signed_pixels(dicom_file):
    arr = (ARR.astype(np.int32) - 1000).astype(np.int16)
    s = load_study(dicom_file(arr, RescaleIntercept=0, RescaleSlope=1))
    np.testing.assert_array_equal(s.raw, arr.astype(np.float32))
    assert s.raw.min() < 0


def test_pixel_padding_excluded_and_black(dicom_file):
    arr = (ARR // 2 + 1000).astype(np.uint16)
    arr[:, :6] = 0  # collimation border marked as padding
    for photometric in ("MONOCHROME2", "MONOCHROME1"):
        s = load_study(dicom_file(arr, f"{photometric}.dcm", photometric=photometric, PixelPaddingValue=0))
        lo = s.window[0] - s.window[1] / 2
        assert lo >= 1000, "padding must not pull the automatic window down"
        assert np.all(s.pixels[:, :6] == 0.0)
        assert s.pixels[:, 6:].std() > 0.1


def test_multi_frame_first_frame_and_count(dicom_file):
    frames = np.stack([ARR, ARR[::-1], ARR[:, ::-1]])
    s = load_study(dicom_file(frames, frames=3))
    assert s.metadata.frames == 3
    assert "multi-frame: showing frame 1 of 3" in s.notes
    np.testing.assert_array_equal(s.raw, ARR.astype(np.float32))


def test_colour_converted_to_luminance(dicom_file):
    rgb = np.zeros((32, 32, 3), np.uint8)
    rgb[..., 0] = 200
    rgb[8:24, 8:24, 1] = 255
    s = load_study(dicom_file(rgb, photometric="RGB"))
    assert "colour image converted to grayscale" in s.notes
    luma = rgb[..., 0] * 0.299 + rgb[..., 1] * 0.587 + rgb[..., 2] * 0.114
    np.testing.assert_allclose(s.raw, luma, atol=1e-3)
    grey = np.repeat(ARR[..., None] // 16, 3, axis=2).astype(np.uint8)
    assert "colour image converted to grayscale" not in load_study(dicom_file(grey, "g.dcm", photometric="RGB")).notes


@pytest.mark.parametrize(
    "ts", [ExplicitVRLittleEndian, ImplicitVRLittleEndian, ExplicitVRBigEndian, DeflatedExplicitVRLittleEndian]
)
def test_native_transfer_syntaxes(tmp_path, ts):
    s = load_study(write(build_dataset(ARR), tmp_path / "x.dcm", ts))
    np.testing.assert_array_equal(s.raw, ARR.astype(np.float32))
    assert s.metadata.transfer_syntax == f"{ts.name} ({ts})"


def _encoder_or_skip(uid):
    enc = pydicom.pixels.get_encoder(uid)
    if not enc.is_available:
        pytest.skip(f"no pydicom encoder for {uid.name}: {enc.missing_dependencies}")


@pytest.mark.parametrize(
    ("uid", "kwargs", "exact"),
    [
        (pydicom.uid.RLELossless, {}, True),
        (pydicom.uid.JPEGLSLossless, {}, True),
        (pydicom.uid.JPEGLSNearLossless, {"jls_error": 3}, False),
        (pydicom.uid.JPEG2000Lossless, {}, True),
        (pydicom.uid.JPEG2000, {"j2k_cr": [20]}, False),
    ],
    ids=lambda v: getattr(v, "name", None),
)
def test_compressed_round_trip(tmp_path, uid, kwargs, exact):
    _encoder_or_skip(uid)
    ds = build_dataset(ARR, bits_stored=12)
    ds.compress(uid, **kwargs)
    path = tmp_path / "c.dcm"
    ds.save_as(path, enforce_file_format=True)
    s = load_study(path)
    assert s.metadata.transfer_syntax.endswith(f"({uid})")
    if exact:
        np.testing.assert_array_equal(s.raw, ARR.astype(np.float32))
    else:
        assert np.abs(s.raw - ARR).mean() < 100  # lossy, on a noisy 12-bit image


def test_jpeg_baseline_round_trip(tmp_path):
    arr8 = (ARR // 16).astype(np.uint8)
    s = load_study(jpeg_dicom(arr8, tmp_path / "j.dcm"))
    assert s.metadata.transfer_syntax.startswith("JPEG Baseline")
    assert np.abs(s.raw - arr8).mean() < 3


def test_missing_preamble(tmp_path):
    s = load_study(write(build_dataset(ARR), tmp_path / "np.dcm", preamble=False))
    np.testing.assert_array_equal(s.raw, ARR.astype(np.float32))
    # A bare implicit-VR data set: no preamble, no file meta at all.
    ds = build_dataset(ARR)
    ds.file_meta = pydicom.dataset.FileMetaDataset()
    bare = tmp_path / "bare"
    pydicom.dcmwrite(bare, ds, implicit_vr=True, little_endian=True)
    s = load_study(bare)
    np.testing.assert_array_equal(s.raw, ARR.astype(np.float32))
    assert s.metadata.transfer_syntax.startswith("Implicit VR Little Endian")


def test_missing_transfer_syntax_inferred(tmp_path):
    path = rewrite_transfer_syntax(write(build_dataset(ARR), tmp_path / "x.dcm", ImplicitVRLittleEndian), None)
    s = load_study(path)
    np.testing.assert_array_equal(s.raw, ARR.astype(np.float32))
    assert any("transfer syntax missing" in n for n in s.notes)
    assert s.metadata.transfer_syntax.startswith("Implicit VR Little Endian")


def test_missing_transfer_syntax_on_compressed_data_inferred(tmp_path):
    ds = build_dataset(ARR)
    ds.compress(pydicom.uid.RLELossless)
    path = tmp_path / "rle.dcm"
    ds.save_as(path, enforce_file_format=True)
    s = load_study(rewrite_transfer_syntax(path, None))
    np.testing.assert_array_equal(s.raw, ARR.astype(np.float32))
    assert s.metadata.transfer_syntax.startswith("RLE Lossless")


def test_unsupported_transfer_syntax_named(tmp_path):
    path = rewrite_transfer_syntax(write(build_dataset(ARR), tmp_path / "x.dcm"), "1.2.840.10008.1.2.4.112")
    with pytest.raises(StudyLoadError, match=r"unsupported transfer syntax JPEG XL \(1\.2\.840\.10008\.1\.2\.4\.112\)"):
        load_study(path)


def test_no_pixel_data_names_the_sop_class(tmp_path):
    ds = build_dataset(ARR, sop_class=BasicTextSRStorage)
    for kw in (
        "PixelData",
        "Rows",
        "Columns",
        "BitsAllocated",
        "BitsStored",
        "HighBit",
        "SamplesPerPixel",
        "PhotometricInterpretation",
        "PixelRepresentation",
    ):
        delattr(ds, kw)
    ds.Modality = "SR"
    with pytest.raises(StudyLoadError, match=r"^DICOM has no pixel data \(Basic Text SR Storage\)$"):
        load_study(write(ds, tmp_path / "sr.dcm"))


def test_secondary_capture_chest_is_accepted(dicom_file):
    s = load_study(dicom_file(ARR, sop_class=SecondaryCaptureImageStorage))
    assert s.metadata.sop_class == "Secondary Capture Image Storage"


def test_metadata_and_tags(dicom_file):
    s = load_study(
        dicom_file(
            ARR,
            bits_stored=12,
            PatientBirthDate="19700102",
            PatientSex="M",
            PatientAge="054Y",
            AccessionNumber="ACC1",
            BodyPartExamined="CHEST",
            ViewPosition="PA",
            InstitutionName="General",
            ImageComments="x" * 5000,
        )
    )
    m = s.metadata
    assert (m.source_format, m.patient_name, m.patient_id) == ("DICOM", "DOE, JOHN", "PID-1")
    assert (m.birth_date, m.study_date, m.age, m.sex) == ("1970-01-02", "2024-01-31", "054Y", "M")
    assert (m.accession, m.modality, m.body_part, m.view_position, m.institution) == (
        "ACC1",
        "DX",
        "CHEST",
        "PA",
        "General",
    )
    assert m.sop_class == "Digital X-Ray Image Storage - For Presentation"
    assert m.transfer_syntax == "Explicit VR Little Endian (1.2.840.10008.1.2.1)"
    assert (m.rows, m.cols, m.frames, m.photometric, m.bits_stored) == (80, 60, 1, "MONOCHROME2", 12)
    assert s.key == m.sop_instance_uid and m.sop_instance_uid.startswith("1.2.")
    tags = {t: (name, value) for t, name, value in s.tags}
    assert tags["(0010,0010)"] == ("PatientName", "DOE^JOHN")
    assert tags["(0002,0010)"][0] == "TransferSyntaxUID"
    assert "(7FE0,0010)" not in tags
    assert all(len(v) <= 200 for _, _, v in s.tags)


@pytest.mark.filterwarnings("ignore:Unknown encoding")
def test_bogus_character_set_decodes_with_replacement(tmp_path):
    ds = build_dataset(ARR)
    ds.SpecificCharacterSet = "ISO_IR 999"
    path = write(ds, tmp_path / "cs.dcm")
    data = path.read_bytes().replace(b"DOE^JOHN", b"D\xd6E^J\xd6HN")
    path.write_bytes(data)
    s = load_study(path)
    assert s.metadata.patient_name == "D\ufffdE, J\ufffdHN"
    assert any("unknown character set" in n for n in s.notes)


def test_control_characters_stripped_from_metadata(dicom_file):
    s = load_study(dicom_file(ARR, SpecificCharacterSet="ISO_IR 192", InstitutionName="Evil\u202eHospital\x07"))
    assert s.metadata.institution == "EvilHospital"


def test_unused_high_bits_masked(dicom_file):
    dirty = (ARR | 0xF000).astype(np.uint16)  # overlay/junk bits above Bits Stored
    s = load_study(dicom_file(dirty, bits_stored=12))
    np.testing.assert_array_equal(s.raw, ARR.astype(np.float32))


def test_signed_12_bit_sign_extended(dicom_file):
    signed = ARR.astype(np.int32) - 2048
    stored = (signed.astype(np.int16).view(np.uint16) & 0x0FFF).astype(np.uint16)
    s = load_study(dicom_file(stored, bits_stored=12, PixelRepresentation=1))
    np.testing.assert_array_equal(s.raw, signed.astype(np.float32))
