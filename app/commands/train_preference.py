"""``python -m app train-preference``: per-labeler preference CNNs with transfer learning."""
from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "train-preference",
        help="train per-labeler preference CNNs (Fashion-MNIST source -> catalog target, Grad-CAM)",
        description="For each labeler (a person's answers in the store, or a simulated rule): the paper's "
        "Model 1 / Model 2 protocol on Fashion-MNIST, then on the target set from scratch vs. transfer from the "
        "Fashion-MNIST model vs. ImageNet EfficientNet-Lite0, with TP/FP/FN/TN tables, Grad-CAM overlays and "
        "click agreement. Writes a run folder under <home>/runs with checkpoints, report.md and report.csv.",
    )
    who = parser.add_argument_group("labelers (one or more)")
    who.add_argument("--labeler", action="append", default=[], metavar="NAME",
                     help="a labeler's name or id in the store (repeatable)")
    who.add_argument("--simulated", action="append", default=[], metavar="RULE",
                     help="a simulated labeler preset, e.g. warm-footwear, cool-light, neutral-bags (repeatable)")
    parser.add_argument("--source", default="fashion-mnist", choices=["fashion-mnist"], help="source domain")
    parser.add_argument("--target", default="catalog",
                        help="'catalog' (the store's items), a catalog folder with items.csv, or a folder of images")
    parser.add_argument("--protocol", default="model2", choices=["model1", "model2"],
                        help="model1: train/test; model2: train/validation/test with selection on validation")
    parser.add_argument("--source-limit", type=int, default=None,
                        help="simulated labelers: use a seeded subset of the 70,000 Fashion-MNIST images")
    parser.add_argument("--size", type=int, default=64, help="target input size (default 64)")
    parser.add_argument("--gray", action="store_true", help="grayscale models (default colour)")
    parser.add_argument("--widths", default="32,64,128", help="conv block widths (default 32,64,128)")
    parser.add_argument("--source-epochs", type=int, default=3)
    parser.add_argument("--source-batch", type=int, default=128)
    parser.add_argument("--epochs", type=int, default=15, help="target epochs (scratch and transfer)")
    parser.add_argument("--no-efficientnet", action="store_true", help="skip the EfficientNet-Lite0 comparison")
    parser.add_argument("--efficientnet-size", type=int, default=96)
    parser.add_argument("--efficientnet-epochs", type=int, default=5)
    parser.add_argument("--cam", default="gradcam", help="Grad-CAM method: gradcam, gradcam++, eigencam, ...")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    parser.add_argument("--run-id", default=None, help="run folder name (default preference-<UTC time>)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from datetime import datetime, timezone

    import torch

    from core.errors import IPEError
    from core.paths import DataHome
    from core.labeling.preference_data import simulated_data, store_data, target_set
    from models.preference.cnn import PreferenceCNNConfig
    from models.preference.experiment import ExperimentConfig, run_experiment, write_run_summary
    from models.preference.train import PreferenceTrainConfig

    if not args.labeler and not args.simulated:
        raise IPEError("name at least one --labeler NAME or --simulated RULE")
    if args.threads:
        torch.set_num_threads(args.threads)
    home = DataHome.resolve(args.home)
    try:
        widths = tuple(int(w) for w in args.widths.split(","))
    except ValueError as err:
        raise IPEError(f"--widths must be comma-separated integers, not {args.widths!r}") from err
    config = ExperimentConfig(
        protocol=args.protocol, target_size=args.size, target_channels=1 if args.gray else 3,
        efficientnet=not args.no_efficientnet and not args.gray, efficientnet_size=args.efficientnet_size,
        cnn=PreferenceCNNConfig(widths=widths),
        source_train=PreferenceTrainConfig(epochs=args.source_epochs, batch_size=args.source_batch, seed=args.seed, progress=True),
        target_train=PreferenceTrainConfig(epochs=args.epochs, batch_size=32, seed=args.seed, progress=True),
        efficientnet_train=PreferenceTrainConfig(epochs=args.efficientnet_epochs, batch_size=16, lr=3e-4, seed=args.seed,
                                       progress=True),
        cam_method=args.cam, seed=args.seed)
    run_id = args.run_id or "preference-" + datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    out = home.runs / run_id

    store = None
    if args.labeler or args.target == "catalog":
        from core.store import Store
        store = Store.open(home, read_only=True)
    try:
        try:
            target = target_set(args.target, store)
            datasets = [simulated_data(name, target, source_limit=args.source_limit, seed=args.seed)
                        for name in args.simulated]
            datasets += [store_data(store, name, target) for name in args.labeler]
        except (ValueError, KeyError) as err:
            raise IPEError(str(err).strip("'\"")) from err
    finally:
        if store is not None:
            store.close()
    summary = []
    for data in datasets:
        metrics = run_experiment(data, config, out / data.labeler)
        for row in metrics["transfer"]:
            summary.append(f"{data.labeler:>20} {row['method']:>28}  test {row['test_accuracy']:.2%}  "
                           f"gain over scratch {row['gain_over_scratch']:+.2%}")
    write_run_summary(out, [data.labeler for data in datasets])
    print("\n".join(summary))
    print(f"run folder: {out}")
    return 0
