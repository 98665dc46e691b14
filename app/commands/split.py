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
    parser.add_argument("--negative-max", type=int, default=40,
                        help="ratings <= this are 'negative' (default 40); stored with the split")
    parser.add_argument("--positive-min", type=int, default=60,
                        help="ratings >= this are 'positive' (default 60); stored with the split")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from core.errors import StoreError
    from core.labels import LabelThresholds
    from core.collection.splits import describe_split, make_volunteer_split, roster_from_store, save_split
    from core.store import Store

    try:
        thresholds = LabelThresholds(args.negative_max, args.positive_min)
    except ValueError as err:
        raise StoreError(f"bad thresholds: {err}") from err
    if not 0.0 < args.test_fraction < 1.0:
        raise StoreError("--test-fraction must be between 0 and 1 (e.g. 0.2 for the paper's 8:2)")
    with Store.open(args.home) as store:
        with store.snapshot():  # one consistent roster, even while the collection app commits
            roster = roster_from_store(store)
        if not roster:
            raise StoreError("no volunteer has a session yet; collect data first")
        assignment = make_volunteer_split(roster, test_fraction=args.test_fraction, seed=args.seed)
        save_split(store, args.name, assignment, seed=args.seed, params={"test_fraction": args.test_fraction, "thresholds": thresholds.as_dict()})
    summary = describe_split(assignment, roster)
    print(f"split {args.name!r} (seed {args.seed}): train {summary['train']}, test {summary['test']}")
    wanted, got = round(args.test_fraction * len(roster)), sum(summary["test"].values())
    if got < wanted:
        print(f"note: only {got} of the {wanted} wanted test volunteers: test volunteers must have taken part "
              "exactly once, and there are not more of them")
    return 0
