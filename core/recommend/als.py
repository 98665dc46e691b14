"""Implicit-feedback ALS (Hu, Koren & Volinsky) via the ``implicit`` library, and a popularity baseline.

Input is the signed preference matrix of ``core/recommend_data.build_matrix`` (``r`` in
[-1, 1]). A liked view (``r > 0``) becomes preference 1 with confidence ``1 + alpha * r``; a
disliked view (``r < 0``) becomes preference 0 with confidence ``1 + alpha * |r|`` (implicit
reads a negative entry that way); unseen outfits keep preference 0, confidence 1. CPU,
one thread, seeded: the same input gives the same factors.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp


@dataclass(frozen=True)
class ALSConfig:
    # defaults chosen on simulated volunteers (60 x 64 outfits, seed 0): few factors, strong
    # regularisation and a large alpha; more factors overfit ~45 views per volunteer
    factors: int = 8
    regularization: float = 10.0
    iterations: int = 30
    alpha: float = 20.0
    seed: int = 0


def confidence_matrix(preferences: sp.csr_matrix, alpha: float) -> sp.csr_matrix:
    """``sign(r) * (1 + alpha * |r|)`` on the stored entries (implicit's convention); r == 0 dropped."""
    m = sp.csr_matrix(preferences, dtype=np.float32, copy=True)
    m.data = np.sign(m.data) * (1.0 + alpha * np.abs(m.data))
    m.eliminate_zeros()
    return m


class Recommender:
    """Scores every outfit for a user row; :meth:`recommend` ranks the unseen ones."""

    name = "base"

    def scores(self, user: int) -> np.ndarray:  # pragma: no cover - interface
        raise NotImplementedError

    def recommend(self, user: int, k: int, exclude: set[int] | None = None) -> list[int]:
        """Top-``k`` item indices by score, excluding ``exclude``; ties broken by item index."""
        s = np.asarray(self.scores(user), dtype=np.float64).copy()
        if exclude:
            s[list(exclude)] = -np.inf
        order = np.lexsort((np.arange(len(s)), -s))
        return [int(i) for i in order[:k] if np.isfinite(s[i])]


class PopularityRecommender(Recommender):
    """How many training volunteers liked each outfit (``r > 0``), then the mean preference."""

    name = "popularity"

    def __init__(self, preferences: sp.csr_matrix) -> None:
        m = sp.csr_matrix(preferences)
        likes = np.asarray((m > 0).sum(axis=0)).ravel().astype(np.float64)
        counts = np.asarray((m != 0).sum(axis=0)).ravel()
        mean = np.divide(np.asarray(m.sum(axis=0)).ravel(), np.maximum(counts, 1))
        self._scores = likes + 1e-3 * mean

    def scores(self, user: int) -> np.ndarray:
        return self._scores


class ALSRecommender(Recommender):
    name = "als"

    def __init__(self, user_factors: np.ndarray, item_factors: np.ndarray, config: ALSConfig) -> None:
        self.user_factors = user_factors
        self.item_factors = item_factors
        self.config = config

    def scores(self, user: int) -> np.ndarray:
        return self.item_factors @ self.user_factors[user]

    def similar_items(self, item: int, among: list[int]) -> list[tuple[int, float]]:
        """Cosine similarity of item factors between ``item`` and each of ``among``, highest first."""
        f = self.item_factors
        norms = np.linalg.norm(f, axis=1) + 1e-12
        sims = [(j, float(f[item] @ f[j] / (norms[item] * norms[j]))) for j in among]
        return sorted(sims, key=lambda t: (-t[1], t[0]))


def fit_als(preferences: sp.csr_matrix, config: ALSConfig = ALSConfig()) -> ALSRecommender:
    """Fit implicit's CPU ALS on a users x items signed preference matrix."""
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    from implicit.cpu.als import AlternatingLeastSquares
    from threadpoolctl import threadpool_limits

    conf = confidence_matrix(preferences, config.alpha)
    with threadpool_limits(limits=1, user_api="blas"):  # implicit warns (and slows) with threaded BLAS
        model = AlternatingLeastSquares(
            factors=config.factors, regularization=config.regularization, alpha=1.0,
            iterations=config.iterations, random_state=config.seed, num_threads=1,
            calculate_training_loss=False,
        )
        model.fit(conf, show_progress=False)
    return ALSRecommender(np.asarray(model.user_factors), np.asarray(model.item_factors), config)
