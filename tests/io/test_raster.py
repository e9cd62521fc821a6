"""PNG and JPEG studies: modes, orientation, allow-list and hostile files."""

from __future__ import annotations

import io
import struct
import time
import zlib

import numpy as np
import pytest
from io_helpers import chest_like, jpeg_bytes, png_bytes
from PIL import Image

from xray_desktop.io import StudyLoadError, load_study

GREY8 = (chest_like(40, 30, top=255)).astype(np.uint8)


def _write(tmp_path, name, data):
    path = tmp_path / name
    path.write_bytes(data)
    return path


def _chunk(ctype: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + ctype + data + struct.pack(">I", zlib.crc32(ctype + data))


def _png_header_only(width: int, height: int) -> bytes:
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    idat = zlib.compress(b"\0" * 64)
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", idat) + _chunk(b"IEND", b"")


def test_grey8_png(tmp_path):
    s = load_study(_write(tmp_path, "g.png", png_bytes(GREY8)))
    np.testing.assert_allclose(s.pixels, GREY8 / 255.0, atol=1e-6)
    assert s.window == (127.5, 255.0) and s.metadata.source_format == "PNG" and not s.notes


def test_grey16_png_uses_significant_bits(tmp_path):
    arr = chest_like(40, 30, top=4095)
    s = load_study(_write(tmp_path, "g16.png", png_bytes(Image.fromarray(arr.astype(np.uint16)))))
    assert s.metadata.bits_stored == 12
    np.testing.assert_allclose(s.pixels, arr / 4095.0, atol=1e-6)
    np.testing.assert_array_equal(s.raw, arr.astype(np.float32))


def test_rgb_png_flagged(tmp_path):
    rgb = np.zeros((20, 20, 3), np.uint8)
    rgb[..., 0] = 255
    s = load_study(_write(tmp_path, "c.png", png_bytes(rgb)))
    assert "colour image converted to grayscale" in s.notes
    assert abs(float(s.pixels.mean()) - 0.299) < 1e-3


def test_grey_saved_as_rgb_not_flagged(tmp_path):
    rgb = np.repeat(GREY8[..., None], 3, axis=2)
    s = load_study(_write(tmp_path, "c.png", png_bytes(rgb)))
    assert not s.notes
    np.testing.assert_allclose(s.pixels, GREY8 / 255.0, atol=1e-3)


def test_palette_png(tmp_path):
    im = Image.fromarray(GREY8).convert("P")
    s = load_study(_write(tmp_path, "p.png", png_bytes(im)))
    assert s.pixels.shape == GREY8.shape and s.pixels.std() > 0.1


def test_alpha_png_flattened(tmp_path):
    rgba = np.dstack([GREY8, GREY8, GREY8, np.full_like(GREY8, 255)])
    rgba[:5, :, 3] = 0
    s = load_study(_write(tmp_path, "a.png", png_bytes(Image.fromarray(rgba, "RGBA"))))
    assert "transparent areas shown black" in s.notes
    assert np.all(s.pixels[:5] == 0.0)
    np.testing.assert_allclose(s.pixels[5:], GREY8[5:] / 255.0, atol=1e-3)


def test_jpeg_exif_orientation_applied(tmp_path):
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display
    s = load_study(_write(tmp_path, "o.jpg", jpeg_bytes(GREY8, exif=exif.tobytes())))
    assert s.pixels.shape == (GREY8.shape[1], GREY8.shape[0])
    assert s.metadata.source_format == "JPEG"


def test_png_bomb_header_refused_fast(tmp_path):
    path = _write(tmp_path, "bomb.png", _png_header_only(50000, 50000))
    t0 = time.perf_counter()
    with pytest.raises(StudyLoadError, match=r"^image of 50000 x 50000 pixels exceeds the 100 Mpx limit$"):
        load_study(path)
    assert time.perf_counter() - t0 < 1.0


def test_pillow_bomb_warning_is_an_error(tmp_path):
    # 9500 x 9500 is under our cap but over Pillow's warning threshold: still refused.
    with pytest.raises(StudyLoadError, match="decompression bomb"):
        load_study(_write(tmp_path, "w.png", _png_header_only(9500, 9500)))


def test_png_bad_crc(tmp_path):
    data = bytearray(png_bytes(GREY8))
    idat = data.index(b"IDAT")
    data[idat + 10] ^= 0xFF
    with pytest.raises(StudyLoadError, match=r"^PNG data is corrupt \(bad CRC in IDAT chunk\)$"):
        load_study(_write(tmp_path, "crc.png", bytes(data)))


def test_png_truncated_idat(tmp_path):
    data = png_bytes(GREY8)
    cut = data.index(b"IDAT") + 40
    with pytest.raises(StudyLoadError, match="^PNG data is truncated"):
        load_study(_write(tmp_path, "t.png", data[:cut]))


@pytest.mark.parametrize(("fmt", "name"), [("TIFF", "TIFF"), ("PSD", "Photoshop PSD"), ("GIF", "GIF"), ("BMP", "BMP")])
def test_other_formats_renamed_png_refused(tmp_path, fmt, name):
    if fmt == "PSD":
        data = b"8BPS\x00\x01" + b"\0" * 64
    else:
        buf = io.BytesIO()
        Image.fromarray(GREY8).save(buf, fmt)
        data = buf.getvalue()
    with pytest.raises(StudyLoadError, match=f"^{name} files are not supported"):
        load_study(_write(tmp_path, "x.png", data))


def _patch_sof(data: bytes, width: int, height: int) -> bytes:
    at = data.index(b"\xff\xc0")
    return data[: at + 5] + struct.pack(">HH", height, width) + data[at + 9 :]


def test_jpeg_huge_sof_tiny_body(tmp_path):
    data = _patch_sof(jpeg_bytes(GREY8), 60000, 60000)
    t0 = time.perf_counter()
    with pytest.raises(StudyLoadError, match=r"^image of 60000 x 60000 pixels exceeds the 100 Mpx limit$"):
        load_study(_write(tmp_path, "h.jpg", data))
    assert time.perf_counter() - t0 < 1.0


def test_jpeg_large_sof_under_cap_tiny_body(tmp_path):
    data = _patch_sof(jpeg_bytes(GREY8), 4000, 3000)
    t0 = time.perf_counter()
    with pytest.raises(StudyLoadError, match="^JPEG data is (truncated|corrupt)"):
        load_study(_write(tmp_path, "h.jpg", data))
    assert time.perf_counter() - t0 < 3.0


def test_jpeg_missing_eoi_is_truncated(tmp_path):
    data = jpeg_bytes(GREY8)
    assert data.endswith(b"\xff\xd9")
    with pytest.raises(StudyLoadError, match="^JPEG data is truncated$"):
        load_study(_write(tmp_path, "e.jpg", data[:-2]))


def test_content_decides_not_extension(tmp_path):
    s = load_study(_write(tmp_path, "really_a_jpeg.png", jpeg_bytes(GREY8)))
    assert s.metadata.source_format == "JPEG"
