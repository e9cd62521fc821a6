"""The PyInstaller spec, checked without PyInstaller: compiled, then run against recording stubs.

The real build bundles TensorFlow and takes many minutes (``make package``); these checks take
well under a second and catch a broken or incomplete spec on every test run.
"""

from __future__ import annotations

import ast
import sys
import types
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
SPEC = REPO / "packaging" / "xray_desktop.spec"
PYLIBJPEG = ("pylibjpeg", "pylibjpeg-libjpeg", "pylibjpeg-openjpeg", "pylibjpeg-rle")


@dataclass
class Call:
    """One recorded call of a PyInstaller spec object."""

    kind: str
    args: tuple
    kwargs: dict


@dataclass
class Recorder:
    """What the spec asked PyInstaller to do."""

    calls: list[Call] = field(default_factory=list)
    submodules: list[str] = field(default_factory=list)
    metadata: list[str] = field(default_factory=list)

    def of(self, kind: str) -> list[Call]:
        return [c for c in self.calls if c.kind == kind]


def _run_spec(monkeypatch: pytest.MonkeyPatch, platform: str | None = None) -> tuple[Recorder, dict[str, Any]]:
    rec = Recorder()

    def collect_submodules(package: str, filter: Any = None, **_: Any) -> list[str]:
        rec.submodules.append(package)
        return [f"{package}.stub"]

    def copy_metadata(dist: str, **_: Any) -> list[tuple[str, str]]:
        rec.metadata.append(dist)
        return [(f"/site-packages/{dist}.dist-info", f"{dist}.dist-info")]

    class Analysis:
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            rec.calls.append(Call("Analysis", args, kwargs))
            self.scripts = ["scripts"]
            self.pure = ["pure"]
            self.binaries = ["binaries"]
            self.datas = ["datas"]

    def recorder(kind: str) -> Any:
        def make(*args: Any, **kwargs: Any) -> Call:
            call = Call(kind, args, kwargs)
            rec.calls.append(call)
            return call
        return make

    hooks = types.ModuleType("PyInstaller.utils.hooks")
    hooks.collect_submodules = collect_submodules  # type: ignore[attr-defined]
    hooks.copy_metadata = copy_metadata  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "PyInstaller", types.ModuleType("PyInstaller"))
    monkeypatch.setitem(sys.modules, "PyInstaller.utils", types.ModuleType("PyInstaller.utils"))
    monkeypatch.setitem(sys.modules, "PyInstaller.utils.hooks", hooks)
    namespace: dict[str, Any] = {
        "__name__": "__main__", "__file__": str(SPEC), "SPEC": str(SPEC), "SPECPATH": str(SPEC.parent),
        "Analysis": Analysis, "PYZ": recorder("PYZ"), "EXE": recorder("EXE"),
        "COLLECT": recorder("COLLECT"), "BUNDLE": recorder("BUNDLE"),
    }
    code = compile(SPEC.read_text(encoding="utf-8"), str(SPEC), "exec")
    with monkeypatch.context() as m:
        if platform:
            m.setattr(sys, "platform", platform)
        exec(code, namespace)
    return rec, namespace


@pytest.fixture
def spec(monkeypatch: pytest.MonkeyPatch) -> tuple[Recorder, dict[str, Any]]:
    return _run_spec(monkeypatch)


def test_spec_compiles() -> None:
    compile(SPEC.read_text(encoding="utf-8"), str(SPEC), "exec")
    ast.parse(SPEC.read_text(encoding="utf-8"))


def test_two_executables_share_one_collect(spec: tuple[Recorder, dict[str, Any]]) -> None:
    rec, _ = spec
    exes = {c.kwargs["name"]: c for c in rec.of("EXE")}
    assert set(exes) == {"xray-desktop", "xray-desktop-cli"}
    assert exes["xray-desktop"].kwargs["console"] is False  # the windowed launcher
    assert exes["xray-desktop-cli"].kwargs["console"] is True
    for exe in exes.values():
        assert exe.kwargs["exclude_binaries"] is True  # one-folder
        assert exe.kwargs["upx"] is False
    assert exes["xray-desktop"].args[:2] == exes["xray-desktop-cli"].args[:2]  # same PYZ and scripts
    (collect,) = rec.of("COLLECT")
    assert collect.kwargs["name"] == "xray-desktop"
    assert exes["xray-desktop"] in collect.args and exes["xray-desktop-cli"] in collect.args
    assert not rec.of("BUNDLE") or sys.platform == "darwin"


def test_analysis_entry_and_paths(spec: tuple[Recorder, dict[str, Any]]) -> None:
    rec, _ = spec
    (analysis,) = rec.of("Analysis")
    (scripts,) = analysis.args
    assert [Path(s) for s in scripts] == [REPO / "packaging" / "launcher.py"]
    assert Path(scripts[0]).is_file()
    assert str(REPO) in analysis.kwargs["pathex"]


def test_bundles_the_whole_resources_tree(spec: tuple[Recorder, dict[str, Any]]) -> None:
    rec, _ = spec
    (analysis,) = rec.of("Analysis")
    datas = analysis.kwargs["datas"]
    assert (str(REPO / "resources"), "resources") in datas
    resources = REPO / "resources"
    assert (resources / "icons" / "xray-desktop.svg").is_file()
    assert (resources / "xray-desktop.desktop").is_file()
    assert (resources / "models").is_dir()


def test_pylibjpeg_plugins_have_metadata_and_imports(spec: tuple[Recorder, dict[str, Any]]) -> None:
    rec, _ = spec
    for dist in PYLIBJPEG:
        assert dist in rec.metadata, f"{dist}: entry points need its dist-info (copy_metadata)"
    assert {"pydicom", "pyjpegls"} <= set(rec.metadata)
    (analysis,) = rec.of("Analysis")
    assert (f"/site-packages/{PYLIBJPEG[0]}.dist-info", f"{PYLIBJPEG[0]}.dist-info") in analysis.kwargs["datas"]
    for package in ("pydicom.pixels", "keras", "xray_desktop", "pylibjpeg", "libjpeg", "openjpeg", "rle", "jpeg_ls"):
        assert package in rec.submodules
        assert f"{package}.stub" in analysis.kwargs["hiddenimports"]


def test_submodule_filters(spec: tuple[Recorder, dict[str, Any]]) -> None:
    _, ns = spec
    keep_keras, keep_app = ns["_keep_keras"], ns["_keep_app"]
    assert keep_keras("keras.src.backend.tensorflow.trainer")
    assert keep_keras("keras.src.layers.convolutional.conv2d")
    assert not keep_keras("keras.src.backend.jax.core")
    assert not keep_keras("keras.src.backend.torch")
    assert not keep_keras("keras.src.backend.numpy.linalg")  # imports scipy
    assert not keep_keras("keras.src.layers.core.dense_test")
    assert keep_app("xray_desktop.model.classifier")
    assert not keep_app("xray_desktop.training.train")


def test_excludes_trim_size_but_nothing_the_app_imports(spec: tuple[Recorder, dict[str, Any]]) -> None:
    rec, _ = spec
    (analysis,) = rec.of("Analysis")
    excludes = set(analysis.kwargs["excludes"])
    assert {"tkinter", "matplotlib", "IPython", "PySide6.QtWebEngineCore", "PySide6.QtWebEngineWidgets"} <= excludes
    used: set[str] = set()
    for path in (REPO / "xray_desktop").rglob("*.py"):
        if "training" in path.relative_to(REPO / "xray_desktop").parts:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                used.update(a.name for a in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                used.add(node.module)
    clashes = {m for m in used for e in excludes if m == e or m.startswith(e + ".")}
    assert not clashes, f"the spec excludes modules the app imports: {sorted(clashes)}"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux Qt plugin names")
def test_qt_platform_plugins_offscreen_and_xcb(spec: tuple[Recorder, dict[str, Any]]) -> None:
    rec, _ = spec
    (analysis,) = rec.of("Analysis")
    names = {Path(src).name: dest for src, dest in analysis.kwargs["binaries"]}
    assert names["libqoffscreen.so"] == str(Path("PySide6/Qt/plugins/platforms"))
    assert "libqxcb.so" in names


@pytest.mark.parametrize("platform", ["linux", "win32", "darwin"])
def test_each_platform_gets_an_existing_icon(monkeypatch: pytest.MonkeyPatch, platform: str) -> None:
    rec, ns = _run_spec(monkeypatch, platform)
    icon = Path(ns["ICON"])
    assert icon.is_file()
    if platform == "win32":
        assert icon.suffix == ".ico"
    for exe in rec.of("EXE"):
        # PyInstaller ignores (and warns about) an executable icon on Linux
        assert exe.kwargs["icon"] == (None if platform == "linux" else [str(icon)])
        assert exe.kwargs["strip"] is False  # strip breaks patchelf-ed wheel libraries (build.sh strips TF)
    bundles = rec.of("BUNDLE")
    assert len(bundles) == (1 if platform == "darwin" else 0)
