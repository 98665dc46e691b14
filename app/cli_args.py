"""Arguments shared by ``train``, ``evaluate`` and ``compare`` (argparse only: safe at CLI import)."""
from __future__ import annotations

import argparse
from typing import Any

from models.training.config import TrainConfig


def add_data_args(parser: argparse.ArgumentParser) -> None:
    g = parser.add_argument_group("data (one of)")
    g.add_argument("--manifest", help="CSV with video_id,volunteer_id,fold,label,features_npz (label: class name or 0..2)")
    g.add_argument("--split", help="name of a stored split (python -m app split); features from the feature cache")
    g.add_argument("--synthetic", action="store_true",
                   help="a small SYNTHETIC toy set (tensors, not people) to try the pipeline; never a result")
    g.add_argument("--feature-key", help="feature-cache version key when several extractor settings were cached")
    g.add_argument("--train-fold", default="train")
    g.add_argument("--test-fold", default="test")


class _Preset(argparse.Action):
    """``--preset cpu``: models.reaction.registry.CPU_PRESET's values for every model/training flag
    still at its paper default (a flag given with another value keeps it)."""

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: Any,
                 option_string: str | None = None) -> None:
        from models.reaction.variants import CPU_PRESET

        setattr(namespace, self.dest, values)
        flags = {"norm": "c3d_norm"}
        for key, value in {**CPU_PRESET["model"], **CPU_PRESET["train"]}.items():
            dest = flags.get(key, key)
            if hasattr(namespace, dest) and getattr(namespace, dest) == parser.get_default(dest):
                setattr(namespace, dest, value)


def add_model_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--preset", choices=["cpu"], action=_Preset,
                        help="cpu: a small C3D (1/16 width, BatchNorm, per-clip standardised input), LSTM 128, batch "
                        "16, Adam 1e-3 with warm-up: learns on a CPU in minutes; flags you set keep their values "
                        "(docs/c3d_learning.md)")
    g = parser.add_argument_group("model (defaults: the paper's)")
    g.add_argument("--width", type=float, default=1.0, help="C3D channel multiplier (1 = paper)")
    g.add_argument("--fc-dim", type=int, default=4096, help="C3D fc6/fc7 units (4096 = paper)")
    g.add_argument("--hidden", type=int, default=256, help="LSTM hidden size (256 = paper)")
    g.add_argument("--temperature", type=float, default=10.0)
    g.add_argument("--t2-scale", action="store_true", help="scale the KL by T^2 (off by default, see models/reaction/mutual.py)")
    g.add_argument("--kl-direction", default="dml", choices=["dml", "paper"])
    g.add_argument("--fusion-lambda", type=float, default=0.3)
    g.add_argument("--clip-norm", default="unit", choices=["unit", "sports1m", "standardise", "temporal"],
                   help="C3D input: unit = RGB in [-1, 1]; sports1m = BGR minus the Sports-1M mean; standardise = "
                   "each clip to zero mean, unit variance; temporal = each pixel minus its mean over the clip, "
                   "then unit variance (only what moves; docs/c3d_learning.md)")
    g.add_argument("--dropout", type=float, default=0.5, help="C3D fc6/fc7 dropout (0.5 = paper)")
    g.add_argument("--c3d-norm", default="none", choices=["none", "batch"],
                   help="BatchNorm3d after every C3D conv (none = paper; batch lets a small C3D learn from scratch)")
    g.add_argument("--c3d-init", default="he", choices=["he", "pytorch"], help="C3D conv initialisation")


def add_train_args(parser: argparse.ArgumentParser) -> None:
    g = parser.add_argument_group("training (defaults: the paper's)")
    d = TrainConfig()  # the defaults are the dataclass's (models/training/config.py, torch-free)
    g.add_argument("--epochs", type=int, default=d.epochs)
    g.add_argument("--batch-size", type=int, default=d.batch_size)
    g.add_argument("--lr-pbe", type=float, default=d.lr_pbe)
    g.add_argument("--lr-lbe", type=float, default=d.lr_lbe)
    g.add_argument("--warmup-steps-pbe", type=int, default=d.warmup_steps_pbe,
                   help="linear warm-up of the PBE learning rate over this many steps (0 = paper: none)")
    g.add_argument("--device", default="auto",
                   help="auto (default: the GPU when there is one, else the CPU), cpu, or cuda / cuda:N "
                   "(bf16 autocast + channels-last on CUDA)")
    g.add_argument("--compile", action="store_true", help="torch.compile the C3D (GPU)")
    g.add_argument("--eval-every", type=int, default=d.eval_every,
                   help="epochs between held-out evaluations (curves, best epoch)")
    g.add_argument("--checkpoint-every", type=int, default=d.checkpoint_every,
                   help="epochs between saved training states, so `train --resume RUN` continues a killed run (0: none)")
    g.add_argument("--volunteer-norm", default=d.volunteer_norm, choices=["none", "baseline"],
                   help="standardise each volunteer's flow by their own first seconds (baseline; see "
                        "models/training/volunteer_norm.py); none = the paper")


def add_attribution_args(parser: argparse.ArgumentParser) -> None:
    g = parser.add_argument_group("LBE region attribution (integrated gradients, docs/attribution.md)")
    g.add_argument("--ig-baseline", default="mean", choices=["mean", "still", "zero"],
                   help="path start: mean = the training set's mean frame (default), still = no motion (magnitudes 0, "
                   "orientations at their mean), zero = all 72 channels 0")
    g.add_argument("--ig-steps", type=int, default=32, help="integration steps (default 32)")
    g.add_argument("--ig-target", default="predicted", choices=["predicted", "label", "negative", "neutral", "positive"],
                   help="class explained per video (default: the LBE's prediction)")


def attribution_config(args: argparse.Namespace) -> Any:
    from core.errors import IPEError
    from models.training.attribution import AttributionConfig

    try:
        return AttributionConfig(baseline=args.ig_baseline, steps=args.ig_steps, target=args.ig_target)
    except ValueError as err:
        raise IPEError(str(err)) from None


def model_kw(args: argparse.Namespace) -> dict[str, Any]:
    kw: dict[str, Any] = {"width": args.width, "fc_dim": args.fc_dim, "hidden": args.hidden, "temperature": args.temperature,
                          "t2_scale": args.t2_scale, "kl_direction": args.kl_direction, "fusion_lambda": args.fusion_lambda,
                          "clip_norm": args.clip_norm, "dropout": args.dropout, "norm": args.c3d_norm,
                          "init": args.c3d_init}
    return kw


def train_config(args: argparse.Namespace, seed: int = 0) -> Any:
    epochs = TrainConfig.epochs if args.epochs is None else args.epochs  # train leaves it None when not given
    return TrainConfig(epochs=epochs, batch_size=args.batch_size, lr_pbe=args.lr_pbe, lr_lbe=args.lr_lbe,
                       seed=seed, device=args.device, compile=args.compile, eval_every=args.eval_every,
                       warmup_steps_pbe=args.warmup_steps_pbe, volunteer_norm=args.volunteer_norm,
                       checkpoint_every=getattr(args, "checkpoint_every", TrainConfig.checkpoint_every))


def load_data(args: argparse.Namespace, *, need_train: bool = True) -> tuple[Any, Any, dict[str, Any]]:
    """(train_set, test_set, info) from --manifest, --split or --synthetic; ``need_train`` False
    (evaluation): the training fold may be absent, and train_set is then None."""
    from models.training.data import DatasetError, load_from_store, load_manifest

    chosen = [x for x in (args.manifest, args.split, args.synthetic or None) if x]
    if len(chosen) != 1:
        raise DatasetError("give exactly one of --manifest CSV, --split NAME or --synthetic")
    if args.synthetic:
        from models.training.synthetic import make_synthetic_split

        train, test = make_synthetic_split(test_volunteers=3, n_volunteers=12, videos_per_volunteer=6)
        return train, test, {"split": "synthetic-toy", "source": "synthetic"}
    if args.manifest:
        folds, info = load_manifest(args.manifest), {"split": f"manifest:{args.manifest}", "source": "manifest"}
    else:
        from core.paths import DataHome

        folds, info = load_from_store(DataHome.resolve(args.home), args.split, args.feature_key)
        info["source"] = "store"
    for fold in (args.train_fold, args.test_fold) if need_train else (args.test_fold,):
        if fold not in folds:
            raise DatasetError(f"no videos in fold {fold!r} (folds present: {', '.join(sorted(folds))})")
    return folds.get(args.train_fold), folds[args.test_fold], info



def fit_to_data(kw: dict[str, Any], train_set: Any) -> dict[str, Any]:
    """Build the C3D for the clip size the features have (112 for real features)."""
    if train_set.clips:
        kw["clip_size"] = int(train_set.clip_shape[1])
    return kw
