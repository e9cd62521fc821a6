"""The malformed-input catalogue: every hostile file gets its own specific, one-line reason.

Each case is built here (with the io suite's builders) and checked three ways:

* ``load_study`` raises ``StudyLoadError`` with the case's message, fast and without a big
  allocation (tracemalloc peak);
* ``xray-desktop predict`` over the whole catalogue folder writes one ``error`` row per broken
  file with that reason (a tiny real model, so the run is the shipped code path);
* the GUI batch (offscreen, fake classifier) shows an ``error`` row per broken file with the
  same reason, cannot confirm one, and writes nothing to the reads database.

A few hostile-looking files are *valid* and must load: a DICOM whose preamble holds an
executable header but which has the DICM prefix (PS3.10 allows any preamble; the loader notes
it), pixel data longer than declared (the excess is ignored) and a bogus character set
(undecodable bytes shown as U+FFFD).
"""

from __future__ import annotations

import csv
import errno
import io
import os
import shutil
import stat
import subprocess
import sys
import tempfile
import time
import tracemalloc
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pydicom
import pytest
from io_helpers import build_dataset, chest_like, jpeg_bytes, png_bytes, rewrite_transfer_syntax, write
from PIL import Image, PngImagePlugin
from pydicom.dataset import Dataset, FileDataset, FileMetaDataset
from pydicom.sequence import Sequence

from xray_desktop.io import StudyLoadError, load_study

ARR = chest_like(64, 48)
NATIVE_BYTES = ARR.size * 2
SECONDS_PER_FILE = 3.0
PEAK_BYTES = 64_000_000  # no case may allocate more than this before refusing
IS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0
ELOOP = os.strerror(errno.ELOOP)


# -- builders --------------------------------------------------------------------------------


def _uid(path: Path) -> str:
    """A fixed SOP Instance UID per file name, so byte offsets in messages are stable."""
    return f"1.2.826.0.1.3680043.8.498.{1_000_000_000 + zlib.crc32(path.name.encode()) % 1_000_000_000}"


def _dataset(path: Path, **attrs: object) -> FileDataset:
    ds = build_dataset(ARR, **attrs)
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = _uid(path)
    return ds


def _dicom(path: Path, **attrs: object) -> Path:
    return write(_dataset(path, **attrs), path)


def _patch(path: Path, edit: Callable[[bytearray], None]) -> None:
    data = bytearray(path.read_bytes())
    edit(data)
    path.write_bytes(bytes(data))


def exe_preamble(magic: bytes, keep_dicm: bool) -> Callable[[Path], None]:
    def build(path: Path) -> None:
        _dicom(path)

        def edit(b: bytearray) -> None:
            b[: len(magic)] = magic
            if not keep_dicm:
                b[128:132] = b"\0\0\0\0"

        _patch(path, edit)

    return build


def no_dicm(path: Path) -> None:
    _dicom(path)
    _patch(path, lambda b: b.__setitem__(slice(128, 132), b"XXXX"))


def truncated_pixels(path: Path) -> None:
    _dicom(path)
    path.write_bytes(path.read_bytes()[:-1000])


def element_past_eof(path: Path) -> None:
    ds = _dataset(path)
    ds.add_new(0x00091010, "LO", "VENDOR")
    ds.add_new(0x00091001, "OB", b"\x01" * 400_000)
    write(ds, path)
    path.write_bytes(path.read_bytes()[:200_000])


def undefined_length(tag: bytes) -> Callable[[Path], None]:
    """Set an explicit-VR long-form element's length to 0xFFFFFFFF (allowed only for SQ/encapsulated)."""

    def build(path: Path) -> None:
        ds = _dataset(path)
        ds.add_new(0x00091010, "LO", "VENDOR")
        ds.add_new(0x00091001, "OB", b"\x01\x02" * 8)
        write(ds, path)

        def edit(b: bytearray) -> None:
            at = b.index(tag)
            b[at + 8 : at + 12] = b"\xff\xff\xff\xff"

        _patch(path, edit)

    return build


def huge_dims(rows: int, cols: int, frames: int = 1) -> Callable[[Path], None]:
    def build(path: Path) -> None:
        ds = _dataset(path)
        ds.Rows, ds.Columns = rows, cols
        if frames > 1:
            ds.NumberOfFrames = frames
        write(ds, path)

    return build


def pixel_length(delta: int) -> Callable[[Path], None]:
    def build(path: Path) -> None:
        ds = _dataset(path)
        ds.PixelData = ds.PixelData[:delta] if delta < 0 else ds.PixelData + b"\x07\x00" * (delta // 2)
        write(ds, path)

    return build


def transfer_syntax(uid: str) -> Callable[[Path], None]:
    def build(path: Path) -> None:
        rewrite_transfer_syntax(_dicom(path), uid)

    return build


def _bare_dataset(path: Path, sop_class: str) -> FileDataset:
    """An empty Part 10 dataset of ``sop_class`` (explicit VR little endian) to fill in."""
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = sop_class
    meta.MediaStorageSOPInstanceUID = pydicom.uid.generate_uid()
    meta.TransferSyntaxUID = pydicom.uid.ExplicitVRLittleEndian
    return FileDataset(str(path), {}, file_meta=meta, preamble=b"\0" * 128)


def structured_report(path: Path) -> None:
    ds = _bare_dataset(path, pydicom.uid.BasicTextSRStorage)
    meta = ds.file_meta
    ds.SOPClassUID, ds.SOPInstanceUID = meta.MediaStorageSOPClassUID, meta.MediaStorageSOPInstanceUID
    ds.PatientName, ds.Modality = "DOE^JANE", "SR"
    pydicom.dcmwrite(path, ds, enforce_file_format=True)


def bogus_charset(path: Path) -> None:
    _dicom(path, SpecificCharacterSet="ISO_IR 999")
    path.write_bytes(path.read_bytes().replace(b"DOE^JOHN", b"DO\xe9^JO\xffN"))  # same length


def dicomdir_escaping(path: Path) -> None:
    """A DICOMDIR whose record points two levels up, out of the opened folder."""
    ds = _bare_dataset(path, pydicom.uid.MediaStorageDirectoryStorage)
    ds.FileSetID = "HOSTILE"
    ds.OffsetOfTheFirstDirectoryRecordOfTheRootDirectoryEntity = 0
    ds.OffsetOfTheLastDirectoryRecordOfTheRootDirectoryEntity = 0
    ds.FileSetConsistencyFlag = 0
    rec = Dataset()
    rec.OffsetOfTheNextDirectoryRecord = 0
    rec.RecordInUseFlag = 0xFFFF
    rec.OffsetOfReferencedLowerLevelDirectoryEntity = 0
    rec.DirectoryRecordType = "IMAGE"
    rec.ReferencedFileID = ["..", "..", "OUTSIDE.DCM"]
    rec.ReferencedSOPClassUIDInFile = pydicom.uid.DigitalXRayImageStorageForPresentation
    rec.ReferencedSOPInstanceUIDInFile = "1.2.3.4"
    rec.ReferencedTransferSyntaxUIDInFile = pydicom.uid.ExplicitVRLittleEndian
    ds.DirectoryRecordSequence = Sequence([rec])
    path.parent.mkdir(parents=True, exist_ok=True)
    pydicom.dcmwrite(path, ds, enforce_file_format=True)


def _chunk(kind: bytes, data: bytes) -> bytes:
    return len(data).to_bytes(4, "big") + kind + data + zlib.crc32(kind + data).to_bytes(4, "big")


def png_bomb(path: Path) -> None:
    """A real 50,000 x 50,000 1-bit PNG: ~300 KB on disk, 2.5 Gpx (10 GB as float32) decoded."""
    ihdr = (50_000).to_bytes(4, "big") * 2 + bytes([1, 0, 0, 0, 0])
    comp = zlib.compressobj(6)
    rows = (b"\0" * (1 + 50_000 // 8)) * 1000
    idat = b"".join([*(comp.compress(rows) for _ in range(50)), comp.flush()])
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", idat) + _chunk(b"IEND", b""))


GREY8 = (ARR // 16).astype(np.uint8)


def png_bad_crc(path: Path) -> None:
    data = bytearray(png_bytes(GREY8))
    data[data.index(b"IDAT") + 10] ^= 0xFF
    path.write_bytes(bytes(data))


def png_truncated_idat(path: Path) -> None:
    data = png_bytes(GREY8)
    path.write_bytes(data[: data.index(b"IDAT") + 20])


def png_ztxt_bomb(path: Path) -> None:
    info = PngImagePlugin.PngInfo()
    info.add_text("Comment", "A" * 3_000_000, zip=True)  # inflates 1000x past the 1 MB text limit
    path.write_bytes(png_bytes(GREY8, pnginfo=info))


def tiff_as_png(path: Path) -> None:
    buf = io.BytesIO()
    Image.fromarray(GREY8).save(buf, "TIFF")
    path.write_bytes(buf.getvalue())


def psd_as_png(path: Path) -> None:
    header = b"8BPS" + (1).to_bytes(2, "big") + b"\0" * 6 + (1).to_bytes(2, "big")
    header += (48).to_bytes(4, "big") + (64).to_bytes(4, "big") + (8).to_bytes(2, "big") + (1).to_bytes(2, "big")
    path.write_bytes(header + b"\0" * 64 * 48)


def jpeg_sof(size: int) -> Callable[[Path], None]:
    def build(path: Path) -> None:
        data = bytearray(jpeg_bytes(GREY8))
        at = data.index(b"\xff\xc0")
        data[at + 5 : at + 9] = size.to_bytes(2, "big") * 2
        path.write_bytes(bytes(data))

    return build


def jpeg_no_eoi(path: Path) -> None:
    data = jpeg_bytes(GREY8)
    assert data.endswith(b"\xff\xd9")
    path.write_bytes(data[:-2])


def empty(path: Path) -> None:
    path.write_bytes(b"")


def folder(path: Path) -> None:
    path.mkdir()


def fifo(path: Path) -> None:
    os.mkfifo(path)


def symlink_loop(path: Path) -> None:
    path.symlink_to(path.name)


def folder_loop(path: Path) -> None:
    path.symlink_to(".")  # a folder link back to its own folder


def unreadable(path: Path) -> None:
    _dicom(path)
    path.chmod(0)


# -- the catalogue ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    """One hostile file: its builder, load_study's message, and the reason a folder run shows."""

    name: str
    build: Callable[[Path], None]
    load: str  # load_study's exact message (compared whole)
    row: str = ""  # reason in the CLI/GUI row when the folder scan refuses it first; "" = ``load``
    gui: str = "error"  # "error": an error row; "skipped": no row (not an image file); "none": not listed
    cli: bool = True  # has a row in `predict` output

    @property
    def reason(self) -> str:
        return self.row or self.load


BROKEN = [
    Case("exe_mz.dcm", exe_preamble(b"MZ\x90\x00", keep_dicm=False), "Windows executable, not an image (refused)"),
    Case("exe_elf.dcm", exe_preamble(b"\x7fELF", keep_dicm=False), "ELF executable, not an image (refused)"),
    Case("no_dicm_prefix.dcm", no_dicm, "file has a DICOM-style preamble but no DICM prefix"),
    Case("truncated_pixels.dcm", truncated_pixels,
         f"pixel data is truncated ({NATIVE_BYTES - 1000} of {NATIVE_BYTES} bytes)"),
    Case("element_past_eof.dcm", element_past_eof,
         "DICOM element (0009,1001) declares 400000 bytes but the file ends after 199558: "
         "file is truncated or corrupt"),
    Case("undefined_length_ob.dcm", undefined_length(b"\x09\x00\x01\x10OB\x00\x00"),
         "DICOM file holds no readable data set"),
    Case("undefined_length_native_pixels.dcm", undefined_length(b"\xe0\x7f\x10\x00OW\x00\x00"),
         "pixel data is truncated"),
    Case("huge_rows_cols.dcm", huge_dims(50_000, 50_000), "image of 50000 x 50000 pixels exceeds the 100 Mpx limit"),
    Case("huge_frames.dcm", huge_dims(10_000, 10_000, 5),
         "image of 10000 x 10000 pixels x 5 frames exceeds the 100 Mpx limit"),
    Case("short_pixels.dcm", pixel_length(-100),
         f"pixel data is truncated ({NATIVE_BYTES - 100} of {NATIVE_BYTES} bytes)"),
    Case("jpeg_xl_syntax.dcm", transfer_syntax("1.2.840.10008.1.2.4.112"),
         "unsupported transfer syntax JPEG XL (1.2.840.10008.1.2.4.112)"),
    Case("mpeg2_syntax.dcm", transfer_syntax("1.2.840.10008.1.2.4.100"),
         "unsupported transfer syntax MPEG2 Main Profile / Main Level (1.2.840.10008.1.2.4.100)"),
    Case("unknown_syntax.dcm", transfer_syntax("1.2.3.4.5"), "unsupported transfer syntax 1.2.3.4.5 (unknown)"),
    Case("structured_report.dcm", structured_report, "DICOM has no pixel data (Basic Text SR Storage)",
         row="not an image (Basic Text SR Storage)"),
    Case("disc/DICOMDIR", dicomdir_escaping,
         "DICOMDIR is an index of a DICOM disc, not an image: open its folder instead",
         row="DICOMDIR index (the images are scanned as files)", gui="skipped"),
    Case("bomb_50000.png", png_bomb, "image of 50000 x 50000 pixels exceeds the 100 Mpx limit"),
    Case("bad_crc.png", png_bad_crc, "PNG data is corrupt (bad CRC in IDAT chunk)"),
    Case("truncated_idat.png", png_truncated_idat, "PNG data is truncated"),
    Case("ztxt_over_limit.png", png_ztxt_bomb,
         "PNG data is corrupt (Decompressed data too large for PngImagePlugin.MAX_TEXT_CHUNK)"),
    Case("tiff_renamed.png", tiff_as_png, "TIFF files are not supported (use DICOM, PNG or JPEG)"),
    Case("psd_renamed.png", psd_as_png, "Photoshop PSD files are not supported (use DICOM, PNG or JPEG)"),
    Case("huge_sof.jpg", jpeg_sof(60_000), "image of 60000 x 60000 pixels exceeds the 100 Mpx limit"),
    Case("huge_sof_tiny_body.jpg", jpeg_sof(9_000), "JPEG data is truncated (file too small for 9000 x 9000 pixels)"),
    Case("missing_eoi.jpg", jpeg_no_eoi, "JPEG data is truncated"),
    Case("empty.dcm", empty, "file is empty"),
    Case("folder.dcm", folder, "is a folder, not an image file", gui="none", cli=False),
    Case("fifo.dcm", fifo, "not a regular file (device, pipe or socket)"),
    Case("symlink_loop.dcm", symlink_loop, f"cannot read file: {ELOOP}", row=f"cannot read: {ELOOP}"),
    Case("folder_loop", folder_loop, "is a folder, not an image file", gui="none", cli=False),
]
# Root reads any file: there the permission case runs load_study as "nobody" and stays out of the folder.
UNREADABLE = Case("unreadable.dcm", unreadable, "permission denied")
IN_FOLDER = BROKEN if IS_ROOT else [*BROKEN, UNREADABLE]


@dataclass(frozen=True)
class Valid:
    """A hostile-looking but valid file: it must load, and its note says what was odd."""

    name: str
    build: Callable[[Path], None]
    note: str  # a note the Study must carry ("" for none)


VALID = [
    Valid("polyglot_mz_with_dicm.dcm", exe_preamble(b"MZ\x90\x00", keep_dicm=True),
          "file preamble holds a Windows executable header (ignored)"),
    Valid("polyglot_elf_with_dicm.dcm", exe_preamble(b"\x7fELF", keep_dicm=True),
          "file preamble holds a ELF executable header (ignored)"),
    Valid("longer_pixels.dcm", pixel_length(1000), ""),
    Valid("bogus_charset.dcm", bogus_charset, "unknown character set ISO_IR 999: some characters shown as \ufffd"),
]


def _timed_load(path: Path) -> tuple[str, float, int]:
    """(StudyLoadError message, seconds, tracemalloc peak bytes); fails if it loads."""
    tracemalloc.start()
    t0 = time.perf_counter()
    try:
        with pytest.raises(StudyLoadError) as exc:
            load_study(path)
        elapsed = time.perf_counter() - t0
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return str(exc.value), elapsed, peak


def _load_as_nobody(path: Path) -> str:
    """Run load_study as uid 65534 (imports happen first, as root) and return its message."""
    code = (
        "import os, sys\n"
        "from xray_desktop.io import StudyLoadError, load_study\n"
        "os.setgid(65534); os.setuid(65534)\n"
        "try:\n    load_study(sys.argv[1])\nexcept StudyLoadError as e:\n    print(e)\nelse:\n    print('LOADED')\n"
    )
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[2]))
    out = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True, env=env, timeout=60)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


# -- load_study, one case at a time ------------------------------------------------------------


@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.parametrize("case", BROKEN, ids=lambda c: c.name)
def test_load_study_gives_the_specific_reason(tmp_path, case):
    path = tmp_path / case.name
    path.parent.mkdir(parents=True, exist_ok=True)
    case.build(path)
    message, elapsed, peak = _timed_load(path)
    assert message == case.load
    assert "\n" not in message
    assert elapsed < SECONDS_PER_FILE, f"{case.name}: {elapsed:.1f} s"
    assert peak < PEAK_BYTES, f"{case.name}: allocated {peak / 1e6:.0f} MB before refusing"


def test_unreadable_file_is_refused(tmp_path):
    if IS_ROOT:
        folder = Path(tempfile.mkdtemp(prefix="xray-perm-"))
        try:
            folder.chmod(0o755)
            path = folder / UNREADABLE.name
            UNREADABLE.build(path)
            assert _load_as_nobody(path) == UNREADABLE.load
        finally:
            shutil.rmtree(folder)
    else:
        path = tmp_path / UNREADABLE.name
        UNREADABLE.build(path)
        try:
            assert _timed_load(path)[0] == UNREADABLE.load
        finally:
            path.chmod(0o644)


@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.parametrize("case", VALID, ids=lambda c: c.name)
def test_hostile_looking_valid_files_load(tmp_path, case):
    path = tmp_path / case.name
    case.build(path)
    study = load_study(path)
    assert study.pixels.shape == ARR.shape and study.pixels.std() > 0.05
    if case.note:
        assert case.note in study.notes
    if case.name == "bogus_charset.dcm":
        assert study.metadata.patient_name == "DO\ufffd, JO\ufffdN"
    if case.name == "longer_pixels.dcm":
        np.testing.assert_array_equal(study.raw, ARR.astype(np.float32))


# -- the whole catalogue as one folder: CLI and GUI --------------------------------------------


@pytest.fixture(scope="module")
def catalogue(tmp_path_factory) -> Path:
    """The catalogue folder, plus a valid study *outside* it that the DICOMDIR points at."""
    base = tmp_path_factory.mktemp("catalogue")
    root = base / "studies" / "catalogue"
    root.mkdir(parents=True)
    _dicom(base / "studies" / "OUTSIDE.DCM")  # reachable only by following the DICOMDIR's ../..
    for case in [*IN_FOLDER, *VALID]:
        path = root / case.name
        path.parent.mkdir(parents=True, exist_ok=True)
        case.build(path)
    yield root
    for case in IN_FOLDER:
        p = root / case.name
        if case is UNREADABLE and p.exists():
            p.chmod(stat.S_IRUSR | stat.S_IWUSR)


def _rel(root: Path, path: str) -> str:
    return Path(path).relative_to(root).as_posix()


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_predict_cli_writes_one_error_row_per_broken_file(catalogue, tiny_model_dir, tmp_path):
    from xray_desktop.cli import main

    out = tmp_path / "out.csv"
    assert main(["model", "trust", str(tiny_model_dir)]) == 0
    t0 = time.perf_counter()
    rc = main(["predict", str(catalogue), "--csv", str(out), "--model-dir", str(tiny_model_dir), "--no-heatmap"])
    elapsed = time.perf_counter() - t0
    assert rc == 0
    with out.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    paths = [_rel(catalogue, r["path"]) for r in rows]
    assert len(paths) == len(set(paths)), "a file was listed twice (a folder loop was followed)"
    by_name = dict(zip(paths, rows, strict=True))
    expected = {c.name: c.reason for c in IN_FOLDER if c.cli}
    valid = {v.name for v in VALID}
    assert set(by_name) == set(expected) | valid  # nothing outside the folder, nothing missing
    for name, reason in expected.items():
        assert (by_name[name]["status"], by_name[name]["error"]) == ("error", reason), name
    for name in valid:
        assert by_name[name]["status"] in ("ok", "rejected"), (name, by_name[name]["error"])
    assert elapsed < 60


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_predict_by_study_gives_each_broken_file_its_reason(catalogue, tiny_model_dir, tmp_path):
    """Issue 14.1: grouping reads headers of hostile files too; each still gets its loader's reason."""
    from xray_desktop.cli import main

    out = tmp_path / "by_study.csv"
    assert main(["model", "trust", str(tiny_model_dir)]) == 0
    rc = main(["predict", str(catalogue), "--csv", str(out), "--model-dir", str(tiny_model_dir), "--no-heatmap",
               "--by-study"])  # fmt: skip
    assert rc == 0
    with out.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    by_name = {_rel(catalogue, r["path"]): r for r in rows}
    assert len(by_name) == len(rows)  # no UID in the catalogue: one study per file
    expected = {c.name: c.reason for c in IN_FOLDER if c.cli}
    assert set(by_name) == set(expected) | {v.name for v in VALID}
    for name, reason in expected.items():
        assert by_name[name]["status"] == "error" and reason in by_name[name]["error"], name
        assert by_name[name]["n_images"] == "1", name


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_gui_batch_shows_error_rows_and_writes_nothing(qtbot, open_window, catalogue):
    from fakes import factory
    from helpers import settled

    from xray_desktop.ui.study_list import Status

    w = open_window(factory())
    skipped: list[int] = []
    w.batch.skipped.connect(skipped.append)
    errors = {c.name: c.reason for c in IN_FOLDER if c.gui == "error"}
    n_rows = len(errors) + len(VALID)
    w.open_paths([catalogue])
    qtbot.waitUntil(lambda: len(w.model.rows) == n_rows and settled(w), timeout=60_000)
    rows = {_rel(catalogue, str(r.path)): r for r in w.model.rows}
    assert set(rows) == set(errors) | {v.name for v in VALID}
    for name, reason in errors.items():
        assert (rows[name].status, rows[name].error) == (Status.ERROR, reason), name
    for v in VALID:
        assert rows[v.name].status in (Status.AI_READY, Status.REJECTED), (v.name, rows[v.name].error)
    assert sum(skipped) == 1  # the DICOMDIR is left out, not listed and not followed
    # An error row cannot be confirmed, even with the diagnosis keys pressed.
    for name in errors:
        row = next(i for i, r in enumerate(w.model.rows) if r.path == catalogue / name)
        w.list_panel.select_source_row(row)
        assert not w.diagnosis_panel.isEnabled()
        assert not w.confirm()
    assert w.store.count() == 0
