"""Headless commands of the model layer: ``predict`` and ``selftest``."""

from __future__ import annotations

import argparse
import csv
import io
import os
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TextIO

from xray_desktop.io import StudyLoadError, load_study, scan

COLUMNS = (
    "path", "status", "error", "probability", "threshold", "ai_label", "model_version", "file_sha256",
    "logit", "ood_score", "operating_point", "patient_id", "elapsed_ms",
)
BATCH = 16


def register(sub: Any) -> None:
    """Add the ``predict`` and ``selftest`` sub-commands."""
    p = sub.add_parser("predict", help="classify files/folders headlessly, one CSV row per file")
    p.add_argument("paths", nargs="+", metavar="PATH", help="files or folders (recursive)")
    p.add_argument("--csv", type=Path, metavar="OUT", help="write the table here (default: stdout)")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--threshold", type=_probability, metavar="T", help="threshold on the probability, 0..1")
    g.add_argument("--operating-point", metavar="NAME", help="a named operating point from the model card")
    p.add_argument("--no-heatmap", action="store_true", help="skip heat maps (faster)")
    p.add_argument("--model-dir", type=Path, help="model folder (default: the bundled model)")
    p.set_defaults(func=run_predict)
    s = sub.add_parser("selftest", help="load the bundled model and check it on the reference image")
    s.add_argument("--model-dir", type=Path, help="model folder (default: the bundled model)")
    s.set_defaults(func=run_selftest)


def _probability(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"threshold must be between 0 and 1, got {value}")
    return value


def _rows(clf: Any, paths: list[str], threshold: float, op_name: str, heatmap: bool) -> Iterator[dict[str, Any]]:
    """One row per file found; studies are predicted in bounded batches."""
    pending: list[tuple[str, Any]] = []

    def flush() -> Iterator[dict[str, Any]]:
        studies = [s for _, s in pending]
        for (path, study), pred in zip(pending, clf.predict_many(studies, batch_size=BATCH, heatmap=heatmap),
                                       strict=True):
            yield {
                "path": path,
                "status": "ok" if pred.gate.accepted else "rejected",
                "error": pred.gate.reason,
                "probability": f"{pred.probability:.6f}",
                "threshold": f"{threshold:.6f}",
                "ai_label": "PNEUMONIA" if pred.probability >= threshold else "NORMAL",
                "model_version": pred.model_version,
                "file_sha256": study.sha256,
                "logit": f"{pred.logit:.6f}",
                "ood_score": "" if pred.gate.ood_score is None else f"{pred.gate.ood_score:.3f}",
                "operating_point": op_name,
                "patient_id": study.metadata.patient_id,
                "elapsed_ms": f"{pred.elapsed_ms:.1f}",
            }
        pending.clear()

    for item in scan(paths):
        path = str(item.path)
        if item.skip_reason:
            yield _error_row(path, item.skip_reason, clf.version)
            continue
        try:
            study = load_study(item.path)
        except StudyLoadError as exc:
            yield _error_row(path, str(exc), clf.version)
            continue
        pending.append((path, study))
        if len(pending) >= BATCH:
            yield from flush()
    if pending:
        yield from flush()


def _error_row(path: str, reason: str, version: str) -> dict[str, Any]:
    return {"path": path, "status": "error", "error": reason, "model_version": version}


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
    from xray_desktop.model.card import CardError
    from xray_desktop.model.classifier import Classifier, ModelError

    try:
        clf = Classifier.load(args.model_dir)
        if args.threshold is not None:
            threshold, op_name = args.threshold, "custom"
        else:
            op = clf.operating_point(args.operating_point)
            threshold, op_name = op.threshold, op.name
    except (ModelError, CardError) as exc:
        print(f"xray-desktop predict: {exc}", file=sys.stderr)
        return 1
    progress = _Progress(sys.stderr)
    if args.csv is None:
        return _write(sys.stdout, clf, args, threshold, op_name, progress)
    target = args.csv.resolve()
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    except OSError as exc:
        print(f"xray-desktop predict: cannot write {args.csv}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    try:
        with os.fdopen(fd, "w", newline="", encoding="utf-8") as fh:
            rc = _write(fh, clf, args, threshold, op_name, progress)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    print(f"wrote {progress.count} rows to {args.csv}", file=sys.stderr)
    return rc


def _write(fh: TextIO | io.TextIOBase, clf: Any, args: argparse.Namespace, threshold: float, op_name: str,
           progress: _Progress) -> int:
    from xray_desktop.records.export import escape_cell

    writer = csv.DictWriter(fh, fieldnames=COLUMNS, quoting=csv.QUOTE_MINIMAL, extrasaction="ignore")
    writer.writeheader()
    try:
        for row in _rows(clf, args.paths, threshold, op_name, heatmap=not args.no_heatmap):
            writer.writerow({k: escape_cell(str(row.get(k, ""))) for k in COLUMNS})
            progress.step()
    finally:
        progress.close()
    return 0


def run_selftest(args: argparse.Namespace) -> int:
    """``xray-desktop selftest``: the bundled model reproduces its card's reference value."""
    from xray_desktop.model.classifier import Classifier, ModelError

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
    members = len(ref.get("member_logits", [])) or 1
    print(f"selftest passed: {clf.card.name} {clf.version} ({members} member{'s' * (members > 1)}, "
          f"sha256 {clf.sha256[:12]}…), reference "
          f"probability {pred.probability:.6f} (card {expected:.6f}), {time.perf_counter() - t0:.1f} s")
    return 0
