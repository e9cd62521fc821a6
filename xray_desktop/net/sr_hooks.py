"""The glue between ``predict`` / ``export`` and the SR writer, so those commands change by a few lines.

``PredictionSrs.add(row)`` takes a ``predict`` CSV row (the dict before it is written);
``export_read_srs`` walks confirmed reads. Both write one SR per DICOM source and count
what they skipped (non-DICOM sources, rejected inputs, missing files) and why.
"""

from __future__ import annotations

import hashlib
import json
import sys
from collections import Counter
from collections.abc import Mapping
from datetime import date, datetime
from pathlib import Path
from typing import Any, TextIO

from xray_desktop.net.sr import AiResult, ReaderResult, SrError, read_source, write_sr


class PredictionSrs:
    """Writes an SR for every row whose input the model assessed (status ``ok``)."""

    def __init__(self, out_dir: Path, model_name: str, model_sha256: str) -> None:
        self.out_dir = out_dir
        self.model_name = model_name
        self.model_sha256 = model_sha256
        self.written = 0
        self.paths: list[Path] = []  # the SRs written, in order (what ``--send`` sends)
        self.skipped: Counter[str] = Counter()

    def add(self, row: Mapping[str, Any]) -> None:
        """One CSV row of ``predict``: ``ok`` rows of DICOM inputs get an SR; others are counted."""
        if row.get("status") != "ok":
            self.skipped["not assessed by the model"] += 1
            return
        source = Path(str(row.get("ai_image") or row["path"]))  # ai_image: the study's image the AI read
        ai = AiResult(
            gate_verdict="accepted", probability=float(row["probability"]), threshold=float(row["threshold"]),
            operating_point=str(row.get("operating_point", "")), label=str(row.get("ai_label", "")),
            model_name=self.model_name, model_version=str(row.get("model_version", "")),
            model_sha256=self.model_sha256,
        )  # fmt: skip
        _write(self, source, ai, None, "ai")

    def summary(self) -> str:
        """One line for stderr."""
        return _summary(self.written, self.out_dir, self.skipped)


def export_read_srs(
    store: Any, out_dir: Path, *, all_history: bool = False, reviewer: str | None = None,
    since: date | datetime | None = None, until: date | datetime | None = None,
    written: list[Path] | None = None,
) -> str:  # fmt: skip
    """Write an SR per confirmed read whose source DICOM file is still there; return a summary line.

    ``written``, when given, receives the paths of the SRs written.
    """
    counter = PredictionSrs(out_dir, "", "")
    if written is not None:
        counter.paths = written
    names: dict[str, str] = {}
    for read in store.reads(reviewer=reviewer, since=since, until=until, latest_only=not all_history):
        source = Path(read.file_path)
        if not source.is_file():
            counter.skipped["source file not found"] += 1
            continue
        if not _same_image(source, read):
            counter.skipped["source file changed since the read"] += 1
            continue
        ai = AiResult(
            gate_verdict=read.gate_result, probability=read.ai_probability, threshold=read.threshold,
            operating_point=read.operating_point, label=read.ai_label,
            model_name=names.setdefault(read.model_version, _model_name(read.model_version)),
            model_version=read.model_version, model_sha256=read.model_sha256,
        )  # fmt: skip
        reader = ReaderResult(read.final_diagnosis, read.reviewer, read.confidence, read.other_finding)
        _write(counter, source, ai, reader, f"read{read.id}")
    return counter.summary()


def _write(counter: PredictionSrs, source: Path, ai: AiResult, reader: ReaderResult | None, tag: str) -> None:
    try:
        path = write_sr(source, counter.out_dir, ai, reader, tag=tag)
    except SrError:
        counter.skipped["not a DICOM image"] += 1
        return
    except OSError as exc:
        counter.skipped[f"not written ({exc.strerror or type(exc).__name__})"] += 1
        return
    counter.written += 1
    counter.paths.append(path)


def _same_image(path: Path, read: Any) -> bool:
    """The file is the one read: its SOP Instance or Study UID is the read's key, or its hash matches."""
    try:
        ds = read_source(path)
    except SrError:
        return True  # not DICOM: _write counts it as such
    if read.study_key in (str(ds.SOPInstanceUID), str(ds.StudyInstanceUID)):
        return True
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest() == read.file_sha256


def _model_name(version: str) -> str:
    """The bundled model's name when the read was made with its version; else "".

    Reads the card's JSON directly: net sits below the model layer and may not import it.
    """
    try:
        from xray_desktop.resources import model_dir

        card = json.loads((model_dir() / "model_card.json").read_text(encoding="utf-8"))
        return str(card["name"]) if str(card.get("version")) == version else ""
    except Exception:  # noqa: BLE001 - the name is a nicety; a missing card must not stop the export
        return ""


def _summary(written: int, out_dir: Path, skipped: Counter[str]) -> str:
    line = f"wrote {written} DICOM SR to {out_dir}"
    if skipped:
        line += " (skipped: " + ", ".join(f"{n} {why}" for why, n in sorted(skipped.items())) + ")"
    return line


def send_srs(paths: list[Path], send: Any, calling_ae: str | None, prog: str, out: TextIO) -> int:
    """``--send``: C-STORE the SRs written; one line per file on ``out``. 0 when all were stored.

    A refused association or a failed store is one line on stderr and 1; the files stay on disk.
    """
    from xray_desktop import settings
    from xray_desktop.net.config import DEFAULT_AE_TITLE, ReceiverError, check_ae_title
    from xray_desktop.net.send import SendError, send_files

    if calling_ae is None:  # the GUI's receive AE title, so the PACS sees one name for this workstation
        try:
            calling_ae = check_ae_title(settings.gui_setting(settings.RECEIVE_AE_TITLE) or DEFAULT_AE_TITLE)
        except ReceiverError:
            calling_ae = DEFAULT_AE_TITLE
    if not paths:
        print(f"{prog}: no SR to send to {send}", file=out, flush=True)
        return 0

    def report(result: Any) -> None:
        print(f"send {result.path.name} to {send}: {result.detail}", file=out, flush=True)

    try:
        results = send_files(paths, send, calling_ae, report=report)
    except SendError as exc:
        print(f"{prog}: error: {exc}; the SRs stay in {paths[0].parent}", file=sys.stderr, flush=True)
        return 1
    failed = sum(not r.ok for r in results)
    if failed:
        print(f"{prog}: error: {failed} of {len(results)} SRs not stored at {send}; they stay in "
              f"{paths[0].parent}", file=sys.stderr, flush=True)
        return 1
    print(f"sent {len(results)} DICOM SR to {send}", file=out, flush=True)
    return 0
