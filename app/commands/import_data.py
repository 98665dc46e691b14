"""``python -m app import IN``: load an export into an empty store."""
from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "import",
        help="load an export folder into an empty store (hashes verified first)",
        description="Verify every hash in IN/manifest.json, then copy the files and insert the rows into "
        "the store of --home, which must be empty (create one with `init --no-demo`).",
    )
    parser.add_argument("folder", help="an export folder made by `python -m app export`")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from core.store.export import import_dataset
    from core.store import Store

    with Store.open(args.home) as store:
        counts = import_dataset(store, args.folder)
    print("imported: " + ", ".join(f"{table} {n}" for table, n in counts.items()))
    return 0
