"""User x outfit interaction matrices for the recommender, and a per-volunteer holdout.

An :class:`Interactions` table holds, for each (volunteer, outfit) the volunteer saw, the
explicit rating (0..100, or None when skipped) and the reaction in rating units (a
calibrated PLM-IPE reaction score, see ``core/recommend/calibration.py``; None when no
reaction was scored). :func:`build_matrix` turns it into a signed preference matrix
``r in [-1, 1]`` (``(value - 50) / 50``) from ratings, reactions, or a weighted mix of both;
``core/recommend/als.py`` turns ``r`` into ALS confidences ``1 + alpha * |r|``. A view at exactly the
neutral value (50) gives ``r = 0``: no preference, which ALS treats like an unseen outfit (the
evaluation still excludes it from the candidates, since the volunteer has seen it).

:func:`holdout_split` hides a seeded fraction of each volunteer's *rated* outfits; the
evaluation asks whether the held-out outfits the volunteer rated highly are recommended.
Torch-free.
"""
from __future__ import annotations

import random
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, TYPE_CHECKING

import numpy as np
import scipy.sparse as sp

if TYPE_CHECKING:
    from core.store import Store

SOURCES = ("ratings", "reactions", "both")


@dataclass(frozen=True)
class Interaction:
    volunteer_id: str
    outfit_id: str
    rating: float | None = None     # explicit slider, 0..100
    reaction: float | None = None   # calibrated reaction, rating units 0..100


@dataclass(frozen=True)
class Interactions:
    """Who saw what, with the rating and/or reaction; ids fix the matrix row/column order."""

    volunteer_ids: tuple[str, ...]
    outfit_ids: tuple[str, ...]
    records: tuple[Interaction, ...]
    meta: dict[str, Any] = field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        users, items = set(self.volunteer_ids), set(self.outfit_ids)
        for rec in self.records:
            if rec.volunteer_id not in users or rec.outfit_id not in items:
                raise ValueError(f"interaction {rec} names an unknown volunteer or outfit")

    @classmethod
    def from_records(
        cls, records: Iterable[Interaction], *, outfit_ids: Iterable[str] | None = None,
        volunteer_ids: Iterable[str] | None = None, meta: dict[str, Any] | None = None,
    ) -> "Interactions":
        records = tuple(records)
        vols = tuple(volunteer_ids) if volunteer_ids is not None else tuple(sorted({r.volunteer_id for r in records}))
        outs = tuple(outfit_ids) if outfit_ids is not None else tuple(sorted({r.outfit_id for r in records}))
        return cls(vols, outs, records, dict(meta or {}))

    def with_records(self, records: Iterable[Interaction]) -> "Interactions":
        return Interactions(self.volunteer_ids, self.outfit_ids, tuple(records), dict(self.meta))

    @property
    def user_index(self) -> dict[str, int]:
        return {v: i for i, v in enumerate(self.volunteer_ids)}

    @property
    def item_index(self) -> dict[str, int]:
        return {o: i for i, o in enumerate(self.outfit_ids)}

    def for_volunteer(self, volunteer_id: str) -> list[Interaction]:
        return [r for r in self.records if r.volunteer_id == volunteer_id]

    def seen(self) -> dict[str, set[str]]:
        out: dict[str, set[str]] = {v: set() for v in self.volunteer_ids}
        for rec in self.records:
            out[rec.volunteer_id].add(rec.outfit_id)
        return out


@dataclass(frozen=True)
class MatrixConfig:
    """Which signal fills the matrix; in ``both`` the weights mix rating and reaction
    (renormalised over the signals present for that view)."""

    source: str = "ratings"
    rating_weight: float = 0.5
    reaction_weight: float = 0.5
    neutral: float = 50.0   # rating-scale value that means "no preference"
    scale: float = 50.0     # (value - neutral) / scale -> r in [-1, 1]

    def __post_init__(self) -> None:
        if self.source not in SOURCES:
            raise ValueError(f"source must be one of {SOURCES}, not {self.source!r}")
        if self.rating_weight < 0 or self.reaction_weight < 0 or self.rating_weight + self.reaction_weight <= 0:
            raise ValueError("rating_weight and reaction_weight must be >= 0 and not both 0")
        if self.scale <= 0:
            raise ValueError("scale must be positive")


def preference_value(rec: Interaction, config: MatrixConfig) -> float | None:
    """Signed preference ``r in [-1, 1]`` of one interaction, or None when its source is missing."""
    def norm(x: float) -> float:
        return float(np.clip((x - config.neutral) / config.scale, -1.0, 1.0))

    if config.source == "ratings":
        return None if rec.rating is None else norm(rec.rating)
    if config.source == "reactions":
        return None if rec.reaction is None else norm(rec.reaction)
    parts = [(config.rating_weight, rec.rating), (config.reaction_weight, rec.reaction)]
    parts = [(w, v) for w, v in parts if v is not None and w > 0]
    if not parts:
        return None
    total = sum(w for w, _ in parts)
    return sum(w * norm(v) for w, v in parts) / total


def build_matrix(data: Interactions, config: MatrixConfig = MatrixConfig()) -> sp.csr_matrix:
    """Users x outfits CSR of signed preferences; views without the chosen signal are left out."""
    uidx, iidx = data.user_index, data.item_index
    rows, cols, vals = [], [], []
    for rec in data.records:
        value = preference_value(rec, config)
        if value is None:
            continue
        rows.append(uidx[rec.volunteer_id])
        cols.append(iidx[rec.outfit_id])
        vals.append(value)
    shape = (len(data.volunteer_ids), len(data.outfit_ids))
    matrix = sp.coo_matrix((np.asarray(vals, np.float64), (rows, cols)), shape=shape).tocsr()
    matrix.sum_duplicates()
    return matrix


@dataclass(frozen=True)
class Split:
    train: Interactions
    test: Interactions
    seed: int
    fraction: float


def holdout_split(data: Interactions, *, fraction: float = 0.3, seed: int = 0, min_train: int = 1) -> Split:
    """Per volunteer, hold out ``round(fraction * n_rated)`` of the rated outfits (seeded), keeping
    at least ``min_train`` rated outfits in training. Unrated views (reaction only) stay in training."""
    if not 0 < fraction < 1:
        raise ValueError(f"fraction must be in (0, 1), got {fraction}")
    train, test = [], []
    for vol in data.volunteer_ids:
        recs = data.for_volunteer(vol)
        rated = sorted((r for r in recs if r.rating is not None), key=lambda r: r.outfit_id)
        rng = random.Random(f"{seed}:{vol}")
        rng.shuffle(rated)
        n_test = min(int(round(fraction * len(rated))), max(0, len(rated) - min_train))
        held = {r.outfit_id for r in rated[:n_test]}
        for rec in recs:
            (test if rec.outfit_id in held else train).append(rec)
    meta = dict(data.meta, holdout_fraction=fraction, holdout_seed=seed)
    return Split(Interactions(data.volunteer_ids, data.outfit_ids, tuple(train), meta),
                 Interactions(data.volunteer_ids, data.outfit_ids, tuple(test), meta), seed, fraction)


def relevant_sets(test: Interactions, *, positive_min: float = 60.0) -> dict[str, set[str]]:
    """Held-out outfits each volunteer rated ``>= positive_min`` (the positive class of core/labels.py)."""
    out: dict[str, set[str]] = {v: set() for v in test.volunteer_ids}
    for rec in test.records:
        if rec.rating is not None and rec.rating >= positive_min:
            out[rec.volunteer_id].add(rec.outfit_id)
    return out


def interactions_from_views(
    views: Iterable[Mapping[str, Any]], outfit_ids: Iterable[str], *,
    reactions: Mapping[str, float] | None = None,
) -> Interactions:
    """From store view rows (``volunteer_id, outfit_id, rating, view_id, status``): ok views with a
    rating and/or a reaction (``reactions`` maps view_id -> calibrated reaction, rating units).
    A volunteer who saw an outfit twice keeps the latest view."""
    reactions = reactions or {}
    latest: dict[tuple[str, str], Interaction] = {}
    for view in views:
        if view.get("status", "ok") not in ("ok", "short"):
            continue
        rating = view.get("rating")
        reaction = reactions.get(str(view.get("view_id")))
        if rating is None and reaction is None:
            continue
        latest[(view["volunteer_id"], view["outfit_id"])] = Interaction(
            view["volunteer_id"], view["outfit_id"],
            None if rating is None else float(rating), None if reaction is None else float(reaction))
    outfits = list(outfit_ids)
    known = set(outfits)
    records = [r for r in latest.values() if r.outfit_id in known]
    return Interactions.from_records(records, outfit_ids=outfits, meta={"source": "store"})


def interactions_from_store(store: Store, *, reactions: Mapping[str, float] | None = None) -> Interactions:
    """All rated/reacted views in a :class:`core.store.Store` (read-only use)."""
    outfit_ids = [o["outfit_id"] for o in store.list_outfits()]
    return interactions_from_views(store.list_views(), outfit_ids, reactions=reactions)
