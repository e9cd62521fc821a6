"""Headless commands of the model layer: ``predict``, ``selftest`` and ``model trust``."""

from __future__ import annotations

import argparse
import csv
import functools
import io
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TextIO

from xray_desktop import decision
from xray_desktop.argtypes import fraction
from xray_desktop.io import StudyLoadError, load_study
from xray_desktop.io.prefetch import prefetched
from xray_desktop.net.config import add_send_options

COLUMNS = (
    "path", "status", "error", "probability", "threshold", "ai_label", "model_version", "file_sha256",
    "logit", "ood_score", "operating_point", "patient_id", "elapsed_ms",
    # appended later, so older readers of the first columns keep working:
    "model_sha256", "site_profile",
)
BATCH = 16


def register(sub: Any) -> None:
    """Add the ``predict`` and ``selftest`` sub-commands."""
    p = sub.add_parser("predict", help="classify files/folders headlessly, one CSV row per file")
    p.add_argument("paths", nargs="+", metavar="PATH", help="files or folders (recursive)")
    p.add_argument("--csv", type=Path, metavar="OUT", help="write the table here (default: stdout)")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--threshold", type=fraction("threshold"), metavar="T", help="threshold on the probability, 0..1")
    g.add_argument("--operating-point", metavar="NAME", help="a named operating point from the model card")
    p.add_argument("--site-profile", type=Path, metavar="PATH",
                   help="take the operating point from this site profile (see site-calibrate)")
    p.add_argument("--no-heatmap", action="store_true", help="skip heat maps (faster)")
    p.add_argument("--model-dir", type=Path, help="model folder (default: the bundled model)")
    p.add_argument("--dicom-sr", type=Path, metavar="DIR", help="also write a DICOM SR per assessed DICOM input")
    add_send_options(p)
    p.add_argument("--by-study", action="store_true",
                   help="one row per study (DICOM grouped by StudyInstanceUID); the AI reads its frontal image")
    p.set_defaults(func=run_predict)
    s = sub.add_parser("selftest", help="load the bundled model and check it on the reference image")
    s.add_argument("--model-dir", type=Path, help="model folder (default: the bundled model)")
    s.set_defaults(func=run_selftest)
    m = sub.add_parser("model", help="manage which AI models may load (the bundled one always may)")
    actions = m.add_subparsers(dest="action", metavar="ACTION", required=True, parser_class=type(m))
    t = actions.add_parser("trust", help="allow a model folder other than the bundled one; recorded per user")
    t.add_argument("dir", type=Path, metavar="DIR", help="the model folder (card, .keras file, gate)")
    t.set_defaults(func=run_model_trust)


def uid_collision_note(other_path: str) -> str:
    """The note for a file whose SOP Instance UID an earlier file with other content had."""
    return f"UID collision: same SOP Instance UID as {other_path}, different content (treated as a new image)"


def _rows(clf: Any, paths: list[str], threshold: float, op_name: str, heatmap: bool,
          profile_id: str = "") -> Iterator[dict[str, Any]]:
    """One row per file found; studies are predicted in bounded batches.

    Memory: the batch being predicted plus at most one batch decoded ahead (``prefetched``).
    """
    pending: list[tuple[str, Any, str, Any]] = []
    first_of_uid: dict[str, tuple[str, str]] = {}  # UID -> (sha256, path) of the first file with it
    prepare = getattr(clf, "prepare", None)  # stand-ins for the classifier may not have it

    def flush() -> Iterator[dict[str, Any]]:
        studies = [s for _, s, _, _ in pending]
        extra = {"prepared": [p for *_, p in pending]} if prepare is not None else {}
        preds = clf.predict_many(studies, batch_size=BATCH, heatmap=heatmap, **extra)
        for (path, study, note, _), pred in zip(pending, preds, strict=True):
            row = prediction_row(path, study, pred, threshold, op_name, profile_id)
            # The column set is a contract: a note rides in `error`, after any refusal reason.
            row["error"] = "; ".join(t for t in (row["error"], note) if t)
            yield row
        pending.clear()

    # Files are walked, decoded and prepared for the model one batch ahead, on a thread,
    # while the model runs.
    for item, study, error, prepared in prefetched(paths, depth=BATCH, prepare=prepare):
        path = str(item.path)
        if study is None:  # skipped, or failed to load
            if pending:  # rows stay in file order: the batch before this file first
                yield from flush()
            yield _error_row(path, error, clf)
            continue
        note = ""
        uid = study.metadata.sop_instance_uid
        if uid:
            sha, other = first_of_uid.setdefault(uid, (study.sha256, path))
            note = uid_collision_note(other) if sha != study.sha256 else ""
        pending.append((path, study, note, prepared))
        if len(pending) >= BATCH:
            yield from flush()
    if pending:
        yield from flush()


def prediction_row(
    path: str, study: Any, pred: Any, threshold: float, op_name: str, profile_id: str = ""
) -> dict[str, Any]:
    """The CSV row of one predicted study; the AI verdict comes from :func:`decision.verdict`.

    A study the input gate refused, or one outside the intended use, is ``rejected`` with the
    reason in ``error`` and no probability, logit or AI label (the network's number on such an
    input means nothing); the gate's ``ood_score`` stays in its own column.
    """
    v = decision.verdict(pred.probability, threshold, pred.gate.accepted, pred.gate.reason, pred.out_of_scope)
    return {
        "path": path,
        "status": "ok" if v.assessed else "rejected",
        "error": "" if v.assessed else (v.reason or "no usable AI answer"),
        "probability": f"{v.probability:.6f}" if v.probability is not None else "",
        "threshold": f"{threshold:.6f}",
        "ai_label": v.label,
        "model_version": pred.model_version,
        "file_sha256": study.sha256,
        "logit": f"{pred.logit:.6f}" if v.assessed else "",
        "ood_score": "" if pred.gate.ood_score is None else f"{pred.gate.ood_score:.3f}",
        "operating_point": op_name,
        "patient_id": study.metadata.patient_id,
        "elapsed_ms": f"{pred.elapsed_ms:.1f}",
        "model_sha256": pred.model_sha256,
        "site_profile": profile_id,
    }


def _error_row(path: str, reason: str, clf: Any) -> dict[str, Any]:
    # getattr: callers may pass a stand-in that knows only its version
    return {"path": path, "status": "error", "error": reason, "model_version": clf.version,
            "model_sha256": getattr(clf, "sha256", "")}


class _Progress:
    """A minimal progress line on stderr, only when stderr is a terminal."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.on = stream.isatty()
        self.count = 0
        self.t0 = time.monotonic()

    def step(self) -> None:
        self.count += 1
        if self.on and self.count > 3:
            rate = self.count / max(time.monotonic() - self.t0, 1e-6)
            self.stream.write(f"\r{self.count} files  {rate:.1f}/s")
            self.stream.flush()

    def close(self) -> None:
        if self.on and self.count > 3:
            self.stream.write("\n")


def run_predict(args: argparse.Namespace) -> int:
    """``xray-desktop predict``: exit 0 when the run completed, 1 when it could not run."""
    from xray_desktop.logging_setup import setup_logging
    from xray_desktop.model.card import CardError
    from xray_desktop.model.classifier import Classifier, ModelError
    from xray_desktop.model.operating_points import ProfileError, source_for

    setup_logging()  # TensorFlow's start-up chatter goes there, not to the terminal
    if args.site_profile is not None and args.threshold is not None:
        print("xray-desktop predict: error: --threshold and --site-profile exclude each other", file=sys.stderr)
        return 2
    if getattr(args, "send", None) is not None and getattr(args, "dicom_sr", None) is None:
        print("xray-desktop predict: error: --send needs --dicom-sr DIR (the SRs it sends)", file=sys.stderr)
        return 2
    try:
        clf = Classifier.load(args.model_dir)
        # the card's points, or the site profile's (refused when made for another model)
        source = source_for(clf.card, args.site_profile)
        if args.threshold is not None:
            threshold, op_name = args.threshold, "custom"
        else:
            op = source.point(args.operating_point)
            threshold, op_name = op.threshold, op.name
        args.profile_id = source.profile_id
    except (ModelError, CardError, ProfileError) as exc:
        print(f"xray-desktop predict: {exc}", file=sys.stderr)
        return 1
    progress = _Progress(sys.stderr)
    if args.csv is None:
        return max(_write(sys.stdout, clf, args, threshold, op_name, progress), _send(args))
    from xray_desktop.records.atomic import atomic_write

    # The export's writer: temp file beside the target, atomic rename, a symbolic link at the
    # output path refused (never followed), temp files of killed runs removed later.
    try:
        rc = atomic_write(args.csv, lambda fh: _write(fh, clf, args, threshold, op_name, progress))
    except OSError as exc:
        print(f"xray-desktop predict: cannot write {args.csv}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    print(f"wrote {progress.count} rows to {args.csv}", file=sys.stderr)
    return max(rc, _send(args))


def _send(args: argparse.Namespace) -> int:
    """``--send``: the SRs this run wrote go to the PACS (after the CSV is complete)."""
    if getattr(args, "send", None) is None:
        return 0
    from xray_desktop.net.sr_hooks import send_srs

    return send_srs(getattr(args, "sr_paths", []), args.send, args.calling_ae, "xray-desktop predict", sys.stderr)


def _write(fh: TextIO | io.TextIOBase, clf: Any, args: argparse.Namespace, threshold: float, op_name: str,
           progress: _Progress) -> int:
    from xray_desktop.records.export import escape_cell

    columns, rows = COLUMNS, _rows
    if getattr(args, "by_study", False):  # issue 14: one row per study
        from xray_desktop.model.by_study import STUDY_EXTRA, RowFns, study_rows

        columns = (*COLUMNS, *STUDY_EXTRA)
        rows = functools.partial(study_rows, fns=RowFns(prediction_row, _error_row, uid_collision_note))
    writer = csv.DictWriter(fh, fieldnames=columns, quoting=csv.QUOTE_MINIMAL, extrasaction="ignore")
    writer.writeheader()
    srs = None
    if getattr(args, "dicom_sr", None) is not None:  # issue 14: AI result as DICOM SR
        from xray_desktop.net.sr_hooks import PredictionSrs

        srs = PredictionSrs(args.dicom_sr, clf.card.name, clf.sha256)
    try:
        for row in rows(clf, args.paths, threshold, op_name, not args.no_heatmap, getattr(args, "profile_id", "")):
            writer.writerow({k: escape_cell(str(row.get(k, ""))) for k in columns})
            if srs is not None:
                srs.add(row)
            progress.step()
    finally:
        progress.close()
    if srs is not None:
        print(srs.summary(), file=sys.stderr)
        args.sr_paths = srs.paths  # for --send, once the CSV is complete
    return 0


def run_selftest(args: argparse.Namespace) -> int:
    """``xray-desktop selftest``: the bundled model reproduces its card's reference value."""
    from xray_desktop.logging_setup import setup_logging
    from xray_desktop.model.classifier import Classifier, ModelError

    setup_logging()  # TensorFlow's start-up chatter goes there, not to the terminal
    t0 = time.perf_counter()
    try:
        clf = Classifier.load(args.model_dir)
    except ModelError as exc:
        print(f"selftest FAILED: {exc}", file=sys.stderr)
        return 1
    ref = clf.card.data.get("reference")
    if not ref:
        print("selftest FAILED: the model card records no reference image", file=sys.stderr)
        return 1
    try:
        study = load_study(clf.model_dir / ref["image"])
    except StudyLoadError as exc:
        print(f"selftest FAILED: reference image: {exc}", file=sys.stderr)
        return 1
    pred = clf.predict(study)
    expected, tol = float(ref["probability"]), float(ref.get("tolerance", 0.002))
    if abs(pred.probability - expected) > tol:
        print(f"selftest FAILED: reference probability {pred.probability:.6f}, card says {expected:.6f} "
              f"(tolerance {tol})", file=sys.stderr)
        return 1
    if "logit" in ref and abs(pred.logit - float(ref["logit"])) > float(ref.get("logit_tolerance", 0.01)):
        print(f"selftest FAILED: reference logit {pred.logit:.5f}, card says {float(ref['logit']):.5f}",
              file=sys.stderr)
        return 1
    if "member_logits" in ref:
        got = clf.member_logits(pred.model_input[None])[0]
        want = [float(v) for v in ref["member_logits"]]
        tol = float(ref.get("logit_tolerance", 0.01))
        if len(got) != len(want) or any(abs(g - w) > tol for g, w in zip(got, want, strict=False)):
            print(f"selftest FAILED: ensemble member logits {[round(float(g), 4) for g in got]}, card says "
                  f"{[round(w, 4) for w in want]}", file=sys.stderr)
            return 1
    if pred.heatmap is None or float(pred.heatmap.std()) == 0.0:
        print("selftest FAILED: heat map is empty or constant", file=sys.stderr)
        return 1
    libraries = _library_check()
    if libraries.startswith("FAILED"):
        print(f"selftest {libraries}", file=sys.stderr)
        return 1
    members = len(ref.get("member_logits", [])) or 1
    print(f"selftest passed: {clf.card.name} {clf.version} ({members} member{'s' * (members > 1)}, "
          f"sha256 {clf.sha256[:12]}…), reference "
          f"probability {pred.probability:.6f} (card {expected:.6f}), {time.perf_counter() - t0:.1f} s; "
          f"{libraries}")
    return 0


def _library_check() -> str:
    """The department-mode and DICOM-network libraries import (a frozen bundle may lack one).

    psycopg must find a libpq: its binary wheel's (bundled) or the system's.
    """
    try:
        import highdicom
        import psycopg
        import pynetdicom

        impl = psycopg.pq.__impl__  # loads libpq: "binary", "c" or "python" (ctypes + system libpq)
    except Exception as exc:  # noqa: BLE001 - any import failure is the finding
        return f"FAILED: a bundled library does not load: {type(exc).__name__}: {exc}"
    libpq = psycopg.pq.version()  # e.g. 160004 for 16.4
    return (f"psycopg {psycopg.__version__} ({impl}, libpq {libpq // 10000}.{libpq % 10000}), "
            f"pynetdicom {pynetdicom.__version__}, highdicom {highdicom.__version__}")


def run_model_trust(args: argparse.Namespace) -> int:
    """``xray-desktop model trust DIR``: verify a model folder and record that it may load."""
    from xray_desktop.model.classifier import ModelError, verify_model_dir
    from xray_desktop.model.trust import card_identity, is_bundled, record_trust, trust_file

    folder: Path = args.dir
    if not folder.is_dir():
        print(f"xray-desktop model trust: no model folder at {folder}", file=sys.stderr)
        return 1
    try:
        card = verify_model_dir(folder, require_trust=False)  # every integrity check but the pin
    except ModelError as exc:
        print(f"xray-desktop model trust: {exc}", file=sys.stderr)
        return 1
    identity = card_identity(card.data)
    if is_bundled(identity):
        print(f"{card.name} {card.version} is the bundled model: it needs no trust step")
        return 0
    try:
        record_trust(folder, identity, card.sha256, card.name, card.version)
    except OSError as exc:
        print(f"xray-desktop model trust: cannot record the trust step: {exc.strerror or exc}", file=sys.stderr)
        return 1
    print(f"trusted {card.name} {card.version} as a custom model\n"
          f"  model card sha256 {identity}\n  model file sha256 {card.sha256}\n  recorded in {trust_file()}\n"
          "The window, every read and every export made with it will say \"custom model\".")
    return 0
