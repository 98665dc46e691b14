"""``python -m app train``: train one PLM-IPE variant (or baseline) and save it as a run."""
from __future__ import annotations

import argparse

VARIANT_NAMES = ("pbe", "lbe", "early-fusion", "late-fusion", "plm-ipe", "plm-ipe-t2")  # = models.registry.VARIANTS


def register(subparsers: argparse._SubParsersAction) -> None:
    from models.cli_args import add_data_args, add_model_args, add_train_args

    parser = subparsers.add_parser(
        "train",
        help="train one reaction model variant (PLM-IPE, PBE, LBE, EarlyFusion, LateFusion)",
        description="Train a variant on precomputed features (a manifest CSV, a stored split + feature cache, or "
        "a synthetic toy set) with the paper's settings by default, evaluate on the test fold, and write "
        "<runs>/<run-id>/ (model/ checkpoint + metrics.json + history.json).",
    )
    parser.add_argument("--variant", default="plm-ipe", choices=VARIANT_NAMES)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--run-id", help="run folder name (default: <variant>-<UTC time>)")
    add_data_args(parser)
    add_model_args(parser)
    add_train_args(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from datetime import datetime, timezone

    from core.paths import DataHome
    from models.cli_args import fit_to_data, load_data, model_kw, train_config
    from models.registry import model_config
    from models.train import save_run, train_model

    train_set, test_set, info = load_data(args)
    mc = model_config(args.variant, **fit_to_data(model_kw(args), train_set))
    tc = train_config(args, args.seed)
    print(f"training {args.variant}: {len(train_set)} train / {len(test_set)} test videos, {tc.epochs} epochs, device {tc.device}"
          + (" [SYNTHETIC DATA]" if train_set.synthetic else ""))
    result = train_model(mc, train_set, test_set, tc, progress=True)
    run_id = args.run_id or f"{args.variant}-{datetime.now(timezone.utc):%Y%m%d-%H%M%S}"
    home = DataHome.resolve(args.home).ensure()
    folder = save_run(home.runs / run_id, result, mc, tc, split_id=info["split"],
                      data_fingerprint=f"{train_set.fingerprint()}+{test_set.fingerprint()}", synthetic=train_set.synthetic)
    for head, m in result.metrics.items():
        print(f"  {head}: accuracy {100 * m['accuracy']:.2f}%  macro-F1 {100 * m['macro_f1']:.2f}%")
    print(f"saved {folder}")
    return 0
