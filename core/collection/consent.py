"""The versioned consent text shown before anything touches the camera.

Change the text -> change ``CONSENT_VERSION``; the version and the time of consent are
stored with every volunteer, so it is always known what each person agreed to.
"""
from __future__ import annotations

CONSENT_VERSION = "2026-11-1"

CONSENT_TEXT = """
**What we record.** While you look at each outfit (at most {max_seconds:g} seconds each), your
webcam records a video of your face, without sound. You also give each outfit a score from 0
to 100. We ask for your age band and gender (you may answer "prefer not to say").

**Why.** To study whether facial reactions tell us how much a person likes what they see, and
to train and evaluate software that estimates this (the PLM-IPE model and its comparisons).

**Software analyses your face.** Programs detect your face, place 68 points on it and measure
how it moves. No one identifies you from it; you are known only by a random volunteer id.

**Where and how long.** Videos and answers are stored on this research machine only (a DuckDB
database and video files), never sent elsewhere by this software. They are kept for the
duration of the study and at most {retention} after it ends, then deleted.

**Withdrawing.** Participation is voluntary. You can stop at any moment. At the end you get a
**withdrawal code**: give it (or your volunteer id) to the researchers and every recording,
answer and anything computed from them is deleted.
"""

CHOICES = {
    "recording": "I agree that my face is recorded while I rate outfits and analysed by software "
    "for this study (required to take part).",
    "training": "My recordings may also be used to train and evaluate models in this research project.",
    "publication": "Still frames of my face may appear in scientific publications.",
}

DEFAULT_RETENTION = "2 years"


def consent_text(max_seconds: float = 10.0, retention: str = DEFAULT_RETENTION) -> str:
    return CONSENT_TEXT.format(max_seconds=max_seconds, retention=retention).strip()
