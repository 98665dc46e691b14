"""Recommendations for one volunteer, with reasons, for the Gradio "Recommend" tab and the
collection app's optional research mode. Torch-free (ALS via ``implicit``).

:func:`recommend_for_volunteer` fits ALS on everything known (a store's views or an
:class:`Interactions` table), ranks the outfits the volunteer has not seen and explains each
with the volunteer's own views that drove it: the rated/reacted outfits nearest to it in ALS
item-factor space (cosine similarity), with their rating and reaction. A volunteer with no
views yet gets the popularity order and no reasons.

:func:`order_outfits_for_returning_volunteer` reorders a planned list of outfit ids by the same
scores (best first). It is meant for a research mode that is OFF by default; the caller records
``research_mode="recommender"`` on the session when it is used.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TYPE_CHECKING

import numpy as np

from core.recommend.als import ALSConfig, ALSRecommender, PopularityRecommender, fit_als
from core.recommend.data import Interactions, MatrixConfig, build_matrix, interactions_from_store, preference_value

if TYPE_CHECKING:
    from core.store import Store

RESEARCH_MODE = "recommender"


@dataclass(frozen=True)
class Reason:
    outfit_id: str
    similarity: float
    rating: float | None
    reaction: float | None

    def describe(self) -> str:
        parts = []
        if self.rating is not None:
            parts.append(f"rated {self.rating:.0f}")
        if self.reaction is not None:
            parts.append(f"reaction {self.reaction:.0f}")
        return f"{self.outfit_id} ({', '.join(parts) or 'seen'}; similarity {self.similarity:.2f})"


@dataclass(frozen=True)
class ServiceConfig:
    matrix: MatrixConfig = MatrixConfig(source="both")
    als: ALSConfig = ALSConfig()
    n_reasons: int = 3


def _as_interactions(store_or_data: Store | Interactions, reactions: Mapping[str, float] | None) -> Interactions:
    if isinstance(store_or_data, Interactions):
        return store_or_data
    if hasattr(store_or_data, "list_views") and hasattr(store_or_data, "list_outfits"):
        return interactions_from_store(store_or_data, reactions=reactions)
    raise TypeError(f"expected a core.store.Store or core.recommend.data.Interactions, got {type(store_or_data).__name__}")


def _fit(data: Interactions, config: ServiceConfig) -> tuple[ALSRecommender | None, PopularityRecommender]:
    matrix = build_matrix(data, config.matrix)
    popularity = PopularityRecommender(matrix)
    if matrix.nnz == 0:
        return None, popularity
    return fit_als(matrix, config.als), popularity


def _scores_for(data: Interactions, volunteer_id: str, config: ServiceConfig
                ) -> tuple[np.ndarray, ALSRecommender | None, list[Any]]:
    als, popularity = _fit(data, config)
    own = [r for r in data.for_volunteer(volunteer_id) if preference_value(r, config.matrix) is not None]
    if als is None or not own or volunteer_id not in data.user_index:
        return popularity.scores(0).astype(np.float64), None, own
    return als.scores(data.user_index[volunteer_id]).astype(np.float64), als, own


def recommend_for_volunteer(
    store_or_data: Any, volunteer_id: str, k: int = 10, *,
    reactions: Mapping[str, float] | None = None, config: ServiceConfig = ServiceConfig(),
) -> list[tuple[str, float, list[Reason]]]:
    """Top-``k`` unseen outfits as ``(outfit_id, score, reasons)``, best first.
    ``reactions`` (store only): view_id -> calibrated reaction in rating units."""
    if k <= 0:
        raise ValueError("k must be positive")
    data = _as_interactions(store_or_data, reactions)
    scores, als, own = _scores_for(data, volunteer_id, config)
    iidx = data.item_index
    seen = {r.outfit_id for r in data.for_volunteer(volunteer_id)}
    candidates = [j for j, o in enumerate(data.outfit_ids) if o not in seen]
    ranked = sorted(candidates, key=lambda j: (-scores[j], j))[:k]
    own_by_index = {iidx[r.outfit_id]: r for r in own}
    out = []
    for j in ranked:
        reasons: list[Reason] = []
        if als is not None:
            for other, sim in als.similar_items(j, sorted(own_by_index))[: config.n_reasons]:
                rec = own_by_index[other]
                reasons.append(Reason(rec.outfit_id, sim, rec.rating, rec.reaction))
        out.append((data.outfit_ids[j], float(scores[j]), reasons))
    return out


def order_outfits_for_returning_volunteer(
    store_or_data: Any, volunteer_id: str, outfit_ids: Sequence[str], *,
    reactions: Mapping[str, float] | None = None, config: ServiceConfig = ServiceConfig(),
) -> list[str]:
    """``outfit_ids`` reordered by the recommender's score for this volunteer (best first; unknown
    outfits keep their relative order at the end). A new volunteer gets the popularity order."""
    data = _as_interactions(store_or_data, reactions)
    scores, _, _ = _scores_for(data, volunteer_id, config)
    iidx = data.item_index
    position = {o: i for i, o in enumerate(outfit_ids)}
    return sorted(outfit_ids, key=lambda o: (0, -scores[iidx[o]], position[o]) if o in iidx else (1, 0.0, position[o]))
