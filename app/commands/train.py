"""``python -m app train``: train one PLM-IPE variant (or baseline) and save it as a run.

Several processes: ``torchrun --standalone --nproc_per_node=N -m app train ...`` (nccl with
``--device cuda``, one GPU per process; gloo on CPU); see ``models/training/distributed.py``. Every
rank loads the same data and trains its shard; only rank 0 prints and writes the run folder.
"""
from __future__ import annotations

import argparse

VARIANT_NAMES = ("pbe", "lbe", "early-fusion", "late-fusion", "plm-ipe", "plm-ipe-t2")  # = models.reaction.registry.VARIANTS


def register(subparsers: argparse._SubParsersAction) -> None:
    from app.cli_args import add_data_args, add_model_args, add_train_args

    parser = subparsers.add_parser(
        "train",
        help="train one reaction model variant (PLM-IPE, PBE, LBE, EarlyFusion, LateFusion)",
        description="Train a variant on precomputed features (a manifest CSV, a stored split + feature cache, or "
        "a synthetic toy set) with the paper's settings by default, evaluate on the test fold, and write "
        "<runs>/<run-id>/ (model/ checkpoint + metrics.json + history.json). Under torchrun the processes "
        "train together (DDP) and rank 0 writes the run.",
    )
    parser.add_argument("--variant", default="plm-ipe", choices=VARIANT_NAMES)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--run-id", help="run folder name (default: <variant>-<UTC time>; give one under torchrun)")
    parser.add_argument("--workers", type=int, default=-1,
                        help="DataLoader worker processes per training process (-1: auto, 0 on CPU, up to 8 on CUDA)")
    parser.add_argument("--prefetch", type=int, default=4, help="batches each worker reads ahead")
    add_data_args(parser)
    add_model_args(parser)
    add_train_args(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from dataclasses import replace
    from datetime import datetime, timezone

    from core.paths import DataHome
    from app.cli_args import fit_to_data, load_data, model_kw, train_config
    from models.training.distributed import barrier, init_from_env, shutdown
    from models.reaction.registry import model_config
    from models.training.train import save_run, train_model

    ctx, device = init_from_env(args.device)
    try:
        train_set, test_set, info = load_data(args)
        mc = model_config(args.variant, **fit_to_data(model_kw(args), train_set))
        tc = replace(train_config(args, args.seed), device=device, num_workers=args.workers,
                     prefetch_factor=args.prefetch)
        if ctx.is_main:
            print(f"training {args.variant}: {len(train_set)} train / {len(test_set)} test videos, {tc.epochs} epochs, "
                  f"device {tc.device}" + (f", {ctx.world_size} processes (DDP)" if ctx.enabled else "")
                  + (" [SYNTHETIC DATA]" if train_set.synthetic else ""))
        result = train_model(mc, train_set, test_set, tc, progress=True)
        if ctx.is_main:
            run_id = args.run_id or f"{args.variant}-{datetime.now(timezone.utc):%Y%m%d-%H%M%S}"
            home = DataHome.resolve(args.home).ensure()
            folder = save_run(home.runs / run_id, result, mc, tc, split_id=info["split"],
                              data_fingerprint=f"{train_set.fingerprint()}+{test_set.fingerprint()}",
                              synthetic=train_set.synthetic, extra={"data_path": result.extra})
            for head, m in result.metrics.items():
                print(f"  {head}: accuracy {100 * m['accuracy']:.2f}%  macro-F1 {100 * m['macro_f1']:.2f}%")
            print(f"  data wait {100 * result.extra['data_wait_fraction']:.1f}% of the training-loop time; "
                  f"{result.extra['clip_sampling']}")
            print(f"saved {folder}")
        barrier(ctx)  # the other ranks leave only once the run folder exists
    finally:
        shutdown()
    return 0
