"""``python -m app import-catalog PATH``: import tops, bottoms and outfits (all or nothing)."""
from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "import-catalog",
        help="import a catalog folder or items CSV (validated; nothing written on error)",
        description="Import garments and outfits. PATH is a folder with items.csv (item_id,kind,path,"
        "<attributes>) and outfits.csv (outfit_id,top_id,bottom_id), or the path of an items CSV. "
        "Every problem is listed and nothing is written when there is any.",
    )
    parser.add_argument("path", help="catalog folder or items.csv")
    parser.add_argument("--outfits", default=None, help="outfits CSV (default: outfits.csv beside the items)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from core.collection.catalog import import_catalog
    from core.store import Store

    with Store.open(args.home) as store:
        report = import_catalog(store, args.path, args.outfits, progress=True)
    print(
        f"catalog {report.catalog_id}: {report.items_added} items added ({report.items_unchanged} already there), "
        f"{report.outfits_added} outfits added ({report.outfits_unchanged} already there)"
    )
    return 0
