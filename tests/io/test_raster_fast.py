"""The faster raster decode gives the same pixels and raw values as the plain float path."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from xray_desktop.io import load_study
from xray_desktop.io.raster import grey_luminance, to_luminance


def reference(path) -> tuple[np.ndarray, np.ndarray, bool]:
    """The decode before the fast path: every mode through float32 RGB and to_luminance."""
    with Image.open(path) as im:
        im.load()
        mode = im.mode
        if mode in ("I;16", "I;16B", "I;16L", "I", "F"):
            arr = np.clip(np.nan_to_num(np.asarray(im, dtype=np.float32)), 0, 65535)
            bits = int(min(16, max(8, np.ceil(np.log2(float(arr.max()) + 1.0)))))
            colour = False
        elif mode in ("1", "L"):
            arr, colour, bits = np.asarray(im.convert("L"), dtype=np.float32), False, 8
        else:
            if mode == "P":
                im = im.convert("RGBA" if "transparency" in im.info else "RGB")
            if im.mode in ("LA", "RGBA"):
                rgba = np.asarray(im.convert("RGBA"), dtype=np.float32)
                rgb = rgba[..., :3] * (rgba[..., 3:4] / 255.0)
            else:
                rgb = np.asarray(im.convert("RGB"), dtype=np.float32)
            colour = not (np.array_equal(rgb[..., 0], rgb[..., 1]) and np.array_equal(rgb[..., 1], rgb[..., 2]))
            arr, bits = to_luminance(rgb), 8
    hi = float(2**bits - 1)
    return np.clip(arr / hi, 0.0, 1.0).astype(np.float32), arr.astype(np.float32), colour


def _film(rng, shape=(130, 110)) -> np.ndarray:
    yy, xx = np.mgrid[0 : shape[0], 0 : shape[1]]
    return np.clip(0.5 + 0.4 * np.sin(xx / 9.0) * np.cos(yy / 13.0) + 0.05 * rng.standard_normal(shape), 0, 1)


def _write(tmp_path, kind: str):
    rng = np.random.default_rng(len(kind))
    g8 = (_film(rng) * 255).astype(np.uint8)
    p = tmp_path / f"{kind}.{'jpg' if 'jpeg' in kind else 'png'}"
    if kind == "grey-as-rgb-jpeg":
        Image.fromarray(g8).convert("RGB").save(p, quality=92)
    elif kind == "grey-as-rgb-png":
        Image.fromarray(g8).convert("RGB").save(p)
    elif kind == "grey-jpeg":
        Image.fromarray(g8).save(p, quality=90)
    elif kind == "grey-png":
        Image.fromarray(g8).save(p)
    elif kind == "colour-jpeg":
        Image.fromarray(np.stack([g8, g8 // 2, 255 - g8], axis=-1)).save(p, quality=90)
    elif kind == "colour-png-one-pixel":
        rgb = np.stack([g8, g8, g8], axis=-1)
        rgb[5, 7, 2] ^= 1
        Image.fromarray(rgb).save(p)
    elif kind == "rgba-png":
        Image.fromarray(np.stack([g8, g8, g8, np.full_like(g8, 200)], axis=-1)).save(p)
    elif kind == "palette-png":
        Image.fromarray(g8).convert("P").save(p)
    elif kind == "one-bit-png":
        Image.fromarray(g8 > 128).save(p)
    elif kind == "grey16-png":
        Image.fromarray((_film(rng) * 4095).astype(np.uint16)).save(p)
    return p


KINDS = ["grey-as-rgb-jpeg", "grey-as-rgb-png", "grey-jpeg", "grey-png", "colour-jpeg",
         "colour-png-one-pixel", "rgba-png", "palette-png", "one-bit-png", "grey16-png"]


@pytest.mark.parametrize("kind", KINDS)
def test_decode_equals_the_float_reference(tmp_path, kind):
    p = _write(tmp_path, kind)
    study = load_study(p)
    pixels, raw, colour = reference(p)
    assert study.pixels.dtype == np.float32 and study.raw.dtype == np.float32
    np.testing.assert_array_equal(study.pixels, pixels)
    np.testing.assert_array_equal(study.raw, raw)
    assert ("colour image converted to grayscale" in study.notes) == colour
    assert study.pixels.flags.c_contiguous and study.pixels.flags.writeable


def test_grey_luminance_equals_to_luminance_for_every_8_bit_value():
    v = np.arange(256, dtype=np.uint8)
    np.testing.assert_array_equal(grey_luminance(v), to_luminance(np.stack([v, v, v], axis=-1)))
