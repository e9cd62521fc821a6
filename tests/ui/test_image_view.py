"""The centre viewer: windowing maths, rendering, mouse interaction, overlays, speed."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QImage, QWheelEvent
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from xray_desktop.domain import Study, StudyMetadata
from xray_desktop.ui.image_view import (
    ColorLegend,
    ImageView,
    ModelInputView,
    heatmap_rgba,
    window_to_uint8,
)

VIEW = 400
BG = (17, 17, 17)


def make_study(raw=None, pixels=None, window=None, inverted=False, tags=()) -> Study:
    if pixels is None:
        lo, hi = float(raw.min()), float(raw.max())
        pixels = ((raw - lo) / max(hi - lo, 1.0)).astype(np.float32)
    return Study(
        path=Path("test.dcm"),
        pixels=pixels,
        metadata=StudyMetadata(rows=pixels.shape[0], cols=pixels.shape[1]),
        sha256="0" * 64,
        raw=raw,
        window=window,
        inverted=inverted,
        tags=list(tags),
    )


def ramp_raw(h: int = 300, w: int = 200, top: float = 4095.0) -> np.ndarray:
    """A 12-bit left-to-right ramp with a bright square, taller than wide (letterboxed)."""
    raw = np.tile(np.linspace(0.0, top, w, dtype=np.float32), (h, 1))
    raw[h // 3 : h // 2, w // 3 : w // 2] = top
    return raw


def grab(widget) -> np.ndarray:
    """The widget as an H x W x 3 uint8 RGB array."""
    img = widget.grab().toImage().convertToFormat(QImage.Format.Format_RGB888)
    arr = np.frombuffer(img.constBits(), np.uint8).reshape(img.height(), img.bytesPerLine())
    return arr[:, : img.width() * 3].reshape(img.height(), img.width(), 3).copy()


@pytest.fixture
def view(qtbot):
    v = ImageView()
    qtbot.addWidget(v)
    v.resize(VIEW, VIEW)
    v.show()
    qtbot.waitExposed(v)
    return v


@pytest.fixture
def shown(view):
    view.set_study(make_study(ramp_raw(), window=(2048.0, 4096.0)))
    return view


def image_box(v: ImageView) -> tuple[slice, slice]:
    """Viewport rows/cols covered by the image, shrunk by 2 px against smoothing at the edges."""
    r = v.mapFromScene(v.sceneRect().intersected(v.scene().itemsBoundingRect())).boundingRect()
    return slice(max(r.top() + 2, 0), min(r.bottom() - 2, VIEW)), slice(max(r.left() + 2, 0), min(r.right() - 2, VIEW))


# ------------------------------------------------------------------------ pure functions
def test_window_to_uint8_clips_inverts_and_centres():
    c, w = 1000.0, 400.0
    raw = np.array([[c - w, c - w / 2 - 1, c, c + w / 2 + 1, c + w]], np.float32)
    out = window_to_uint8(raw, c, w, False)
    assert out.dtype == np.uint8 and out.shape == raw.shape
    assert out[0, 0] == 0 and out[0, 1] == 0  # below the window clips to black
    assert out[0, 3] == 255 and out[0, 4] == 255  # above clips to white
    assert abs(int(out[0, 2]) - 128) <= 1
    inv = window_to_uint8(raw, c, w, True)
    assert inv[0, 0] == 255 and inv[0, 4] == 0
    np.testing.assert_array_equal(inv.astype(int), 255 - out.astype(int))
    ramp = np.linspace(c - w, c + w, 101, dtype=np.float32)
    assert np.all(np.diff(window_to_uint8(ramp, c, w, False).astype(int)) >= 0)


def test_window_to_uint8_full_8bit_window_is_identity():
    raw = np.arange(256, dtype=np.float32)
    np.testing.assert_array_equal(window_to_uint8(raw, 128.0, 256.0, False), np.arange(256))


def test_window_to_uint8_subunit_width_for_float_data():
    raw = np.array([0.0, 0.25, 0.5, 0.75, 1.0], np.float32)
    out = window_to_uint8(raw, 0.5, 0.5, False)
    assert out[0] == 0 and out[-1] == 255 and abs(int(out[2]) - 128) <= 1


def test_heatmap_rgba_colour_and_alpha():
    heat = np.array([[0.0, 0.5], [1.0, np.nan]], np.float32)
    rgba = heatmap_rgba(heat, 0.5)
    assert rgba.shape == (2, 2, 4) and rgba.dtype == np.uint8
    assert rgba[0, 0, 3] == 0 and rgba[1, 1, 3] == 0  # cold and NaN are see-through
    assert rgba[1, 0, 3] in (127, 128) and rgba[0, 1, 3] in (63, 64)
    assert not np.array_equal(rgba[0, 0, :3], rgba[1, 0, :3])
    assert heatmap_rgba(heat[..., None], 1.0).shape == (2, 2, 4)


# -------------------------------------------------------------------------- rendering
def test_set_study_shows_image_fitted_on_dark_background(shown):
    img = grab(shown.viewport())
    rows, cols = image_box(shown)
    assert img[rows, cols].std() > 20  # the ramp is on screen, not a flat fill
    assert tuple(img[VIEW // 2, 1]) == BG  # tall image in a square view: letterbox at the side
    assert shown.scale_factor() == pytest.approx(VIEW / 300, rel=1e-3)


def test_set_study_none_clears(shown, qtbot):
    shown.set_heatmap(np.ones((4, 4), np.float32))
    shown.set_study(None)
    img = grab(shown.viewport())
    assert (img == np.array(BG, np.uint8)).all()
    assert shown.window_presets() == [] and shown.study() is None and not shown.has_heatmap()
    with qtbot.assertNotEmitted(shown.window_changed):
        shown.set_window(10.0, 20.0)


def test_set_window_emits_and_changes_pixels(shown, qtbot):
    before = grab(shown.viewport())
    with qtbot.waitSignal(shown.window_changed, timeout=1000) as sig:
        shown.set_window(1000.0, 500.0)
    assert sig.args == [1000.0, 500.0]
    assert shown.window() == (1000.0, 500.0)
    assert np.abs(grab(shown.viewport()).astype(int) - before).max() > 50


def test_raw_none_uses_presentation_pixels(view):
    pixels = np.tile(np.linspace(0, 1, 120, dtype=np.float32), (90, 1))
    view.set_study(make_study(None, pixels=pixels, inverted=True))
    assert view.window() == (128.0, 256.0)
    img = grab(view.viewport())
    rows, cols = image_box(view)
    row = img[rows, cols][img[rows, cols].shape[0] // 2, :, 0].astype(int)
    assert row[-1] - row[0] > 200  # dark to bright, left to right: not flipped by `inverted`


def test_invert_and_monochrome1(view):
    raw = ramp_raw()
    view.set_study(make_study(raw, window=(2048.0, 4096.0)))
    rows, cols = image_box(view)
    normal = grab(view.viewport())[rows, cols, 0].astype(int)
    view.toggle_invert()
    assert view.inverted()
    flipped = grab(view.viewport())[rows, cols, 0].astype(int)
    mirror = np.abs(flipped + normal - 255)  # smoothing and rounding leave a level or two
    assert np.median(mirror) <= 2 and mirror.mean() < 6
    view.set_study(make_study(raw, window=(2048.0, 4096.0), inverted=True))  # MONOCHROME1
    assert not view.inverted()
    assert np.abs(grab(view.viewport())[rows, cols, 0].astype(int) - flipped).mean() < 2


# -------------------------------------------------------------------------------- mouse
def _drag(view, button, start, end, modifier=Qt.KeyboardModifier.NoModifier, steps=1):
    vp = view.viewport()
    QTest.mousePress(vp, button, modifier, start)
    for i in range(1, steps + 1):
        QTest.mouseMove(vp, start + (end - start) * i / steps)
    QTest.mouseRelease(vp, button, modifier, end)


def test_right_drag_changes_window(shown, qtbot):
    c0, w0 = shown.window()
    with qtbot.waitSignal(shown.window_changed, timeout=1000):
        _drag(shown, Qt.MouseButton.RightButton, QPoint(200, 200), QPoint(300, 260))
    c1, w1 = shown.window()
    assert w1 > w0 and c1 > c0  # right widens, down raises the level
    assert w1 - w0 == pytest.approx(100 * 4095 / 800, rel=0.05)  # scaled to the data range


def test_ctrl_left_drag_changes_window_and_left_drag_pans(shown):
    w0 = shown.window()[1]
    _drag(shown, Qt.MouseButton.LeftButton, QPoint(200, 200), QPoint(140, 200), Qt.KeyboardModifier.ControlModifier)
    assert shown.window()[1] < w0
    window = shown.window()
    before = shown.mapToScene(QPoint(200, 200))
    _drag(shown, Qt.MouseButton.LeftButton, QPoint(200, 200), QPoint(240, 170))
    after = shown.mapToScene(QPoint(240, 170))
    assert shown.window() == window
    s = shown.scale_factor()
    assert abs(after.x() - before.x()) * s < 1.5 and abs(after.y() - before.y()) * s < 1.5


def test_drag_moves_are_coalesced(shown, qtbot):
    emitted = []
    shown.window_changed.connect(lambda c, w: emitted.append((c, w)))
    vp = shown.viewport()
    QTest.mousePress(vp, Qt.MouseButton.RightButton, Qt.KeyboardModifier.NoModifier, QPoint(100, 100))
    for i in range(1, 60):  # no event loop turn in between: one frame's worth of moves
        QTest.mouseMove(vp, QPoint(100 + i * 3, 100 + i))
    assert len(emitted) <= 1
    QTest.mouseRelease(vp, Qt.MouseButton.RightButton, Qt.KeyboardModifier.NoModifier, QPoint(277, 159))
    assert 1 <= len(emitted) <= 2
    assert shown.window() == emitted[-1]  # the last position wins


def _wheel(view, pos: QPointF, notches: int) -> None:
    ev = QWheelEvent(
        pos,
        view.viewport().mapToGlobal(pos),
        QPoint(0, 0),
        QPoint(0, 120 * notches),
        Qt.MouseButton.NoButton,
        Qt.KeyboardModifier.NoModifier,
        Qt.ScrollPhase.NoScrollPhase,
        False,
    )
    QApplication.sendEvent(view.viewport(), ev)


@pytest.mark.parametrize("notches", [3, -2])
def test_wheel_zoom_keeps_point_under_cursor(shown, qtbot, notches):
    anchor = QPointF(150.0, 120.0)
    inv, _ = shown.viewportTransform().inverted()
    scene_pt = inv.map(anchor)
    s0 = shown.scale_factor()
    with qtbot.waitSignal(shown.zoom_changed, timeout=1000):
        _wheel(shown, anchor, notches)
    assert (shown.scale_factor() > s0) == (notches > 0) and shown.scale_factor() != pytest.approx(s0)
    back = shown.viewportTransform().map(scene_pt)
    assert abs(back.x() - anchor.x()) < 1.5 and abs(back.y() - anchor.y()) < 1.5


def test_fit_one_to_one_reset_and_resize(shown):
    fitted = shown.scale_factor()
    shown.one_to_one()
    assert shown.scale_factor() == 1.0
    shown.zoom_by(2.0)
    assert shown.scale_factor() == pytest.approx(2.0)
    shown.fit()
    assert shown.scale_factor() == pytest.approx(fitted)
    shown.resize(VIEW, 2 * VIEW)  # fit mode follows the window
    assert shown.scale_factor() == pytest.approx(VIEW / 200, rel=1e-3)
    shown.zoom_by(1.5)
    zoomed = shown.scale_factor()
    middle = shown.viewportTransform().inverted()[0].map(QPointF(VIEW / 2, VIEW))
    shown.resize(VIEW, VIEW)  # ...but a chosen zoom is kept, about the same centre
    assert shown.scale_factor() == pytest.approx(zoomed)
    now = shown.viewportTransform().inverted()[0].map(QPointF(VIEW / 2, VIEW / 2))
    assert abs(now.x() - middle.x()) * zoomed < 1.5 and abs(now.y() - middle.y()) * zoomed < 1.5
    shown.set_window(10.0, 20.0)
    shown.set_inverted(True)
    shown.reset()
    assert shown.window() == (2048.0, 4096.0) and not shown.inverted()
    assert shown.scale_factor() == pytest.approx(fitted, rel=1e-3)


# ---------------------------------------------------------------------------- overlays
def test_heatmap_overlay_aligned_visible_opacity(shown):
    rows, cols = image_box(shown)
    base = grab(shown.viewport())[rows, cols].astype(int)
    heat = np.zeros((8, 8), np.float32)
    heat[:4, :4] = 1.0  # hot top-left quarter only
    shown.set_heatmap(heat)
    shown.set_heatmap_opacity(1.0)
    full = grab(shown.viewport())[rows, cols].astype(int)
    diff = np.abs(full - base).sum(axis=2)
    h, w = diff.shape
    assert diff[: h // 2 - 3, : w // 2 - 3].mean() > 30  # coloured where hot...
    # ...and only there: smooth stretching blends across one heat cell (1/8 of the image) at most
    assert diff[5 * h // 8 + 2 :, :].max() == 0 and diff[:, 5 * w // 8 + 2 :].max() == 0
    shown.set_heatmap_opacity(0.3)
    faint = grab(shown.viewport())[rows, cols].astype(int)
    assert 0 < np.abs(faint - base).sum() < np.abs(full - base).sum()
    shown.set_heatmap_visible(False)
    assert not shown.heatmap_visible()
    assert np.array_equal(grab(shown.viewport())[rows, cols].astype(int), base)


def test_overlays_hidden_keeps_setting(shown):
    rows, cols = image_box(shown)
    base = grab(shown.viewport())[rows, cols].astype(int)
    shown.set_heatmap(np.ones((3, 5), np.float32))
    shown.set_overlays_hidden(True)
    assert shown.heatmap_visible()
    hidden = grab(shown.viewport())
    assert np.array_equal(hidden[rows, cols][: VIEW // 2].astype(int), base[: VIEW // 2])
    shown.set_overlays_hidden(False)
    assert np.abs(grab(shown.viewport())[rows, cols].astype(int) - base).max() > 30


def test_new_study_drops_old_heatmap(shown):
    shown.set_heatmap(np.ones((4, 4), np.float32))
    shown.set_study(make_study(ramp_raw(50, 50)))
    assert not shown.has_heatmap()


# ----------------------------------------------------------------------------- presets
def test_presets_auto_default_file_and_full(view):
    rng = np.random.default_rng(1)
    raw = rng.normal(1500, 100, (200, 200)).astype(np.float32)
    raw[:2, :2] = 65535.0  # outliers that a min/max window would chase
    tags = [
        ("(0028,1050)", "Window Center", "[1500, 300]"),
        ("(0028,1051)", "Window Width", "[800, 1500]"),
        ("(0028,1055)", "Window Center & Width Explanation", "SOFT\\LUNG"),
    ]
    view.set_study(make_study(raw, window=(1500.0, 800.0), tags=tags))
    presets = {name: (c, w) for name, c, w in view.window_presets()}
    assert list(presets)[:2] == ["Default (file)", "Auto (percentiles)"]
    assert presets["Default (file)"] == (1500.0, 800.0)
    assert presets["File: LUNG"] == (300.0, 1500.0) and "File: SOFT" in presets
    assert presets["Full range"][1] > 60000
    auto_c, auto_w = presets["Auto (percentiles)"]
    assert 400 < auto_w < 800 and abs(auto_c - 1500) < 50
    view.apply_preset("File: LUNG")
    assert view.window() == (300.0, 1500.0)
    view.auto_window()
    assert view.window() == (auto_c, auto_w)
    with pytest.raises(KeyError):
        view.apply_preset("No such preset")


def test_single_file_window_adds_no_file_presets(view):
    tags = [("(0028,1050)", "Window Center", "40"), ("(0028,1051)", "Window Width", "400")]
    view.set_study(make_study(ramp_raw(), window=(40.0, 400.0), tags=tags))
    names = [n for n, _, _ in view.window_presets()]
    assert names == ["Default (file)", "Auto (percentiles)", "Full range"]


# ------------------------------------------------------------------------------- speed
def test_rewindow_3000x3000_16bit_is_fast(view):
    rng = np.random.default_rng(0)
    raw = rng.integers(0, 65536, (3000, 3000), dtype=np.uint16).astype(np.float32)
    view.set_study(make_study(raw, pixels=np.zeros((3000, 3000), np.float32), window=(32768.0, 65536.0)))
    times = []
    for i in range(5):
        t0 = time.perf_counter()
        view.set_window(30000.0 + 500 * i, 20000.0 - 1000 * i)
        times.append(time.perf_counter() - t0)
    median_ms = float(np.median(times) * 1000)
    print(f"3000x3000 re-window (numpy + QImage + QPixmap): median {median_ms:.1f} ms")
    assert median_ms < 250


# ---------------------------------------------------------------------- small widgets
def test_model_input_view_renders(qtbot):
    w = ModelInputView()
    qtbot.addWidget(w)
    w.show()
    qtbot.waitExposed(w)
    assert w.caption() == "What the model saw" and not w.has_input()
    x = np.tile(np.linspace(-1, 1, 192, dtype=np.float32), (192, 1))[..., None]
    w.set_input(x)
    assert w.has_input()
    img = grab(w._image)
    assert img.shape[:2] == (160, 160)
    assert int(img[80, 150, 0]) - int(img[80, 10, 0]) > 200  # -1 -> black, +1 -> white
    w.set_input(None)
    assert not w.has_input()


@pytest.mark.parametrize("orientation", [Qt.Orientation.Vertical, Qt.Orientation.Horizontal])
def test_color_legend_paints_scale(qtbot, orientation):
    legend = ColorLegend(orientation)
    qtbot.addWidget(legend)
    legend.resize(legend.sizeHint())
    legend.show()
    qtbot.waitExposed(legend)
    img = grab(legend)
    colours = {tuple(p) for p in img.reshape(-1, 3)}
    assert len(colours) > 20  # a gradient, not a blank


def test_view_takes_keyboard_focus(view):
    assert view.focusPolicy() == Qt.FocusPolicy.StrongFocus
