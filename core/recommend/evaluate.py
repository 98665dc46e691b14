"""Evaluate recommenders on held-out ratings: precision@k and recall@k (the mobile paper's Table 3).

Protocol (:func:`evaluate_recommenders`):

1. hold out a seeded fraction of each volunteer's rated outfits (``core/recommend_data.holdout_split``);
2. fit the reaction calibration (raw ``p_pos - p_neg`` -> rating units) on the *training* views,
   report it on the held-out views;
3. train every method on the training views only; for each volunteer rank every outfit they
   have not seen in training (held-out and never-seen outfits alike);
4. relevant = held-out outfits the volunteer rated ``>= positive_min`` (60, the positive class);
   precision@k = hits in the top k / k, recall@k = hits / #relevant, averaged over the
   volunteers with at least one relevant held-out outfit.

Methods: popularity, ALS on ratings, ALS on reactions, ALS on both, attention pooling and
averaging of outfit features (content methods use ``content_source`` preferences). The
attention model needs torch, so it lives in ``models/recommend`` and the caller hands it in as
``attention`` (``models.recommend.attention_profile.attention_for_eval``); without it the
method is listed as skipped.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Callable, Protocol

import numpy as np

from core.recommend.average_profile import AveragingProfile
from core.recommend.calibration import CalibrationReport, ReactionCalibrator, calibration_report, fit_calibration
from core.recommend.als import ALSConfig, PopularityRecommender, fit_als
from core.recommend.data import Interactions, MatrixConfig, Split, build_matrix, holdout_split, relevant_sets

KS = (5, 10, 15)


def precision_at_k(recommended: Sequence[str], relevant: set[str], k: int) -> float:
    """Hits among the first ``k`` recommendations, divided by ``k`` (a short list still divides by k)."""
    if k <= 0:
        raise ValueError("k must be positive")
    return len(set(list(recommended)[:k]) & set(relevant)) / k


def recall_at_k(recommended: Sequence[str], relevant: set[str], k: int) -> float:
    """Hits among the first ``k`` recommendations, divided by the number of relevant outfits."""
    if k <= 0:
        raise ValueError("k must be positive")
    if not relevant:
        raise ValueError("recall is undefined without relevant outfits; leave such volunteers out")
    return len(set(list(recommended)[:k]) & set(relevant)) / len(relevant)


@dataclass(frozen=True)
class EvalConfig:
    ks: tuple[int, ...] = KS
    holdout_fraction: float = 0.3
    seed: int = 0
    positive_min: float = 60.0
    als: ALSConfig = ALSConfig()
    content_source: str = "both"      # preferences that feed attention pooling / averaging
    rating_weight: float = 0.5
    reaction_weight: float = 0.5
    calibration: str = "isotonic"
    attention: bool = True
    attention_epochs: int = 300
    # fraction of volunteers whose training views fit the attention weights (the paper used 70%); the
    # others are true cold-start users: their views are only pooled at prediction time
    attention_train_volunteers: float = 0.7

    def __post_init__(self) -> None:
        if not self.ks or min(self.ks) <= 0:
            raise ValueError(f"ks must be positive, got {self.ks}")
        if not 0 < self.attention_train_volunteers <= 1:
            raise ValueError(f"attention_train_volunteers must be in (0, 1], got {self.attention_train_volunteers}")

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class MethodResult:
    name: str
    precision: dict[int, float]
    recall: dict[int, float]
    n_parameters: int | None = None
    note: str = ""


@dataclass
class EvalResult:
    methods: list[MethodResult]
    n_volunteers: int
    n_evaluated: int
    n_outfits: int
    config: EvalConfig
    calibration: CalibrationReport | None = None
    calibrator: ReactionCalibrator | None = None
    skipped: dict[str, str] = field(default_factory=dict)
    simulated: bool = False

    def method(self, name: str) -> MethodResult:
        for m in self.methods:
            if m.name == name:
                return m
        raise KeyError(f"no method {name!r}; have {[m.name for m in self.methods]}")

    def table_markdown(self) -> str:
        ks = self.config.ks
        head = "| Method | " + " | ".join(f"Recall@{k}, % | Precision@{k}, %" for k in ks) + " | Parameters |"
        sep = "|---|" + "---:|---:|" * len(ks) + "---:|"
        lines = [head, sep]
        for m in self.methods:
            cells = " | ".join(f"{100 * m.recall[k]:.1f} | {100 * m.precision[k]:.1f}" for k in ks)
            params = "-" if m.n_parameters is None else f"{m.n_parameters:,}"
            lines.append(f"| {m.name} | {cells} | {params} |")
        return "\n".join(lines)

    def notes_markdown(self) -> str:
        return "\n".join(f"- {m.name}: {m.note}" for m in self.methods if m.note)

    def to_dict(self) -> dict[str, Any]:
        return {
            "simulated": self.simulated, "n_volunteers": self.n_volunteers, "n_evaluated": self.n_evaluated,
            "n_outfits": self.n_outfits, "config": self.config.as_dict(), "skipped": self.skipped,
            "methods": [{"name": m.name, "precision": {str(k): v for k, v in m.precision.items()},
                         "recall": {str(k): v for k, v in m.recall.items()}, "n_parameters": m.n_parameters,
                         "note": m.note} for m in self.methods],
            "calibration": None if self.calibration is None else self.calibration.to_dict(),
            "calibrator": None if self.calibrator is None else self.calibrator.to_dict(),
        }


def rank_unseen(scores: np.ndarray, exclude: set[int], k: int) -> list[int]:
    """Indices of the ``k`` highest scores outside ``exclude`` (ties by index)."""
    s = np.asarray(scores, dtype=np.float64).copy()
    if exclude:
        s[list(exclude)] = -np.inf
    order = np.lexsort((np.arange(len(s)), -s))
    return [int(i) for i in order[:k] if np.isfinite(s[i])]


def _score_methods(score_rows: np.ndarray, train: Interactions, relevant: dict[str, set[str]],
                   ks: Sequence[int]) -> tuple[dict[int, float], dict[int, float], int]:
    item_index = train.item_index
    seen = train.seen()
    kmax = max(ks)
    precision = {k: [] for k in ks}
    recall = {k: [] for k in ks}
    for u, vol in enumerate(train.volunteer_ids):
        if not relevant.get(vol):
            continue
        top = [train.outfit_ids[i] for i in rank_unseen(score_rows[u], {item_index[o] for o in seen[vol]}, kmax)]
        for k in ks:
            precision[k].append(precision_at_k(top, relevant[vol], k))
            recall[k].append(recall_at_k(top, relevant[vol], k))
    n = len(precision[ks[0]])
    return ({k: float(np.mean(v)) if v else float("nan") for k, v in precision.items()},
            {k: float(np.mean(v)) if v else float("nan") for k, v in recall.items()}, n)


def calibrate_reactions(split: Split, raw_scores: Mapping[tuple[str, str], float], method: str = "isotonic"
                        ) -> tuple[Interactions, ReactionCalibrator | None, CalibrationReport | None]:
    """Fit the reaction map on training views, report it on held-out views, fill ``reaction`` of the
    training records (rating units). Returns the training interactions unchanged when too few pairs."""
    pairs = [(raw_scores[(r.volunteer_id, r.outfit_id)], r.rating) for r in split.train.records
             if r.rating is not None and (r.volunteer_id, r.outfit_id) in raw_scores]
    if len(pairs) < 2:
        return split.train, None, None
    calibrator = fit_calibration([p[0] for p in pairs], [p[1] for p in pairs], method=method)
    test_pairs = [(raw_scores[(r.volunteer_id, r.outfit_id)], r.rating) for r in split.test.records
                  if r.rating is not None and (r.volunteer_id, r.outfit_id) in raw_scores]
    report = None
    if len(test_pairs) >= 2:
        report = calibration_report([p[0] for p in test_pairs], [p[1] for p in test_pairs], calibrator,
                                    reference_mean=float(np.mean([p[1] for p in pairs])))
    records = []
    for rec in split.train.records:
        raw = raw_scores.get((rec.volunteer_id, rec.outfit_id))
        records.append(rec if raw is None else replace(rec, reaction=float(calibrator.predict(raw))))
    return split.train.with_records(records), calibrator, report


class ContentModel(Protocol):
    """A trainable content-based profile (the attention model): fit on liked/labelled, then score."""

    n_parameters: int

    def fit(self, preferences: np.ndarray, liked: np.ndarray, labelled: np.ndarray) -> Any: ...

    def score_matrix(self, preferences: np.ndarray) -> np.ndarray: ...


def evaluate_recommenders(
    data: Interactions,
    *,
    raw_reaction_scores: Mapping[tuple[str, str], float] | None = None,
    features: np.ndarray | None = None,
    config: EvalConfig = EvalConfig(),
    attention: Callable[[np.ndarray, EvalConfig], ContentModel] | None = None,
) -> EvalResult:
    """Run the protocol above. ``raw_reaction_scores``: (volunteer, outfit) -> ``p_pos - p_neg``;
    ``features``: (n_outfits, D) rows in ``data.outfit_ids`` order (None skips content methods);
    ``attention``: builds the attention model from ``(features, config)`` (None skips it)."""
    split = holdout_split(data, fraction=config.holdout_fraction, seed=config.seed)
    train, calibrator, calib_report = split.train, None, None
    if raw_reaction_scores:
        train, calibrator, calib_report = calibrate_reactions(split, raw_reaction_scores, config.calibration)
    relevant = relevant_sets(split.test, positive_min=config.positive_min)
    has_reactions = any(r.reaction is not None for r in train.records)
    mixed = dict(rating_weight=config.rating_weight, reaction_weight=config.reaction_weight)
    methods: list[MethodResult] = []
    skipped: dict[str, str] = {}
    n_eval = 0
    n_users, n_items = len(train.volunteer_ids), len(train.outfit_ids)

    def add(name: str, scores: np.ndarray, n_params: int | None, note: str = "") -> None:
        nonlocal n_eval
        precision, recall, n_eval = _score_methods(scores, train, relevant, config.ks)
        methods.append(MethodResult(name, precision, recall, n_params, note))

    popularity = PopularityRecommender(build_matrix(train, MatrixConfig(source="both", **mixed)))
    add("Popularity", np.tile(popularity.scores(0), (n_users, 1)), None)
    for source, label in (("ratings", "ALS on ratings"), ("reactions", "ALS on reactions"), ("both", "ALS on both")):
        if source != "ratings" and not has_reactions:
            skipped[label] = "no reaction scores"
            continue
        als = fit_als(build_matrix(train, MatrixConfig(source=source, **mixed)), config.als)
        add(label, als.user_factors @ als.item_factors.T, int(als.user_factors.size + als.item_factors.size),
            f"alpha={config.als.alpha:g}, factors={config.als.factors}")
    if features is None:
        skipped["Attention pooling"] = skipped["Averaging"] = "no outfit features"
    else:
        source = config.content_source if has_reactions else "ratings"
        prefs = build_matrix(train, MatrixConfig(source=source, **mixed)).toarray()
        if config.attention and attention is not None:
            liked = np.zeros((n_users, n_items), np.float32)
            labelled = np.zeros((n_users, n_items), bool)
            uidx, iidx = train.user_index, train.item_index
            for rec in train.records:
                if rec.rating is not None:
                    labelled[uidx[rec.volunteer_id], iidx[rec.outfit_id]] = True
                    liked[uidx[rec.volunteer_id], iidx[rec.outfit_id]] = float(rec.rating >= config.positive_min)
            fit_rows = np.ones(n_users, bool)
            if config.attention_train_volunteers < 1.0:
                rng = np.random.default_rng(config.seed)
                n_fit = max(1, int(round(config.attention_train_volunteers * n_users)))
                fit_rows[:] = False
                fit_rows[rng.permutation(n_users)[:n_fit]] = True
            model = attention(features, config)
            model.fit(prefs[fit_rows], liked[fit_rows], labelled[fit_rows])
            add("Attention pooling (reduced 1-attention)", model.score_matrix(prefs), model.n_parameters,
                f"preferences from {source}; fitted on {int(fit_rows.sum())} of {n_users} volunteers")
        else:
            skipped["Attention pooling"] = "disabled" if not config.attention else "no attention model given (needs torch)"
        add("Averaging", AveragingProfile(features).score_matrix(prefs), 0, f"preferences from {source}")
    return EvalResult(methods, n_users, n_eval, n_items, config, calib_report, calibrator, skipped,
                      bool(data.meta.get("simulated")))
