"""Explicit ratings (0–100) to the three reaction classes.

The PLM-IPE paper splits SentiGarment into negative / neutral / positive by the score but
gives no thresholds. Our default treats the slider's middle fifth-and-a-bit as neutral:
``score <= 40`` negative, ``41..59`` neutral, ``score >= 60`` positive. Why: the slider
starts at 50, so scores near it mostly mean "no strong opinion"; a band of +-10 around the
midpoint keeps the neutral class the smallest (as in the paper: 842 neutral vs 1,334
positive and 1,169 negative) without making it empty. The thresholds are configurable
and are stored with every split and trained run, so results always say which were used.
"""
from __future__ import annotations

from dataclasses import dataclass

CLASS_NAMES: tuple[str, str, str] = ("negative", "neutral", "positive")  # reaction classes
PREFERENCE_CLASSES: tuple[str, str] = ("not_preferred", "preferred")  # a labeler's answers
NEGATIVE, NEUTRAL, POSITIVE = 0, 1, 2


@dataclass(frozen=True)
class LabelThresholds:
    """``score <= negative_max`` is negative, ``score >= positive_min`` positive, else neutral."""

    negative_max: int = 40
    positive_min: int = 60

    def __post_init__(self) -> None:
        if not 0 <= self.negative_max < self.positive_min <= 100:
            raise ValueError(
                f"need 0 <= negative_max < positive_min <= 100, got {self.negative_max} and {self.positive_min}"
            )

    def as_dict(self) -> dict[str, int]:
        return {"negative_max": self.negative_max, "positive_min": self.positive_min}


def score_to_class(score: float, thresholds: LabelThresholds = LabelThresholds()) -> int:
    """0 negative, 1 neutral, 2 positive. Scores outside 0..100 are an error."""
    if isinstance(score, bool) or not 0 <= score <= 100:
        raise ValueError(f"a rating is between 0 and 100, not {score!r}")
    if score <= thresholds.negative_max:
        return NEGATIVE
    if score >= thresholds.positive_min:
        return POSITIVE
    return NEUTRAL


def class_name(score: float, thresholds: LabelThresholds = LabelThresholds()) -> str:
    return CLASS_NAMES[score_to_class(score, thresholds)]
