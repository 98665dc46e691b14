"""``python -m app train``: train one PLM-IPE variant (or baseline) and save it as a run.

Several processes: ``torchrun --standalone --nproc_per_node=N -m app train ...`` (nccl with
``--device cuda``, one GPU per process; gloo on CPU); see ``models/training/distributed.py``. Every
rank loads the same data and trains its shard; only rank 0 prints and writes the run folder.
"""
from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pathlib import Path

from models.reaction.variants import VARIANTS


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
    parser.add_argument("--variant", default="plm-ipe", choices=VARIANTS)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--run-id", help="run folder name (default: <variant>-<UTC time>; give one under torchrun)")
    parser.add_argument("--resume", metavar="RUN",
                        help="continue a run that was stopped (its id or folder): same data and settings, from its last "
                        "saved state; --epochs may be raised")
    parser.add_argument("--workers", type=int, default=-1,
                        help="DataLoader worker processes per training process (-1: auto, 0 on CPU, up to 8 on CUDA)")
    parser.add_argument("--prefetch", type=int, default=4, help="batches each worker reads ahead")
    add_data_args(parser)
    add_model_args(parser)
    add_train_args(parser)
    # None: not given (the dataclass default, or with --resume the stopped run's own)
    parser.set_defaults(func=run, epochs=None)


# the arguments a run is started with, kept in <run>/train_args.json so that --resume needs only the run
RESUMABLE = ("variant", "seed", "workers", "prefetch", "manifest", "split", "synthetic", "feature_key", "train_fold",
             "test_fold", "width", "fc_dim", "hidden", "temperature", "t2_scale", "kl_direction", "fusion_lambda",
             "clip_norm", "dropout", "c3d_norm", "c3d_init", "epochs", "batch_size", "lr_pbe", "lr_lbe",
             "warmup_steps_pbe", "device", "compile", "eval_every", "checkpoint_every", "volunteer_norm", "preset")


def _run_folder(args: argparse.Namespace, runs: "Path") -> "Path":
    """The run's folder: a new one, or with --resume the stopped run's, whose arguments are taken back."""
    import json
    from datetime import datetime, timezone
    from pathlib import Path

    from core.errors import IPEError

    if not args.resume:
        folder = runs / (args.run_id or f"{args.variant}-{datetime.now(timezone.utc):%Y%m%d-%H%M%S}")
        if (folder / "train_state").exists() or (folder / "model").exists():
            raise IPEError(f"run {folder.name} exists; continue it with --resume {folder.name} or choose another --run-id")
        return folder
    folder = Path(args.resume) if Path(args.resume).is_dir() else runs / args.resume
    saved = folder / "train_args.json"
    if not saved.is_file():
        raise IPEError(f"{folder} is not a run that can be resumed (no train_args.json); runs are in {runs}")
    stored = json.loads(saved.read_text())
    epochs = args.epochs if args.epochs_given else stored.get("epochs")  # only --epochs may change
    for key, value in stored.items():
        setattr(args, key, value)
    args.epochs = epochs
    return folder


def run(args: argparse.Namespace) -> int:
    import json
    from dataclasses import replace

    from app.cli_args import fit_to_data, load_data, model_kw, train_config
    from core.files import atomic_write_json
    from core.paths import DataHome
    from models.reaction.registry import model_config
    from models.training.distributed import barrier, init_from_env, shutdown
    from models.training.run_folder import save_run
    from models.training.train import TrainConfig, resolve_device, train_model

    args.epochs_given = args.epochs is not None
    if not args.epochs_given:
        args.epochs = TrainConfig.epochs
    home = DataHome.resolve(args.home).ensure()
    folder = _run_folder(args, home.runs)
    ctx, device = init_from_env(resolve_device(args.device))
    try:
        train_set, test_set, info = load_data(args)
        mc = model_config(args.variant, **fit_to_data(model_kw(args), train_set))
        tc = replace(train_config(args, args.seed), device=device, num_workers=args.workers,
                     prefetch_factor=args.prefetch)
        if ctx.is_main:
            folder.mkdir(parents=True, exist_ok=True)
            atomic_write_json(folder / "train_args.json", {k: getattr(args, k, None) for k in RESUMABLE}, indent=1)
            print(f"training {args.variant}: {len(train_set)} train / {len(test_set)} test videos, {tc.epochs} epochs, "
                  f"device {tc.device}" + (f", {ctx.world_size} processes (DDP)" if ctx.enabled else "")
                  + (" [SYNTHETIC DATA]" if train_set.synthetic else "")
                  + (f"; resuming {folder.name}" if args.resume else f"; run folder {folder}"))
            if tc.device == "cpu" and mc.variant != "lbe" and mc.c3d.width >= 1.0 and tc.epochs >= 100:
                print("  note: the paper-size C3D for hundreds of epochs takes days on a CPU; --preset cpu trains a "
                      "small one in minutes (docs/c3d_learning.md)")
        barrier(ctx)
        result = train_model(mc, train_set, test_set, tc, progress=True, run_dir=folder)
        if ctx.is_main:
            save_run(folder, result, mc, tc, split_id=info["split"],
                     data_fingerprint=f"{train_set.fingerprint()}+{test_set.fingerprint()}",
                     synthetic=train_set.synthetic, extra={"data_path": result.extra}, features=train_set.features,
                     figures=True)
            for head, m in result.metrics.items():
                print(f"  {head}: accuracy {100 * m['accuracy']:.2f}%  macro-F1 {100 * m['macro_f1']:.2f}%")
            if result.best:
                print(f"  best evaluation: epoch {result.best['epoch']}, {result.best['head']} macro-F1 "
                      f"{100 * result.best['macro_f1']:.2f}% (kept in {folder / 'best'})")
            print(f"  data wait {100 * result.extra['data_wait_fraction']:.1f}% of the training-loop time; "
                  f"{result.extra['clip_sampling']}")
            print(f"saved {folder}")
            print(json.dumps({"run": str(folder)}))
        barrier(ctx)  # the other ranks leave only once the run folder exists
    finally:
        shutdown()
    return 0
