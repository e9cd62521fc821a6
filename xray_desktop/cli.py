"""The command line: `xray-desktop [gui] [PATHS]`, `predict`, `selftest`, `model trust`, `export`,
`verify`, `db init`, `site-report`, `site-calibrate`, `receive`.

Each command lives in the layer it belongs to and registers its own sub-parser; this
module only dispatches, so importing it stays cheap (no Qt, no TensorFlow).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from xray_desktop import __version__

COMMANDS = ("gui", "predict", "selftest", "model", "export", "verify", "db", "site-report", "site-calibrate",
            "receive")


class _Parser(argparse.ArgumentParser):
    """argparse that exits with 2 and a one-line message on a usage error."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        self.exit(2, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    """The full parser with every sub-command."""
    from xray_desktop.model import commands as model_commands
    from xray_desktop.net import commands as net_commands
    from xray_desktop.records import commands as records_commands
    from xray_desktop.siteperf import commands as site_commands

    parser = _Parser(prog="xray-desktop", description="Chest X-ray review workstation with an AI second reader.")
    parser.add_argument("--version", action="version", version=f"xray-desktop {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    gui = sub.add_parser("gui", help="open the review window (the default)")
    gui.add_argument("paths", nargs="*", help="files or folders to open")
    gui.set_defaults(func=_run_gui)
    model_commands.register(sub)
    records_commands.register(sub)
    site_commands.register(sub)
    net_commands.register(sub)
    return parser


def _run_gui(args: argparse.Namespace) -> int:
    from xray_desktop.app import run

    return run(args.paths)


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the process exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    # `xray-desktop study.dcm` opens the GUI with that study, like a double-click would.
    if not argv or (argv[0] not in COMMANDS and not argv[0].startswith("-")):
        argv = ["gui", *argv]
    parser = build_parser()
    args = parser.parse_args(argv)
    func: Callable[[argparse.Namespace], int] | None = getattr(args, "func", None)
    if func is None:
        parser.print_help()
        return 2
    try:
        return func(args)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
