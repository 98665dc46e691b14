"""Settings of the collection app (the defaults; ``core/settings.py`` fills them from ``IPE_*`` variables)."""
from __future__ import annotations

from dataclasses import dataclass, field

from core.store.reservations import RESERVATION_S


@dataclass(frozen=True)
class CollectionConfig:
    outfits_per_session: int = 15  # IPE_OUTFITS_PER_SESSION
    max_record_seconds: float = 10.0  # IPE_MAX_RECORD_SECONDS: media time, not wall time
    min_record_seconds: float = 1.5  # IPE_MIN_RECORD_SECONDS: shorter takes are stored as "short"
    video_size: tuple[int, int] = (640, 480)  # every stored video is normalised to this
    video_fps: int = 30  # ... and to this constant frame rate
    # IPE_VIDEO_PRESET: libx264's effort when writing them (same container, codec, size and rate;
    # faster presets cost the server less CPU per take and make larger files; bench/bench_normalise.py)
    video_preset: str = "veryfast"
    retention: str = "2 years"  # IPE_RETENTION: stated in the consent text
    age_bands: tuple[str, ...] = ("18-24", "25-34", "35-44", "45-54", "55-64", "65+", "prefer not to say")
    genders: tuple[str, ...] = ("female", "male", "non-binary", "prefer not to say")
    extra_fields: tuple[str, ...] = field(default_factory=tuple)  # IPE_PROFILE_FIELDS: JSON list of labels
    research_mode: str = "off"  # IPE_RESEARCH_MODE: "recommender" orders a returning volunteer's outfits
    self_view: bool = False  # IPE_SELF_VIEW: show the volunteer their own camera picture during takes
    language: str = "en"  # IPE_LANGUAGE: the catalogue of the volunteer pages' text (annotation/locales)
    capture: str = "webrtc"  # IPE_CAPTURE: "webrtc" (live, lab stations) or "browser" (recorded in the browser)
    camera_stall_s: float = 8.0  # IPE_CAMERA_STALL_S: no frames this long after the camera starts -> reconnect
    # IPE_RESERVATION_S: an open session's planned outfits stay reserved this long after it started or
    # last stored a view (core/store/reservations.py), so servers planning at once hand out others
    reservation_s: float = RESERVATION_S
