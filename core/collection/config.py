"""Settings of the collection app, from environment variables (documented in the README)."""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field

from core.errors import SettingsError


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
    def from_env(cls, env: dict[str, str] | None = None) -> "CollectionConfig":
        """The defaults above, overridden by the ``IPE_*`` variables that are set; a bad value is a
        :class:`core.errors.SettingsError` that names the variable."""
        env = dict(os.environ if env is None else env)
        values: dict[str, object] = {}
        for name, (var, parse) in _ENV.items():
            if env.get(var, "").strip():
                try:
                    values[name] = parse(env[var])
                except (ValueError, TypeError) as err:
                    raise SettingsError(f"{var}={env[var]!r} is not valid: {err}") from err
        return cls(**values)


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise ValueError("must be a whole number >= 1")
    return value


def _seconds(text: str) -> float:
    value = float(text)
    if not 0 < value <= 600:
        raise ValueError("must be a number of seconds in (0, 600]")
    return value


def _labels(text: str) -> tuple[str, ...]:
    value = json.loads(text)
    if not isinstance(value, list):
        raise ValueError('must be a JSON list of labels, e.g. ["height", "favourite colour"]')
    return tuple(str(x) for x in value)


def _research_mode(text: str) -> str:
    if text not in ("off", "recommender"):
        raise ValueError("must be 'off' or 'recommender'")
    return text


# field -> (environment variable, parser)
_ENV = {
    "outfits_per_session": ("IPE_OUTFITS_PER_SESSION", _positive_int),
    "max_record_seconds": ("IPE_MAX_RECORD_SECONDS", _seconds),
    "min_record_seconds": ("IPE_MIN_RECORD_SECONDS", _seconds),
    "retention": ("IPE_RETENTION", str),
    "extra_fields": ("IPE_PROFILE_FIELDS", _labels),
    "research_mode": ("IPE_RESEARCH_MODE", _research_mode),
}
