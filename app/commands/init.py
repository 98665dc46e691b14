"""``python -m app init``: create or migrate the store; load the demo catalog into an empty one."""
from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "init",
        help="create or migrate the store and load the demo catalog when it has none",
        description="Create the data home and its DuckDB store (or migrate an existing one). When the "
        "store has no catalog yet, generate the DEMO catalog (data/demo_catalog.py) and import it. "
        "Safe to run again; then it only reports the sweep of recordings.",
    )
    parser.add_argument("--no-demo", action="store_true", help="do not load the demo catalog")
    parser.add_argument("--seed", type=int, default=0, help="seed of the demo catalog (default 0)")
    parser.add_argument(
        "--quarantine", action="store_true",
        help="move video files without rows (and stale temporary files) to the quarantine folder",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import tempfile
    from pathlib import Path

    from core.collection.catalog import import_catalog
    from core.paths import DataHome
    from core.store import Store
    from data.demo_catalog import generate_demo_catalog

    home = DataHome.resolve(args.home).ensure()
    with Store.open(home) as store:
        print(f"store: {store.location} (schema version {store.schema_version})")
        if not args.no_demo and store.count("item") == 0:
            # generated beside the store, imported (images copied to home.catalog/demo-catalog/), then removed
            with tempfile.TemporaryDirectory(prefix=".demo-", dir=home.root) as tmp:
                source = generate_demo_catalog(Path(tmp) / "demo-catalog", seed=args.seed)
                report = import_catalog(store, source, progress=True)
            print(f"demo catalog: {report.items_added} items and {report.outfits_added} outfits loaded (DEMO, generated)")
        else:
            print(f"catalog: {store.count('item')} items, {store.count('outfit')} outfits")
        # this command holds the store's write lock, so no server (and no recorder) is running:
        # every temporary video file is a leftover of an interrupted take
        sweep = store.sweep(quarantine=args.quarantine, temp_grace_s=0)
        for key, label in (("orphan_files", "video files without a row"), ("missing_files", "rows whose video is missing"),
                           ("temp_files", "stale temporary files")):
            if sweep[key]:
                print(f"sweep: {len(sweep[key])} {label}: {', '.join(map(str, sweep[key][:5]))}"
                      + (" ..." if len(sweep[key]) > 5 else ""))
        if sweep["quarantined"]:
            print(f"sweep: moved {len(sweep['quarantined'])} file(s) to {home.quarantine}")
        elif sweep["orphan_files"] or sweep["temp_files"]:
            print("sweep: run `python -m app init --quarantine` to move them aside")
    return 0
