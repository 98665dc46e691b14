"""Per-view PLM-IPE class probabilities for the recommender, from a trained run and the feature cache.

:func:`view_reaction_probabilities` loads a run (``models/predict.load_reaction_run``), reads the
cached features of every recorded view (``python -m app extract`` fills the cache) and returns
``view_id -> [p_negative, p_neutral, p_positive]`` of the run's primary head, plus the views it
could not score (no recording, or features not extracted yet). ``core/reaction_calibration``
turns these into reaction scores in rating units. Imports torch (through models/predict).
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from core.errors import IPEError


def view_reaction_probabilities(
    store: Any, run_folder: str | Path, *, feature_config: Any = None, head: str | None = None,
) -> tuple[dict[str, list[float]], list[str]]:
    """``(probabilities by view_id, view_ids without cached features or video)`` for every ok view."""
    from core.reaction.descriptor import FeatureConfig
    from core.reaction.feature_cache import load_cached
    from models.training.predict import load_reaction_run

    predictor = load_reaction_run(run_folder)
    config = feature_config or FeatureConfig()
    probs: dict[str, list[float]] = {}
    missing: list[str] = []
    for view in store.list_views(status="ok"):
        sha = view.get("video_sha256")
        features = load_cached(store.home, sha, config) if sha else None
        if features is None:
            missing.append(str(view["view_id"]))
            continue
        out = predictor.predict(features)
        chosen = out.get(head) if head else out.get("fused")
        if chosen is None:
            raise IPEError(f"the run in {run_folder} has no {head!r} head; use one of "
                           f"{[k for k, v in out.items() if v is not None and k != 'clip_probs']}")
        probs[str(view["view_id"])] = [float(p) for p in chosen]
    if not probs and missing:
        raise IPEError(f"none of the {len(missing)} recorded views has cached features for this extractor setting; "
                       "run `python -m app extract` first")
    return probs, missing


def write_view_probabilities(path: str | Path, probs: dict[str, list[float]]) -> Path:
    """The JSON that ``python -m app recommend-eval --reactions`` reads."""
    path = Path(path)
    path.write_text(json.dumps(probs, indent=1))
    return path
