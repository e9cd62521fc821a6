import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from xray_desktop.io import load_study
from xray_desktop.model.preprocess import INPUT_SIZE, preprocess


def film(seed=0, shape=(300, 260)):
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0 : shape[0], 0 : shape[1]]
    base = 0.5 + 0.3 * np.sin(xx / 17.0) * np.cos(yy / 23.0)
    return np.clip(base + 0.05 * rng.random(shape), 0, 1).astype(np.float32)


def test_shape_dtype_range():
    x = preprocess(film())
    assert x.shape == (INPUT_SIZE, INPUT_SIZE, 1) and x.dtype == np.float32
    assert -1.0 <= x.min() < -0.9 and 0.9 < x.max() <= 1.0


def test_invariant_to_monotone_intensity_changes():
    f = film()
    a = preprocess(f)
    for g in (lambda v: v**2.0, lambda v: 0.2 + 0.5 * v, lambda v: np.sqrt(v)):
        assert np.abs(preprocess(g(f)) - a).mean() < 0.03


def test_constant_image_does_not_crash_and_is_flat():
    x = preprocess(np.full((50, 50), 0.3, np.float32))
    assert np.ptp(x) == 0


def test_rejects_non_2d():
    with pytest.raises(ValueError):
        preprocess(np.zeros((4, 4, 3), np.float32))


def test_training_decodes_through_the_same_loader_and_preprocess(tmp_path):
    """Training and serving share one path: decode_all == preprocess(load_study(...).pixels)."""
    from xray_desktop.training.data import Example, decode_all

    rel = "train/NORMAL/IM-0001-0001.jpeg"
    (tmp_path / "train" / "NORMAL").mkdir(parents=True)
    Image.fromarray((film() * 255).astype(np.uint8)).convert("RGB").save(tmp_path / rel)
    x, y = decode_all(tmp_path, [Example(rel, 0, "IM-0001")])
    expected = preprocess(load_study(tmp_path / rel).pixels)
    assert np.allclose(x[0].astype(np.float32), expected, atol=1e-3)  # stored as float16
    assert y[0] == 0


def test_importing_the_model_package_does_not_import_tensorflow():
    code = (
        "import sys, xray_desktop.model, xray_desktop.model.classifier, xray_desktop.model.commands, "
        "xray_desktop.cli; bad = [m for m in ('tensorflow', 'keras', 'PySide6') if m in sys.modules]; "
        "print(bad); sys.exit(1 if bad else 0)"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert res.returncode == 0, res.stdout + res.stderr
