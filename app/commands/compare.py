"""``python -m app compare``: the paper's Tables 1 and 2 protocol in one command."""
from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    from app.cli_args import add_attribution_args, add_data_args, add_model_args, add_train_args

    parser = subparsers.add_parser(
        "compare",
        help="train every variant over several seeds and write a report (Markdown + CSV + PNG)",
        description="Trains PBE, LBE, EarlyFusion, LateFusion and PLM-IPE (whose PBE/LBE heads give the "
        "PBE-w/-Mut and LBE-w/-Mut rows) for each seed, then writes report.md, summary.csv, results.csv, "
        "confusion.png and curves.png (mean ± std over seeds) under <runs>/<run-id>/.",
    )
    parser.add_argument("--variants", default="pbe,lbe,early-fusion,late-fusion,plm-ipe",
                        help="comma-separated (add plm-ipe-t2 for the T^2-scaled KL)")
    parser.add_argument("--seeds", default="0,1,2", help="comma-separated seeds")
    parser.add_argument("--baselines", default="", help="extra rows: fer2013-frames (the frame-level FER2013 "
                        "expression classifier that ships offline, per-video statistics + logistic regression)")
    parser.add_argument("--run-id", help="output folder name (default compare-<UTC time>)")
    parser.add_argument("--attribution", action="store_true",
                        help="add to the report which face regions drove each LBE (integrated gradients on the test "
                        "fold, first seed's run; docs/attribution.md)")
    add_data_args(parser)
    add_model_args(parser)
    add_train_args(parser)
    add_attribution_args(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from datetime import datetime, timezone

    from core.errors import IPEError
    from core.paths import DataHome
    from app.cli_args import attribution_config, fit_to_data, load_data, model_kw, train_config
    from models.training.report import compare, degenerate_note

    try:
        seeds = [int(s) for s in args.seeds.split(",") if s.strip()]
    except ValueError:
        raise IPEError(f"--seeds must be comma-separated integers, got {args.seeds!r}") from None
    variants = [v.strip() for v in args.variants.split(",") if v.strip()]
    train_set, test_set, info = load_data(args)
    home = DataHome.resolve(args.home).ensure()
    out = home.runs / (args.run_id or f"compare-{datetime.now(timezone.utc):%Y%m%d-%H%M%S}")
    try:
        result = compare(train_set, test_set, out, variants=variants, seeds=seeds, train_config=train_config(args),
                         model_kw=fit_to_data(model_kw(args), train_set), split_id=info["split"], progress=True,
                         baselines=[b.strip() for b in args.baselines.split(",") if b.strip()],
                         attribution=attribution_config(args) if args.attribution else None)
    except ValueError as err:
        raise IPEError(str(err)) from err
    for row in result["summary"]:
        note = degenerate_note(row)
        print(f"  {row['method']:18s} accuracy {100 * row['accuracy_mean']:.2f} ± {100 * row['accuracy_std']:.2f}%  "
              f"macro-F1 {100 * row['macro_f1_mean']:.2f} ± {100 * row['macro_f1_std']:.2f}%" + (f"  [{note}]" if note else ""))
    for row in result["summary"]:
        if row["degenerate_seeds"]:
            print(f"WARNING: {row['method']} is {degenerate_note(row)}: it has learnt nothing about the videos")
    print(f"report: {out / 'report.md'}" + (" [SYNTHETIC DATA]" if train_set.synthetic else ""))
    return 0
