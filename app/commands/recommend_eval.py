"""``python -m app recommend-eval``: precision/recall@k of the outfit recommenders (Table 3 style)."""
from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "recommend-eval",
        help="evaluate outfit recommenders (popularity, ALS on ratings/reactions/both, attention pooling, averaging)",
        description="Hold out part of each volunteer's ratings and report precision@k / recall@k (k = 5, 10, 15) "
        "for every recommender, plus the calibration of reaction scores against ratings. Runs on SIMULATED "
        "volunteers over the demo catalog with --simulated N, or on the store's views when it holds at least "
        "--min-volunteers volunteers with ratings (otherwise it falls back to 60 simulated volunteers and says so). "
        "Writes <home>/runs/recommend-<timestamp>/report.md, metrics.json and config.json.",
    )
    parser.add_argument("--simulated", type=int, metavar="N", default=None,
                        help="use N simulated volunteers with known tastes (clearly labelled simulated)")
    parser.add_argument("--source", choices=["ratings", "reactions", "both"], default="both",
                        help="preferences that feed attention pooling / averaging and the service (default: both)")
    parser.add_argument("--holdout", type=float, default=0.3, help="fraction of each volunteer's rated outfits held out")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--signal", type=float, default=1.0, help="simulated taste strength (0 = no taste)")
    parser.add_argument("--min-volunteers", type=int, default=10, help="store volunteers needed to evaluate on real data")
    parser.add_argument("--reactions", default=None, metavar="JSON",
                        help="store mode: JSON {view_id: [p_negative, p_neutral, p_positive]} from a PLM-IPE run")
    parser.add_argument("--reaction-run", default=None, metavar="RUN",
                        help="store mode: score every recorded view with this trained PLM-IPE run (features must be "
                        "extracted first: python -m app extract); the probabilities are saved beside the report")
    parser.add_argument("--no-attention", action="store_true", help="skip the (torch) attention-pooling model")
    parser.add_argument("--attention-train", type=float, default=0.7, metavar="FRACTION",
                        help="fraction of volunteers whose views fit the attention weights; the rest are cold-start "
                        "users described only by pooling their reactions (default 0.7, as the mobile paper)")
    parser.set_defaults(func=run)


def _store_inputs(args: argparse.Namespace):
    """((interactions, raw reaction scores by (volunteer, outfit), outfit features, probabilities by view_id),
    description) from the store; (None, why) when it has too little data."""
    import json
    from pathlib import Path

    from core.errors import IPEError
    from core.recommend.outfit_features import outfit_features, outfit_table_from_store
    from core.recommend.calibration import reaction_score
    from core.recommend.data import interactions_from_store
    from core.store import Store

    with Store.open(args.home, read_only=True) as store:
        data = interactions_from_store(store)
        raters = {r.volunteer_id for r in data.records if r.rating is not None}
        if len(raters) < args.min_volunteers:
            return None, f"the store has {len(raters)} volunteers with ratings (< --min-volunteers {args.min_volunteers})"
        raw = {}
        probs = {}
        if args.reactions:
            try:
                probs = json.loads(Path(args.reactions).read_text())
            except (OSError, json.JSONDecodeError) as err:
                raise IPEError(f"cannot read reactions from {args.reactions}: {err}") from err
        if args.reaction_run:
            from models.training.reaction_scores import view_reaction_probabilities

            scored, missing = view_reaction_probabilities(store, args.reaction_run)
            if missing:
                print(f"{len(missing)} recorded views have no cached features and no reaction score "
                      "(run python -m app extract)")
            probs.update(scored)
        if probs:
            by_view = {str(v["view_id"]): (v["volunteer_id"], v["outfit_id"]) for v in store.list_views()}
            raw = {by_view[vid]: reaction_score(p) for vid, p in probs.items() if vid in by_view}
        table = outfit_table_from_store(store)
    try:
        features = outfit_features(table)
    except IPEError as err:
        print(f"no outfit features ({err}); content methods are skipped")
        features = None
    return (data, raw, features, probs), f"store data: {len(raters)} volunteers, {len(data.records)} views"


def run(args: argparse.Namespace) -> int:
    import json
    import os
    import tempfile
    from datetime import datetime, timezone

    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    from core.recommend.outfit_features import outfit_features
    from core.paths import DataHome
    from core.recommend.calibration import reaction_score
    from core.recommend.evaluate import EvalConfig, evaluate_recommenders
    from core.recommend.simulated_volunteers import SimulationConfig, simulate_volunteers
    from data.demo_catalog import demo_outfit_table
    from models.recommend.attention_profile import attention_for_eval

    home = DataHome.resolve(args.home).ensure()
    inputs, why = (None, "")
    view_probabilities: dict = {}
    if args.simulated is None and home.db_path.exists():
        inputs, why = _store_inputs(args)
    if inputs is None:
        n = args.simulated or 60
        if args.simulated is None:
            print(f"{why or 'no store yet'}: evaluating on {n} SIMULATED volunteers instead")
        with tempfile.TemporaryDirectory(prefix="ipe-demo-catalog-") as tmp:
            table = demo_outfit_table(tmp, seed=args.seed)
            features = outfit_features(table)
        sim = simulate_volunteers(table, SimulationConfig(n_volunteers=n, seed=args.seed, signal=args.signal))
        raw = {key: reaction_score(p) for key, p in sim.probs.items()}
        data = sim.interactions
        why = f"SIMULATED volunteers (n={n}, signal={args.signal:g}, seed={args.seed}) over the DEMO catalog"
    else:
        data, raw, features, view_probabilities = inputs
    config = EvalConfig(holdout_fraction=args.holdout, seed=args.seed, content_source=args.source,
                        attention=not args.no_attention, attention_train_volunteers=args.attention_train)
    result = evaluate_recommenders(data, raw_reaction_scores=raw, features=features, config=config,
                                   attention=attention_for_eval)

    stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
    out = home.runs / f"recommend-{stamp}"
    out.mkdir(parents=True, exist_ok=False)
    lines = [f"# Outfit recommendation evaluation ({stamp} UTC)", "", f"Data: {why}.", "",
             f"Held out {args.holdout:.0%} of each volunteer's rated outfits (seed {args.seed}); relevant = held-out "
             f"outfits rated >= {config.positive_min:g}; {result.n_evaluated} of {result.n_volunteers} volunteers have "
             f"at least one; candidates = every outfit not seen in training ({result.n_outfits} outfits).", "",
             result.table_markdown(), "", result.notes_markdown(), ""]
    if result.n_evaluated == 0:
        lines += ["No volunteer has a held-out outfit rated >= 60, so precision and recall are undefined (nan): "
                  "collect more ratings or raise --holdout.", ""]
    if result.skipped:
        lines += ["Skipped: " + "; ".join(f"{k} ({v})" for k, v in result.skipped.items()), ""]
    if result.calibration is not None:
        lines += ["## Reaction calibration (fitted on training views, reported on held-out views)", "",
                  result.calibration.to_markdown(), ""]
    if result.simulated:
        lines += ["All figures above come from SIMULATED volunteers, not from people.", ""]
    (out / "report.md").write_text("\n".join(lines))
    if view_probabilities:
        (out / "view_probabilities.json").write_text(json.dumps(view_probabilities))
    (out / "metrics.json").write_text(json.dumps(result.to_dict(), indent=2))
    (out / "config.json").write_text(json.dumps({"kind": "recommend-eval", "args": {
        k: v for k, v in vars(args).items() if k != "func"}, "eval": config.as_dict()}, indent=2, default=str))
    print("\n".join(lines))
    print(f"report: {out / 'report.md'}")
    return 0
