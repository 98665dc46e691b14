"""``python -m app stats``: what the store holds, and the sweep of recordings."""
from __future__ import annotations

import argparse
import json


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "stats",
        help="counts of volunteers, sessions, views, classes, coverage; recording sweep",
        description="Print what the store holds (read-only) and check recordings against rows: files "
        "without rows, rows without files, and recordings whose bytes no longer match their stored sha256.",
    )
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from core.store import Store

    with Store.open(args.home, read_only=True) as store:
        stats = store.stats()
        sweep = store.sweep()
    stats["sweep"] = {k: len(v) for k, v in sweep.items() if k != "quarantined"}
    if args.json:
        print(json.dumps(stats, indent=2, default=str))
        return 0
    for key, value in stats.items():
        print(f"{key:>18}: {value}")
    if sweep["changed_files"]:
        print(f"warning: {len(sweep['changed_files'])} recording(s) changed after they were stored "
              f"(views {', '.join(sweep['changed_files'][:5])}): their rows and cached features describe the "
              "original bytes; restore the files from an export, or delete those views")
    return 0
