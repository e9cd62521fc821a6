"""The `export`, `verify` and `db init` sub-commands.

Exit codes: 0 success; 1 a problem with the input or the database (one line on stderr,
never a traceback), or for ``verify`` a broken chain or anchor; 2 a usage error
(argparse); 3 for ``export``: the CSV and its anchor were written, but the reads' chain
failed verification (a WARNING line on stderr says why; the anchor records it).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

from xray_desktop.net.config import add_send_options
from xray_desktop.records import dialect
from xray_desktop.records.anchor import read_anchor, verify_anchor
from xray_desktop.records.export import export_reads
from xray_desktop.records.reads import StoreError
from xray_desktop.records.store import Store


def register(sub: argparse._SubParsersAction[Any]) -> None:
    """Add `export` and `verify` to the CLI's sub-parsers."""
    exp = sub.add_parser("export", help="write confirmed reads to a CSV file")
    exp.add_argument("--csv", type=Path, metavar="OUT", help="the CSV file to write")
    exp.add_argument("--dicom-sr", type=Path, metavar="DIR", help="write a DICOM SR per read of a DICOM image")
    add_send_options(exp)
    exp.add_argument(
        "--all", dest="all_history", action="store_true", help="every read (audit trail), not just the latest"
    )
    exp.add_argument("--deidentify", action="store_true", help="drop patient identifiers; pseudonymize study keys")
    exp.add_argument("--reviewer", help="only this reviewer's reads")
    exp.add_argument("--since", metavar="YYYY-MM-DD", help="only reads from this local day on")
    exp.add_argument("--until", metavar="YYYY-MM-DD", help="only reads up to this local day (inclusive)")
    exp.add_argument("--layout", choices=("reads", "mrmc"), default="reads", help="column layout")
    _add_db(exp)
    exp.set_defaults(func=_guarded("export", run_export), usage_error=exp.error)

    ver = sub.add_parser("verify", help="check the reads database's tamper-evident hash chain")
    ver.add_argument(
        "--anchor", type=Path, metavar="PATH",
        help="an anchor written with an export (<name>.anchor.json): also fail when the reads it "
        "recorded were rewritten, re-hashed or removed since",
    )  # fmt: skip
    _add_db(ver)
    ver.set_defaults(func=_guarded("verify", run_verify))

    dbp = sub.add_parser("db", help="department mode: set up a PostgreSQL reads database")
    dsub = dbp.add_subparsers(dest="db_command", metavar="ACTION", required=True)
    init = dsub.add_parser("init", help="create (or migrate) the reads schema; run as the database's owner")
    init.add_argument("--db", type=dialect.db_argument, required=True, metavar="URL",
                      help="postgresql://OWNER@HOST/DATABASE (the owning role, not the workstations')")
    init.add_argument("--grant", metavar="ROLE",
                      help="also grant ROLE (the workstations' login) read and append, nothing else")
    init.set_defaults(func=_guarded("db init", run_db_init))


def _add_db(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--db", type=dialect.db_argument, metavar="PATH|URL",
        help="the reads database: an SQLite file or a postgresql:// URL (default: XRAY_DESKTOP_DB or the data folder)",
    )


class _Fail(Exception):
    """A one-line user-facing error."""


def _parse_day(flag: str, text: str | None) -> date | None:
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise _Fail(f"{flag} must be a date like 2024-05-31, got {text!r}") from None


def run_export(args: argparse.Namespace) -> int:
    """`xray-desktop export`: write the CSV, print how many rows."""
    since = _parse_day("--since", args.since)
    until = _parse_day("--until", args.until)
    out: Path | None = args.csv
    sr_dir: Path | None = getattr(args, "dicom_sr", None)
    if out is None and sr_dir is None:
        args.usage_error("give --csv OUT and/or --dicom-sr DIR")  # exits 2, like a missing required flag
    if getattr(args, "send", None) is not None and sr_dir is None:
        args.usage_error("--send needs --dicom-sr DIR (the SRs it sends)")
    if sr_dir is not None and args.deidentify:
        raise _Fail("--dicom-sr cannot be de-identified: the SR carries the patient and study for the PACS")
    if out is None:
        return _export_srs(args, sr_dir, since, until)
    if out.is_dir():
        raise _Fail(f"{out} is a folder; give a file name for the CSV")
    with Store.open(args.db, create=False) as store:
        try:
            result = export_reads(
                store, out, all_history=args.all_history, deidentify=args.deidentify,
                reviewer=args.reviewer, since=since, until=until, layout=args.layout,
            )  # fmt: skip
        except OSError as exc:
            raise _Fail(f"cannot write {out}: {exc.strerror or exc}") from exc
    print(f"wrote {result.rows} rows to {out}")  # the anchor goes next to it: <name>.anchor.json
    rc = 0
    if not result.chain.ok:
        print(f"xray-desktop export: WARNING: the reads' audit trail failed verification "
              f"(read {result.chain.first_broken_id}: {result.chain.message}); the export was written "
              "and its anchor records the failure", file=sys.stderr)  # fmt: skip
        rc = 3
    if sr_dir is not None:
        rc = max(rc, _export_srs(args, sr_dir, since, until))
    return rc


def _export_srs(args: argparse.Namespace, sr_dir: Path, since: date | None, until: date | None) -> int:
    """`export --dicom-sr DIR` (issue 14): one SR per read whose source DICOM is still on disk."""
    from xray_desktop.net.sr_hooks import export_read_srs, send_srs

    written: list[Path] = []
    with Store.open(args.db, create=False) as store:
        print(export_read_srs(store, sr_dir, all_history=args.all_history, reviewer=args.reviewer,
                              since=since, until=until, written=written), flush=True)
    if getattr(args, "send", None) is None:
        return 0
    return send_srs(written, args.send, args.calling_ae, "xray-desktop export", sys.stdout)


def run_verify(args: argparse.Namespace) -> int:
    """`xray-desktop verify [--anchor PATH]`: 0 when the chain (and the anchor) hold, 1 when not.

    Without an anchor this proves only that nobody changed a read without re-hashing the
    rest; see ``records.anchor`` for what an anchor adds.
    """
    anchor_path = getattr(args, "anchor", None)
    anchor = read_anchor(anchor_path) if anchor_path is not None else None
    with Store.open(args.db, create=False) as store:
        result = store.verify() if anchor is None else verify_anchor(store, anchor)
    if result.ok:
        print(f"ok: {result.message}")
        return 0
    print(f"BROKEN: first broken read id {result.first_broken_id}: {result.message}")
    return 1


def run_db_init(args: argparse.Namespace) -> int:
    """`xray-desktop db init --db URL [--grant ROLE]`: the schema, and the role's least-privilege grants."""
    url = args.db
    if not dialect.is_url(url):
        raise _Fail("db init sets up a PostgreSQL server (--db postgresql://...); an SQLite file is created on "
                    "first use")
    with Store.open(url, create=True) as store:
        version = store.schema_version
        database = str(store.conn.execute("SELECT current_database()").fetchone()[0])
        grants = dialect.pg_grants(args.grant or "ROLE", database)
        if args.grant:
            store.conn.execute("BEGIN")
            for grant in grants:
                store.conn.execute(grant)
            store.conn.execute("COMMIT")
    print(f"reads schema v{version} ready in {dialect.redact(url)}")
    print("granted:" if args.grant else "grant the workstations' role (then use its URL in XRAY_DESKTOP_DB):")
    for grant in grants:
        print(f"  {grant};")
    return 0


def _guarded(name: str, func: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    """Run ``func``; report any failure as one stderr line and exit status 1."""

    def run(args: argparse.Namespace) -> int:
        try:
            return func(args)
        except (_Fail, StoreError, ValueError) as exc:
            message = str(exc)
        except OSError as exc:
            message = f"{exc.strerror or exc}" + (f": {exc.filename}" if exc.filename else "")
        except Exception as exc:  # noqa: BLE001 -- the CLI promises no tracebacks
            message = f"unexpected {type(exc).__name__}: {exc}"
        one_line = " ".join(message.split())
        print(f"xray-desktop {name}: error: {one_line}", file=sys.stderr)
        return 1

    run.__name__ = func.__name__
    run.__doc__ = func.__doc__
    return run
