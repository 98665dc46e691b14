"""Settings of the collection app, from environment variables (documented in the README)."""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field


@dataclass(frozen=True)
class CollectionConfig:
    outfits_per_session: int = 15  # IPE_OUTFITS_PER_SESSION
    max_record_seconds: float = 10.0  # IPE_MAX_RECORD_SECONDS: media time, not wall time
    min_record_seconds: float = 1.5  # IPE_MIN_RECORD_SECONDS: shorter takes are stored as "short"
    video_size: tuple[int, int] = (640, 480)  # every stored video is normalised to this
    video_fps: int = 30  # ... and to this constant frame rate
    retention: str = "2 years"  # IPE_RETENTION: stated in the consent text
    age_bands: tuple[str, ...] = ("18-24", "25-34", "35-44", "45-54", "55-64", "65+", "prefer not to say")
    genders: tuple[str, ...] = ("female", "male", "non-binary", "prefer not to say")
    extra_fields: tuple[str, ...] = field(default_factory=tuple)  # IPE_PROFILE_FIELDS: JSON list of labels
    research_mode: str = "off"  # IPE_RESEARCH_MODE: "recommender" orders a returning volunteer's outfits

    @classmethod
    def from_env(cls) -> "CollectionConfig":
        env = os.environ
        extra = env.get("IPE_PROFILE_FIELDS")
        fields = tuple(str(x) for x in json.loads(extra)) if extra else ()
        return cls(
            outfits_per_session=int(env.get("IPE_OUTFITS_PER_SESSION", 15)),
            max_record_seconds=float(env.get("IPE_MAX_RECORD_SECONDS", 10.0)),
            min_record_seconds=float(env.get("IPE_MIN_RECORD_SECONDS", 1.5)),
            retention=env.get("IPE_RETENTION", "2 years"),
            extra_fields=fields,
            research_mode=env.get("IPE_RESEARCH_MODE", "off"),
        )
