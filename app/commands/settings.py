"""``python -m app settings``: every IPE_* setting, its value here, and the README's table."""
from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "settings",
        help="show every IPE_* setting with its current value (secrets masked), or the README table",
        description="Settings come from IPE_* environment variables (core/settings.py); a bad value is an error "
        "at start. --markdown prints the README's table of them.",
    )
    parser.add_argument("--markdown", action="store_true", help="print the README's settings table")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from core.settings import PREFIX, load_settings, settings_markdown

    if args.markdown:
        print(settings_markdown(), end="")
        return 0
    settings = load_settings()  # raises SettingsError (one line) on a bad value
    for name, value in settings.model_dump().items():
        shown = "(set)" if hasattr(value, "get_secret_value") else value
        print(f"{PREFIX}{name.upper()}={'' if value is None else shown}")
    return 0
