"""SIMULATED volunteers with known tastes over catalog attributes (for tests and evaluation).

Nothing here is real data: every volunteer id starts with ``sim-`` and every result carries
``meta["simulated"] = True``. Each simulated volunteer belongs to one of a few taste
archetypes (so collaborative filtering has shared structure) plus a personal deviation:
weights over colour family, pattern and top/bottom shape. An outfit's utility is the sum of
the weights of its garments' attribute values plus a small outfit-wide appeal (so popularity
is a fair, not a trivial, baseline). From the standardised utility ``z``:

* rating = clip(50 + rating_scale * z + N(0, rating_noise)) in 0..100 (integers);
* reaction probabilities (negative, neutral, positive) = softmax(-a*z', neutral_bias, a*z')
  with ``z' = z + N(0, reaction_noise)`` and a per-volunteer expressiveness ``a`` — reactions
  are deliberately noisier than ratings.

``signal=0`` removes the tastes (utilities are appeal + noise only): no method should then
beat popularity by more than chance.
"""
from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from core.recommend.outfit_features import OutfitTable
from core.recommend.data import Interaction, Interactions

TASTE_KEYS = ("color_family", "pattern", "top.shape", "bottom.shape")


@dataclass(frozen=True)
class SimulationConfig:
    n_volunteers: int = 60
    seed: int = 0
    n_archetypes: int = 4
    personal: float = 0.5          # std of a volunteer's deviation from the archetype weights
    signal: float = 1.0            # multiplies the taste weights (0 = no taste)
    appeal: float = 0.3            # std of the outfit-wide appeal shared by all volunteers
    seen_fraction: float = 0.75    # fraction of the catalog each volunteer saw
    rating_scale: float = 22.0
    rating_noise: float = 8.0      # rating points
    reaction_noise: float = 0.8    # in z units (a rating_noise of 8 is ~0.36 z units)
    neutral_bias: float = 0.5
    expressiveness: tuple[float, float] = (1.0, 3.0)
    skip_rate: float = 0.0         # fraction of views with a reaction but no rating


@dataclass(frozen=True)
class SimulatedVolunteers:
    """Simulated interactions plus the ground truth that produced them."""

    interactions: Interactions                      # ratings only; reactions filled after calibration
    probs: dict[tuple[str, str], np.ndarray]         # (volunteer, outfit) -> (3,) class probabilities
    utility: np.ndarray                              # (n_volunteers, n_outfits) standardised true utility
    true_ratings: np.ndarray                         # (n_volunteers, n_outfits) noise-free-ish rating of every outfit
    tastes: tuple[dict[str, dict[str, float]], ...]
    config: SimulationConfig
    meta: dict[str, Any] = field(default_factory=lambda: {"simulated": True})


def _value(attrs: dict[str, str], key: str) -> list[str]:
    if key in ("color_family", "pattern"):  # a taste for a colour family or pattern applies to both garments
        return [attrs[k] for k in (f"top.{key}", f"bottom.{key}") if k in attrs]
    return [attrs[key]] if key in attrs else []


def simulate_volunteers(table: OutfitTable, config: SimulationConfig = SimulationConfig()) -> SimulatedVolunteers:
    """Seeded simulation over the outfits of ``table`` (needs attribute columns, e.g. the demo catalog)."""
    rng = np.random.default_rng(config.seed)
    vocab = {key: sorted({v for attrs in table.attributes for v in _value(attrs, key)}) for key in TASTE_KEYS}
    if not any(vocab.values()):
        raise ValueError("the catalog has no color_family/pattern/shape attributes to simulate tastes over")
    archetypes = [{key: rng.normal(0, 1, len(vals)) for key, vals in vocab.items()} for _ in range(config.n_archetypes)]
    n_items = len(table.outfit_ids)
    appeal = rng.normal(0, config.appeal, n_items)
    raw = np.zeros((config.n_volunteers, n_items))
    tastes = []
    for v in range(config.n_volunteers):
        base = archetypes[v % config.n_archetypes]
        taste = {key: config.signal * (base[key] + rng.normal(0, config.personal, len(vocab[key]))) for key in vocab}
        tastes.append({key: dict(zip(vocab[key], map(float, taste[key]))) for key in vocab})
        for j, attrs in enumerate(table.attributes):
            raw[v, j] = appeal[j] + sum(taste[key][vocab[key].index(val)] for key in vocab for val in _value(attrs, key))
    utility = (raw - raw.mean()) / (raw.std() + 1e-9)
    true_ratings = np.clip(50 + config.rating_scale * utility, 0, 100)

    volunteer_ids = tuple(f"sim-v{v + 1:03d}" for v in range(config.n_volunteers))
    n_seen = max(2, int(round(config.seen_fraction * n_items)))
    records, probs = [], {}
    order_rng = random.Random(config.seed)
    lo, hi = config.expressiveness
    for v, vid in enumerate(volunteer_ids):
        seen = order_rng.sample(range(n_items), n_seen)
        expressive = rng.uniform(lo, hi)
        for j in sorted(seen):
            rating = float(np.clip(np.round(50 + config.rating_scale * utility[v, j] + rng.normal(0, config.rating_noise)), 0, 100))
            z = utility[v, j] + rng.normal(0, config.reaction_noise)
            logits = np.array([-expressive * z, config.neutral_bias, expressive * z])
            p = np.exp(logits - logits.max())
            oid = table.outfit_ids[j]
            probs[(vid, oid)] = p / p.sum()
            skipped = rng.random() < config.skip_rate
            records.append(Interaction(vid, oid, None if skipped else rating, None))
    meta = {"simulated": True, "simulation": config.__dict__.copy()}
    data = Interactions(volunteer_ids, table.outfit_ids, tuple(records), meta)
    return SimulatedVolunteers(data, probs, utility, true_ratings, tuple(tastes), config, {"simulated": True})

