"""``python -m app split``: the PLM-IPE §4.1 train/test split by volunteer, stored in the DB."""
from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "split",
        help="make and store a seeded train/test split by volunteer (PLM-IPE §4.1)",
        description="Split volunteers 8:2 (by default): test volunteers took part in exactly one session, "
        "no volunteer is in both folds, genders as balanced as the roster allows; seeded and stored "
        "under NAME so runs can name it.",
    )
    parser.add_argument("--name", default="default", help="split name (default 'default')")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--test-fraction", type=float, default=0.2)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from core.errors import StoreError
    from core.splits import describe_split, make_volunteer_split, roster_from_store, save_split
    from core.store import Store

    with Store.open(args.home) as store:
        roster = roster_from_store(store)
        if not roster:
            raise StoreError("no volunteer has a session yet; collect data first")
        assignment = make_volunteer_split(roster, test_fraction=args.test_fraction, seed=args.seed)
        save_split(store, args.name, assignment, seed=args.seed, params={"test_fraction": args.test_fraction})
    summary = describe_split(assignment, roster)
    print(f"split {args.name!r} (seed {args.seed}): train {summary['train']}, test {summary['test']}")
    return 0
