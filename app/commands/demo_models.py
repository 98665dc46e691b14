"""``python -m app demo-models``: make the DEMO reaction and preference models once, so the demo
has something to show on a fresh clone (``scripts/run.sh`` calls it before the apps start).

Both are trained here, on this CPU, by the kit's own commands (nothing is downloaded or shipped):

- ``runs/demo-reaction``: a small SYNTHETIC reaction set (``data/synthetic_reactions.py``: real
  face photos animated with smiles and frowns), ``extract --videos`` and ``train --preset cpu``;
- ``runs/demo-preference``: a simulated labeler (a rule, not a person) on Fashion-MNIST and the
  demo catalog (``train-preference``), without the EfficientNet comparison.

The store and the demo catalog are made first when missing (as ``init`` does). Each run gets a ``MODEL_CARD.md``, written last: a run without it is an unfinished attempt and is
made again; a run with it is left alone (so a second call does nothing). The synthetic videos and
their features are cached under the data home, so an interrupted call resumes.
"""
from __future__ import annotations

import argparse
from dataclasses import dataclass


@dataclass(frozen=True)
class DemoModelsConfig:
    videos: int = 48  # 8 volunteers x 6 videos: large enough to learn smile/frown, small enough for minutes
    volunteers: int = 8
    seconds: float = 2.0
    reaction_epochs: int = 30  # ~9 CPU-s an epoch with --preset cpu on 36 videos
    preference_source_limit: int = 6000  # Fashion-MNIST images for the source model
    preference_epochs: int = 8
    simulated_labeler: str = "warm-footwear"
    workers: int = 2


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "demo-models",
        help="train the small DEMO reaction and preference models once (synthetic data; minutes on a CPU)",
        description="Writes runs/demo-reaction and runs/demo-preference with a MODEL_CARD.md each, unless they exist. "
        "The data is SYNTHETIC (generated faces, a simulated labeler): the models show the pipeline, not people.",
    )
    defaults = DemoModelsConfig()
    parser.add_argument("--videos", type=int, default=defaults.videos, help="synthetic reaction videos")
    parser.add_argument("--volunteers", type=int, default=defaults.volunteers, help="synthetic volunteers")
    parser.add_argument("--seconds", type=float, default=defaults.seconds, help="length of each synthetic video")
    parser.add_argument("--reaction-epochs", type=int, default=defaults.reaction_epochs)
    parser.add_argument("--preference-epochs", type=int, default=defaults.preference_epochs)
    parser.add_argument("--preference-source-limit", type=int, default=defaults.preference_source_limit,
                        help="Fashion-MNIST images for the source model")
    parser.add_argument("--workers", type=int, default=defaults.workers, help="processes for rendering and extraction")
    parser.add_argument("--only", choices=["reaction", "preference"], help="make only one of the two")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from core.paths import DataHome
    from app.demo_cards import make_demo_preference, make_demo_reaction

    config = DemoModelsConfig(videos=args.videos, volunteers=args.volunteers, seconds=args.seconds,
                              reaction_epochs=args.reaction_epochs, preference_epochs=args.preference_epochs,
                              preference_source_limit=args.preference_source_limit,
                              workers=args.workers)
    home = DataHome.resolve(args.home).ensure()
    if args.only in (None, "preference"):
        # the preference model trains on the demo catalog: create the store and load it first (what
        # `init` does, and nothing when it is done), not after the reaction model's minutes
        from app.commands import init

        init.run(argparse.Namespace(home=args.home, no_demo=False, seed=0, quarantine=False))
    if args.only in (None, "reaction"):
        make_demo_reaction(home, config)
        from app.demo_examples import keep_example_answers, reaction_examples
        from app.serving import DemoService

        print("Keeping the answers of the demo's example videos (a click on one then answers at once)...")
        keep_example_answers(DemoService(home), [path for path, _ in reaction_examples(home)])
    if args.only in (None, "preference"):
        make_demo_preference(home, config)
    return 0
