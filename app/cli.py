"""The single command line of the kit.

Each subcommand lives in its own module under ``app/commands/`` and exposes
``register(subparsers) -> None``; the parser built there sets ``func`` to a callable
taking the parsed ``argparse.Namespace`` and returning an exit code. Modules are found
by name, so adding a command never edits a shared list.
"""
from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
from collections.abc import Sequence

import app.commands
from core.errors import IPEError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m app",
        description="Implicit preference estimation kit: collect, label, extract, train, demo.",
    )
    parser.add_argument(
        "--home",
        default=None,
        help="data home (DuckDB file, videos, features, runs); default $IPE_HOME or ./var",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for info in sorted(pkgutil.iter_modules(app.commands.__path__), key=lambda m: m.name):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"app.commands.{info.name}")
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        from core.settings import load_settings
        from core.store.lease import set_default_timing

        # every IPE_* value checked at start: a bad one is one line, not a traceback later
        set_default_timing(load_settings().store_timing())
        return int(args.func(args) or 0)
    except IPEError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
