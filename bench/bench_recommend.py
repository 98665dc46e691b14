"""Recommenders on SIMULATED volunteers over the demo catalog: Table 3 averaged over seeds, and timings.

Run: ``nice .venv/bin/python -m bench.bench_recommend [--seeds 5] [--volunteers 60] [--signal 1.0]``.
Prints the mean (and min..max over seeds) precision/recall@k per method, the calibration
figures, and the wall time of one evaluation. Every figure is from simulated volunteers.
"""
from __future__ import annotations

import argparse
import os
import tempfile
import time


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--volunteers", type=int, default=60)
    parser.add_argument("--signal", type=float, default=1.0)
    parser.add_argument("--attention-train", type=float, default=0.7,
                        help="fraction of volunteers that fit the attention weights (the rest are cold-start)")
    args = parser.parse_args()
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

    import numpy as np

    from core.recommend.outfit_features import outfit_features
    from core.recommend.calibration import reaction_score
    from core.recommend.evaluate import EvalConfig, evaluate_recommenders
    from core.recommend.simulated_volunteers import SimulationConfig, simulate_volunteers
    from data.demo_catalog import demo_outfit_table
    from models.recommend.attention_profile import attention_for_eval

    with tempfile.TemporaryDirectory() as tmp:
        table = demo_outfit_table(tmp)
        features = outfit_features(table)
    results, times = [], []
    for seed in range(args.seeds):
        sim = simulate_volunteers(table, SimulationConfig(n_volunteers=args.volunteers, seed=seed, signal=args.signal))
        raw = {key: reaction_score(p) for key, p in sim.probs.items()}
        start = time.perf_counter()
        results.append(evaluate_recommenders(sim.interactions, raw_reaction_scores=raw, features=features,
                                             config=EvalConfig(seed=seed, attention_train_volunteers=args.attention_train),
                                             attention=attention_for_eval))
        times.append(time.perf_counter() - start)
    ks = results[0].config.ks
    print(f"SIMULATED volunteers: {args.volunteers} x {len(table.outfit_ids)} demo outfits, signal {args.signal:g}, "
          f"seeds 0..{args.seeds - 1}; mean over seeds (min..max)")
    print("| Method | " + " | ".join(f"Recall@{k}, % | Precision@{k}, %" for k in ks) + " |")
    print("|---|" + "---:|---:|" * len(ks))
    for name in [m.name for m in results[0].methods]:
        cells = []
        for k in ks:
            for attr in ("recall", "precision"):
                vals = 100 * np.array([getattr(r.method(name), attr)[k] for r in results])
                cells.append(f"{vals.mean():.1f} ({vals.min():.0f}..{vals.max():.0f})")
        print(f"| {name} | " + " | ".join(cells) + " |")
    cal = [r.calibration for r in results if r.calibration is not None]
    if cal:
        print(f"calibration (held-out views): Spearman {np.mean([c.spearman for c in cal]):.3f}, "
              f"MAE {np.mean([c.mae for c in cal]):.1f} vs mean-rating baseline {np.mean([c.mae_mean_baseline for c in cal]):.1f}")
    print(f"one evaluation (6 methods, incl. attention training): {np.median(times):.2f} s median wall time")


if __name__ == "__main__":
    main()
