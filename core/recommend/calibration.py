"""From PLM-IPE class probabilities to a reaction score in rating units, and how well it calibrates.

The raw score of a view is the expected class value ``p_positive - p_negative`` in [-1, 1]
(negative = -1, neutral = 0, positive = +1). It is mapped onto the 0..100 rating scale by a
monotone map fitted against the explicit ratings of the same views: isotonic regression
(default; a non-decreasing step function, stored as knots and applied with ``np.interp``) or
a least-squares line. :func:`calibration_report` gives the Spearman correlation, MAE of the
mapped score against the ratings (and of always predicting the mean rating, for scale) and a
reliability table (bins of raw score: mean predicted vs mean actual rating). Torch-free.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

METHODS = ("isotonic", "linear")


def reaction_score(probs: Sequence[float] | np.ndarray) -> np.ndarray | float:
    """``p_positive - p_negative`` of class probabilities ordered (negative, neutral, positive);
    a (3,) input gives a float, (N, 3) an array."""
    arr = np.asarray(probs, dtype=np.float64)
    if arr.shape[-1] != 3:
        raise ValueError(f"expected probabilities for (negative, neutral, positive), got shape {arr.shape}")
    score = arr[..., 2] - arr[..., 0]
    return float(score) if score.ndim == 0 else score


@dataclass(frozen=True)
class ReactionCalibrator:
    """A monotone map raw score -> rating units, as knots for ``np.interp`` (clamped at the ends)."""

    method: str
    x: tuple[float, ...]
    y: tuple[float, ...]
    n_fit: int = 0

    def predict(self, scores: Sequence[float] | np.ndarray | float) -> np.ndarray:
        return np.interp(np.asarray(scores, dtype=np.float64), self.x, self.y)

    def to_dict(self) -> dict[str, Any]:
        return {"method": self.method, "x": list(self.x), "y": list(self.y), "n_fit": self.n_fit}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "ReactionCalibrator":
        return cls(data["method"], tuple(map(float, data["x"])), tuple(map(float, data["y"])), int(data.get("n_fit", 0)))


def fit_calibration(scores: Sequence[float], ratings: Sequence[float], *, method: str = "isotonic") -> ReactionCalibrator:
    """Fit the map from raw reaction scores to ratings (0..100) on paired views."""
    x = np.asarray(scores, dtype=np.float64)
    y = np.asarray(ratings, dtype=np.float64)
    if x.shape != y.shape or x.ndim != 1:
        raise ValueError("scores and ratings must be 1-d and of equal length")
    if len(x) < 2:
        raise ValueError(f"need at least 2 views with both a reaction and a rating to calibrate, got {len(x)}")
    if method == "linear":
        slope, intercept = np.polyfit(x, y, 1) if np.ptp(x) > 0 else (0.0, float(y.mean()))
        slope = max(float(slope), 0.0)  # keep it monotone: a happier face never means a lower rating
        xs = (-1.0, 1.0)
        ys = tuple(float(np.clip(intercept + slope * v, 0, 100)) for v in xs)
        return ReactionCalibrator("linear", xs, ys, len(x))
    if method != "isotonic":
        raise ValueError(f"method must be one of {METHODS}, not {method!r}")
    from scipy.optimize import isotonic_regression

    # pool equal scores first (weighted by count), then pool-adjacent-violators over the distinct scores
    ux, inverse, counts = np.unique(x, return_inverse=True, return_counts=True)
    means = np.bincount(inverse, weights=y) / counts
    fitted = isotonic_regression(means, weights=counts.astype(np.float64), increasing=True).x
    xs = tuple(float(v) for v in ux)
    ys = tuple(float(v) for v in np.clip(fitted, 0.0, 100.0))
    if len(xs) == 1:
        xs, ys = (xs[0] - 1e-6, xs[0] + 1e-6), (ys[0], ys[0])
    return ReactionCalibrator("isotonic", xs, ys, len(x))


@dataclass(frozen=True)
class CalibrationReport:
    n: int
    spearman: float
    mae: float
    mae_mean_baseline: float
    method: str
    table: tuple[dict[str, float], ...] = field(default_factory=tuple)

    def to_dict(self) -> dict[str, Any]:
        return {"n": self.n, "spearman": self.spearman, "mae": self.mae,
                "mae_mean_baseline": self.mae_mean_baseline, "method": self.method, "table": list(self.table)}

    def to_markdown(self) -> str:
        lines = [
            f"Calibration ({self.method}) on {self.n} views: Spearman(raw score, rating) = {self.spearman:.3f}; "
            f"MAE of the calibrated score = {self.mae:.1f} rating points (always predicting the mean rating: "
            f"{self.mae_mean_baseline:.1f}).",
            "",
            "| raw score bin | views | mean raw score | mean calibrated score | mean rating |",
            "|---|---:|---:|---:|---:|",
        ]
        for row in self.table:
            lines.append(f"| [{row['lo']:+.2f}, {row['hi']:+.2f}] | {int(row['n'])} | {row['mean_score']:+.3f} | "
                         f"{row['mean_predicted']:.1f} | {row['mean_rating']:.1f} |")
        return "\n".join(lines)


def reliability_table(scores: np.ndarray, ratings: np.ndarray, predicted: np.ndarray, n_bins: int = 5) -> list[dict[str, float]]:
    """Equal-count bins of raw score: count, mean score, mean predicted and mean actual rating."""
    order = np.argsort(scores, kind="stable")
    rows = []
    for chunk in np.array_split(order, min(n_bins, len(order))):
        if len(chunk) == 0:
            continue
        rows.append({"lo": float(scores[chunk].min()), "hi": float(scores[chunk].max()), "n": float(len(chunk)),
                     "mean_score": float(scores[chunk].mean()), "mean_predicted": float(predicted[chunk].mean()),
                     "mean_rating": float(ratings[chunk].mean())})
    return rows


def _average_ranks(values: np.ndarray) -> np.ndarray:
    """Ranks 1..n, ties given their average rank (as scipy.stats.rankdata)."""
    order = np.argsort(values, kind="stable")
    sorted_values = values[order]
    ranks = np.empty(len(values), np.float64)
    boundaries = np.flatnonzero(np.diff(sorted_values)) + 1
    for start, stop in zip(np.r_[0, boundaries], np.r_[boundaries, len(values)]):
        ranks[order[start:stop]] = (start + stop + 1) / 2.0
    return ranks


def spearman(x: Sequence[float], y: Sequence[float]) -> float:
    """Spearman rank correlation (Pearson on average ranks); NaN when either side is constant."""
    a, b = np.asarray(x, np.float64), np.asarray(y, np.float64)
    if len(a) < 2 or np.ptp(a) == 0 or np.ptp(b) == 0:
        return float("nan")
    return float(np.corrcoef(_average_ranks(a), _average_ranks(b))[0, 1])


def calibration_report(scores: Sequence[float], ratings: Sequence[float], calibrator: ReactionCalibrator, *,
                       n_bins: int = 5, reference_mean: float | None = None) -> CalibrationReport:
    """Evaluate ``calibrator`` on paired (raw score, rating) views (ideally not the ones it was fitted on).
    ``reference_mean``: the mean rating of the fitting data, for the constant baseline."""
    x = np.asarray(scores, dtype=np.float64)
    y = np.asarray(ratings, dtype=np.float64)
    if len(x) < 2:
        raise ValueError("need at least 2 views to report calibration")
    pred = calibrator.predict(x)
    rho = spearman(x, y)
    mean = float(y.mean() if reference_mean is None else reference_mean)
    return CalibrationReport(len(x), rho, float(np.abs(pred - y).mean()), float(np.abs(mean - y).mean()),
                             calibrator.method, tuple(reliability_table(x, y, pred, n_bins)))


def calibrate_view_reactions(
    probs_by_view: dict[str, Sequence[float]], ratings_by_view: dict[str, float | None], *, method: str = "isotonic",
) -> tuple[dict[str, float], ReactionCalibrator, CalibrationReport]:
    """Calibrate per-view PLM-IPE probabilities against the same views' ratings and return
    ``view_id -> reaction in rating units`` for EVERY view with probabilities (rated or not),
    the calibrator and its (in-sample) report. For the recommender service; the evaluation fits
    on training views only (``core/recommend/evaluate.py``)."""
    scores = {vid: float(reaction_score(p)) for vid, p in probs_by_view.items()}
    paired = [(scores[vid], float(r)) for vid, r in ratings_by_view.items() if r is not None and vid in scores]
    calibrator = fit_calibration([s for s, _ in paired], [r for _, r in paired], method=method)
    report = calibration_report([s for s, _ in paired], [r for _, r in paired], calibrator)
    ids = list(scores)
    mapped = calibrator.predict([scores[v] for v in ids]) if ids else []
    return dict(zip(ids, map(float, mapped))), calibrator, report
