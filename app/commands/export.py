"""``python -m app export OUT``: the dataset as Parquet + video files + a manifest with hashes."""
from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "export",
        help="export the dataset (Parquet tables, videos, catalog images, manifest with hashes)",
        description="Write every table as Parquet, every recording and catalog image, and manifest.json "
        "with the sha256 of each file into the new folder OUT. Derived features and runs are not exported.",
    )
    parser.add_argument("out", help="folder to create (must not exist)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from core.store.export import export_dataset
    from core.store import Store

    with Store.open(args.home, read_only=True) as store:
        out = export_dataset(store, args.out)
    print(f"exported to {out}")
    return 0
