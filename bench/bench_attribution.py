"""Do the LBE's region attributions find the regions that carry the class? SYNTHETIC checks.

    nice python -m bench.bench_attribution [--seeds 5] [--steps 32]

Two SYNTHETIC descriptor sets with a known answer (tensors, not people):

- ``regions`` (``models/training/synthetic_regions.py``): a "frown" moves the six brow/forehead
  regions, a "smile" the four regions beside the mouth;
- ``toy`` and ``toy-cli`` (``models/training/synthetic.py``; ``toy-cli`` is the CLI's
  ``--synthetic`` set): negative and positive move the four regions beside the mouth (down / up),
  neutral nothing.

For each set, seed and baseline, a small LBE is trained, integrated gradients explain the true
class of each held-out video, and the mean share of the signal group is printed with its
uniform share (group size / 36) and whether it is the largest of the six groups. Last, the
CPU time of one attribution at the paper's size (hidden 256, a 10 s video at 30 fps).

``--rendered N`` adds the real feature pipeline: N smiles, frowns and neutral faces per split
rendered from a real photo (``data/reaction_video.py``: a smile lifts the mouth corners and
cheeks, a frown lowers the brows and the mouth corners), their descriptors extracted, a small
LBE trained on one half and the other half explained (group shares per class).
"""
from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from core.reaction.face_regions import GROUPS, N_REGIONS
from models.reaction.lbe import LBEConfig, LandmarkLSTM
from models.reaction.plm_ipe import ModelConfig
from models.training.attribution import (BASELINES, AttributionConfig, attribute_sequence, attribute_set,
                                         class_region_shares, group_shares)
from models.training.synthetic import make_synthetic_split
from models.training.synthetic_regions import SIGNAL_GROUP, region_reactions
from models.training.train import TrainConfig, train_model

SETS = {"regions": SIGNAL_GROUP, "toy": {0: "mouth_sides", 2: "mouth_sides"}, "toy-cli": {0: "mouth_sides", 2: "mouth_sides"}}
SET_HELP = {"regions": "synthetic_regions, 150 train / 10 test videos per class",
            "toy": "synthetic.py, 12 volunteers x 9 videos, 3 held out",
            "toy-cli": "synthetic.py as `--synthetic` in the CLI, 12 volunteers x 6 videos, 3 held out"}


def make_set(name: str, seed: int):
    if name == "toy-cli":
        return make_synthetic_split(test_volunteers=3, n_volunteers=12, videos_per_volunteer=6, seed=seed)
    if name == "regions":
        return region_reactions(150, seed), region_reactions(10, 100 + seed)
    return make_synthetic_split(test_volunteers=3, n_volunteers=12, videos_per_volunteer=9, seed=seed)


def step_sweep(args: argparse.Namespace) -> None:
    train, test = make_set("regions", 0)
    result = train_model(ModelConfig(variant="lbe", lbe=LBEConfig(hidden=args.hidden)), train, test,
                         TrainConfig(epochs=args.epochs, batch_size=16, eval_every=0, seed=0))
    for steps in (32, 128, 512):
        start = time.perf_counter()
        attr = attribute_set(result.model.lbe, test, AttributionConfig(steps=steps, target="label"))
        shares, _ = class_region_shares(attr)
        delta = np.abs(attr["deltas"])
        print(f"regions, seed 0, {steps:3d} steps: frowns brows {100 * group_shares(shares[0])['brows']:.1f}%, "
              f"smiles beside the mouth {100 * group_shares(shares[2])['mouth_sides']:.1f}%, |delta| median "
              f"{np.median(delta):.3f} max {delta.max():.3f} logits ({time.perf_counter() - start:.1f} s)")


def rendered(args: argparse.Namespace) -> None:
    import tempfile
    from pathlib import Path

    from core.reaction.descriptor import extract_features
    from data.reaction_video import ReactionSpec, make_reaction_video
    from models.training.data import FeatureSet

    start = time.perf_counter()
    sets = []
    with tempfile.TemporaryDirectory() as tmp:
        for split in range(2):
            records = []
            for label, expression in enumerate(("frown", "neutral", "smile")):
                for k in range(args.rendered):
                    seed = 1000 * split + 10 * k + label
                    path = make_reaction_video(Path(tmp) / f"{expression}-{seed}.mp4",
                                               ReactionSpec(expression, duration_s=2.0, seed=seed))
                    records.append((path.stem, f"vol{split}-{k}", label, extract_features(path)))
            sets.append(FeatureSet.from_features(records))
    made = time.perf_counter() - start
    result = train_model(ModelConfig(variant="lbe", lbe=LBEConfig(hidden=args.hidden)), sets[0], sets[1],
                         TrainConfig(epochs=args.epochs * 5, batch_size=8, eval_every=0))
    print(f"rendered: {len(sets[0])} train / {len(sets[1])} test videos of 2 s ({made:.0f} s to make), "
          f"held-out accuracy {result.metrics['lbe']['accuracy']:.2f}; group shares of the true class:")
    for baseline in BASELINES:
        shares, counts = class_region_shares(attribute_set(result.model.lbe, sets[1], AttributionConfig(
            baseline=baseline, steps=args.steps, target="label")))
        for cls, name in enumerate(("frown", "neutral", "smile")):
            g = group_shares(shares[cls])
            top = ", ".join(f"R{k + 1} {100 * shares[cls][k]:.1f}%" for k in np.argsort(-shares[cls])[:3])
            print(f"  {baseline:6s} {name:8s} " + "  ".join(f"{k} {100 * v:4.1f}%" for k, v in g.items())
                  + f"  top: {top}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--steps", type=int, default=32)
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--hidden", type=int, default=64)
    parser.add_argument("--rendered", type=int, default=0, help="rendered videos per class and split (0: skip)")
    parser.add_argument("--step-sweep", action="store_true",
                        help="the regions set, seed 0: the shares and completeness errors at 32, 128 and 512 steps")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    print("set      baseline  class     group        share (mean, min over seeds)  uniform  largest  held-out acc")
    for name, signal in SETS.items():
        rows: dict[tuple[str, int], list[tuple[float, bool]]] = {}
        accuracy = []
        for seed in range(args.seeds):
            train, test = make_set(name, seed)
            result = train_model(ModelConfig(variant="lbe", lbe=LBEConfig(hidden=args.hidden)), train, test,
                                 TrainConfig(epochs=args.epochs, batch_size=16, eval_every=0, seed=seed))
            accuracy.append(result.metrics["lbe"]["accuracy"])
            for baseline in BASELINES:
                attr = attribute_set(result.model.lbe, test, AttributionConfig(baseline=baseline, steps=args.steps,
                                                                               target="label"))
                shares, _ = class_region_shares(attr)
                for cls, group in signal.items():
                    g = group_shares(shares[cls])
                    rows.setdefault((baseline, cls), []).append((g[group], max(g, key=g.get) == group))
        for (baseline, cls), values in rows.items():
            group = signal[cls]
            share = np.array([v for v, _ in values])
            print(f"{name:8s} {baseline:9s} {['negative', 'neutral', 'positive'][cls]:9s} {group:12s} "
                  f"{100 * share.mean():5.1f}% {100 * share.min():5.1f}%"
                  f"{'':17s}{100 * len(GROUPS[group]) / N_REGIONS:5.1f}%  {sum(b for _, b in values)}/{len(values)}"
                  f"      {np.mean(accuracy):.2f}")
    if args.rendered:
        rendered(args)
    if args.step_sweep:
        step_sweep(args)
    lbe = LandmarkLSTM(LBEConfig()).eval()
    rng = np.random.default_rng(0)
    flow = rng.uniform(0, 0.2, (299, 2 * N_REGIONS)).astype(np.float32)
    start = time.perf_counter()
    attribute_sequence(lbe, flow, np.ones(299, bool), config=AttributionConfig(steps=args.steps))
    print(f"one 10 s video (299 steps), hidden 256, {args.steps} steps: {time.perf_counter() - start:.2f} s CPU "
          f"({torch.get_num_threads()} thread)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
