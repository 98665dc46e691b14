"""Feature cache: extracted features keyed by the video's content hash and the extractor.

Files live under ``<home>/features/<extractor>/<config key>/<sha[:2]>/<sha>.npz``; the
config key holds the extractor version and a hash of every setting, so changing either
recomputes. Each file is written under a temporary name and renamed; the store (when
given) gets a ``feature_cache`` row after the file exists. A failed extraction (unreadable
video, no face) writes nothing.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, TYPE_CHECKING

from core.reaction.descriptor import EXTRACTOR, FeatureConfig, ReactionFeatures, extract_features
from core.paths import DataHome
from core.files import atomic_writer, sha256_file

if TYPE_CHECKING:
    from core.store import Store


def cache_path(home: DataHome, video_sha256: str, config: FeatureConfig) -> Path:
    return home.features / EXTRACTOR / config.key() / video_sha256[:2] / f"{video_sha256}.npz"


def load_cached(home: DataHome, video_sha256: str, config: FeatureConfig) -> ReactionFeatures | None:
    path = cache_path(home, video_sha256, config)
    return ReactionFeatures.load(path) if path.is_file() else None


def compute_to_cache(home: DataHome, video: str | Path, config: FeatureConfig, video_sha256: str | None = None) -> tuple[Path, dict]:
    """Extract and write the cache file (no store access: safe in worker processes)."""
    sha = video_sha256 or sha256_file(video)
    path = cache_path(home, sha, config)
    if path.is_file():
        return path, {"cached": True}
    features = extract_features(video, config)  # raises before anything is written
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_writer(path) as handle:
        features.save(handle)
    return path, {"cached": False, **{k: v for k, v in features.meta.items() if k != "config"}}


def get_features(
    home: DataHome, video: str | Path, config: FeatureConfig = FeatureConfig(), *, store: Any = None,
    video_sha256: str | None = None,
) -> tuple[ReactionFeatures, bool]:
    """``(features, was_cached)``; computes and caches on a miss."""
    sha = video_sha256 or sha256_file(video)
    cached = load_cached(home, sha, config)
    if cached is not None:
        return cached, True
    path, meta = compute_to_cache(home, video, config, sha)
    if store is not None:
        register(store, sha, config, path, meta)
    return ReactionFeatures.load(path), False


def register(store: Store, video_sha256: str, config: FeatureConfig, path: Path, meta: dict) -> None:
    rel = os.path.relpath(path, store.home.root)
    store.put_feature_cache(video_sha256=video_sha256, extractor=EXTRACTOR, version=config.key(), path=rel, meta=meta)
