"""The ``site-report`` and ``site-calibrate`` sub-commands.

Exit codes: 0 success; 1 a refusal or a problem with the input (one line on stderr, never
a traceback); 2 a usage error (argparse).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from xray_desktop.argtypes import fraction, whole_number
from xray_desktop.model.card import CardError, ModelCard
from xray_desktop.model.operating_points import ProfileError
from xray_desktop.model.site_profile import SiteProfile
from xray_desktop.records.dialect import db_argument, describe
from xray_desktop.records.reads import StoreError
from xray_desktop.siteperf.data import Cases, SiteDataError, cases_from_archive, parse_day

TARGET = fraction("the target sensitivity", zero_ok=False)
COUNT = whole_number(1)


def register(sub: argparse._SubParsersAction[Any]) -> None:
    """Add ``site-report`` and ``site-calibrate`` to the CLI's sub-parsers."""
    rep = sub.add_parser("site-report", help="the AI's performance at this site, from confirmed reads")
    rsrc = rep.add_mutually_exclusive_group()
    rsrc.add_argument("--db", type=db_argument, metavar="PATH|URL", help="the reads database, a file or a "
                      "postgresql:// URL (default: XRAY_DESKTOP_DB or the data folder)")
    rsrc.add_argument("--predictions", type=Path, metavar="PREDICT.csv",
                      help="instead of reads: a predict CSV of labelled studies (with --labels)")
    rep.add_argument("--labels", type=Path, metavar="LABELS.csv", help="with --predictions, as for site-calibrate")
    rep.add_argument("--since", metavar="YYYY-MM-DD", help="only reads from this local day on")
    rep.add_argument("--reviewer", help="only this reviewer's reads")
    rep.add_argument("--read-first-only", action="store_true",
                     help="only reads made in read-first mode (the reader called the film before seeing the AI)")
    rep.add_argument("--json", action="store_true", help="print one JSON object instead of the table")
    rep.add_argument("--html", type=Path, metavar="FILE", help="also write a self-contained HTML report")
    rep.add_argument("--site-profile", type=Path, metavar="PATH",
                     help="the site profile in force (default: the newest one made for this model, if any)")
    rep.add_argument("--model-dir", type=Path, help="model folder (default: the bundled model)")
    rep.set_defaults(func=_guarded("site-report", run_report))

    cal = sub.add_parser("site-calibrate", help="fix a site operating point from labelled studies or confirmed reads")
    src = cal.add_mutually_exclusive_group(required=True)
    src.add_argument("--db", type=db_argument, metavar="PATH|URL",
                     help="use the confirmed reads of this database (a file or a postgresql:// URL)")
    src.add_argument("--predictions", type=Path, metavar="PREDICT.csv", help="a predict CSV of archived studies")
    cal.add_argument("--labels", type=Path, metavar="LABELS.csv",
                     help="with --predictions: columns path or file_sha256, and label (PNEUMONIA/NORMAL)")
    cal.add_argument("--target-sensitivity", type=TARGET, required=True, metavar="S",
                     help="the sensitivity the site point must reach, e.g. 0.95")
    cal.add_argument("--min-positives", type=COUNT, default=50, metavar="N", help="refuse below this (default 50)")
    cal.add_argument("--min-negatives", type=COUNT, default=50, metavar="N", help="refuse below this (default 50)")
    cal.add_argument("--since", metavar="YYYY-MM-DD", help="with --db: only reads from this local day on")
    cal.add_argument("--reviewer", help="with --db: only this reviewer's reads")
    cal.add_argument("--out", type=Path, metavar="PROFILE.json", help="write the profile here (default: the data "
                     "folder's site_profiles/)")
    cal.add_argument("--model-dir", type=Path, help="model folder (default: the bundled model)")
    cal.set_defaults(func=_guarded("site-calibrate", run_calibrate))


def _card(model_dir: Path | None) -> ModelCard:
    """The card of the model in use (no TensorFlow: only its identity and validation figures)."""
    from xray_desktop.resources import model_dir as default_dir

    return ModelCard.load(Path(model_dir) if model_dir is not None else default_dir())


def _cases_from_db(db: Path | str | None, card: ModelCard, since: str | None, reviewer: str | None,
                  read_first_only: bool = False) -> Cases:
    from xray_desktop.records.store import Store
    from xray_desktop.siteperf.service import cases_from_store

    day = parse_day("--since", since)
    with Store.open(db, create=False) as store:  # newest read per study
        cases = cases_from_store(store, card, since=day, reviewer=reviewer, read_first_only=read_first_only)
    cases.source["db"] = (describe(db) if isinstance(db, str) else Path(db).name) if db else "default"
    return cases


def run_report(args: argparse.Namespace) -> int:
    """``xray-desktop site-report``: the table (or JSON) on stdout; optionally an HTML file."""
    from xray_desktop.model import site_profile
    from xray_desktop.siteperf.report import render_text
    from xray_desktop.siteperf.service import build_report

    card = _card(args.model_dir)
    cases = _cases(args, card)
    profile = SiteProfile.load(args.site_profile) if args.site_profile else site_profile.newest_for(card.sha256)
    report = build_report(cases, card, profile)
    if args.html:
        from xray_desktop.siteperf.html import write_html

        write_html(report, card, cases, args.html)
    if args.json:
        print(json.dumps(report, indent=1, allow_nan=False))
    else:
        sys.stdout.write(render_text(report))
        if args.html:
            print(f"wrote {args.html}")
    return 0


def _cases(args: argparse.Namespace, card: ModelCard) -> Cases:
    """The cases of either source: confirmed reads (--db) or a labelled archive (--predictions, --labels)."""
    if args.predictions is None:
        if args.labels is not None:
            raise SiteDataError("--labels goes with --predictions, not with --db")
        return _cases_from_db(args.db, card, args.since, args.reviewer, getattr(args, "read_first_only", False))
    if args.labels is None:
        raise SiteDataError("--predictions needs --labels")
    if args.since or args.reviewer or getattr(args, "read_first_only", False):
        raise SiteDataError("--since, --reviewer and --read-first-only go with --db")
    return cases_from_archive(args.predictions, args.labels, card.sha256)


def run_calibrate(args: argparse.Namespace) -> int:
    """``xray-desktop site-calibrate``: choose the site threshold, write the profile."""
    from xray_desktop.model import metrics, site_profile
    from xray_desktop.siteperf.report import clean, evaluate, render_text

    card = _card(args.model_dir)
    cases = _cases(args, card)
    n_pos, n_neg = cases.n_positive, cases.n_negative
    if n_pos < args.min_positives:
        raise SiteDataError(f"only {n_pos} PNEUMONIA cases, fewer than the {args.min_positives} required "
                            "(--min-positives): too few to fix a threshold")
    if n_neg < args.min_negatives:
        raise SiteDataError(f"only {n_neg} NORMAL cases, fewer than the {args.min_negatives} required "
                            "(--min-negatives): too few to fix a threshold")
    best = metrics.most_specific_threshold(cases.y, cases.prob, args.target_sensitivity)
    assert best is not None  # there are positives (checked above)
    c = metrics.confusion(cases.y, cases.prob, best)
    threshold = metrics.margin_below(cases.prob, best)  # same calls, and robust to rounded scores
    ci = c.cis()
    site_point = {
        "threshold": threshold, "label": f"Site: sensitivity ≥ {args.target_sensitivity * 100:g} %",
        "target_sensitivity": args.target_sensitivity,
        "sensitivity": c.sensitivity, "specificity": c.specificity, "sensitivity_ci": ci["sensitivity"],
        "specificity_ci": ci["specificity"], "ppv": c.ppv, "ppv_ci": ci["ppv"], "npv": c.npv, "npv_ci": ci["npv"],
        "tp": c.tp, "fp": c.fp, "tn": c.tn, "fn": c.fn,
    }
    before = evaluate(cases, card)  # the card's points, measured on these cases
    auc_ci = before["auc_ci"]
    rows = metrics.roc_table(cases.y, cases.prob)
    # the site point itself as a row, so the profile's ROC gives its exact figures there
    rows.append({"threshold": threshold, "sensitivity": c.sensitivity, "specificity": c.specificity})
    roc = site_profile.thin_roc(sorted(rows, key=lambda r: r["threshold"]), keep=[threshold])
    fields = clean(dict(
        model={"name": card.name, "version": card.version, "sha256": card.sha256},
        source=cases.source, n={"studies": len(cases.y), "positive": n_pos, "negative": n_neg},
        reference_standard=cases.reference, excluded=cases.excluded,
        operating_points={"site": site_point}, default_operating_point="site",
        auc=before["auc"], auc_ci=auc_ci, card_points_at_site=before["operating_points"], roc=roc,
    ))
    data = site_profile.new_profile_data(**fields)
    path = site_profile.save(data, args.out)
    audit = site_profile.record_creation(data, path)

    sys.stdout.write(render_text(before))
    lo, hi = ci["sensitivity"]
    slo, shi = ci["specificity"]
    print(f"\nSite operating point for target sensitivity {args.target_sensitivity * 100:g} %: threshold "
          f"{threshold:.6f}")
    print(f"  sensitivity {c.sensitivity * 100:.1f} % (95 % CI {lo * 100:.1f}–{hi * 100:.1f} %; {c.tp}/{n_pos})")
    print(f"  specificity {c.specificity * 100:.1f} % (95 % CI {slo * 100:.1f}–{shi * 100:.1f} %; {c.tn}/{n_neg})")
    print(f"  the lower 95 % bound of sensitivity is {lo * 100:.1f} %: with {n_pos} positives, the sensitivity "
          "at this site could be that low")
    print(f"wrote site profile {data['profile_id']} to {path}")
    print(f"recorded in {audit}")
    return 0


def _guarded(name: str, func: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    """Run ``func``; report any failure as one stderr line and exit status 1."""

    def run(args: argparse.Namespace) -> int:
        try:
            return func(args)
        except (SiteDataError, StoreError, CardError, ProfileError, ValueError) as exc:
            message = str(exc)
        except OSError as exc:
            message = f"{exc.strerror or exc}" + (f": {exc.filename}" if exc.filename else "")
        except Exception as exc:  # noqa: BLE001 -- the CLI promises no tracebacks
            message = f"unexpected {type(exc).__name__}: {exc}"
        print(f"xray-desktop {name}: error: {' '.join(message.split())}", file=sys.stderr)
        return 1

    run.__name__ = func.__name__
    run.__doc__ = func.__doc__
    return run
