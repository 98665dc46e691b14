"""Plain averaging of outfit features into a user descriptor: the baseline of the mobile paper's Table 3.

``u = mean_m r_m (x_m - mean x)`` over the outfits a volunteer reacted to (``r_m`` the signed
preference in [-1, 1], features standardised over the catalog), and an outfit is scored by
``u . (x_o - mean x)``. No training, torch-free. The learned alternative is
``models/recommend/attention_profile.py``.
"""
from __future__ import annotations

import numpy as np


def standardise(features: np.ndarray) -> np.ndarray:
    """Column-wise zero mean / unit variance (constant columns stay 0)."""
    x = np.asarray(features, dtype=np.float32)
    std = x.std(axis=0)
    return (x - x.mean(axis=0)) / np.where(std > 1e-8, std, 1.0)


class AveragingProfile:
    """Plain average of the signed preferences times centred features (no training)."""

    name = "averaging"
    n_parameters = 0

    def __init__(self, features: np.ndarray) -> None:
        self.x = standardise(features)

    def score_matrix(self, preferences: np.ndarray) -> np.ndarray:
        """(U, N) scores from a dense (U, N) signed preference matrix (0 = not seen)."""
        r = np.asarray(preferences, dtype=np.float32)
        seen = np.maximum((r != 0).sum(axis=1, keepdims=True), 1)
        u = (r @ self.x) / seen
        return u @ self.x.T
