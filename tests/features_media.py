"""Real test media for the features tests: a generated smile video (astronaut face) and the astronaut's landmarks."""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np
from skimage import data

from data.reaction_video import ReactionSpec, make_reaction_video

SMILE = ReactionSpec("smile", duration_s=2.0, seed=2, onset_s=0.3, ramp_s=0.6, blinks=False)


def smile_video(folder: Path) -> Path:
    """A 2 s, 30 fps, 640x480 H.264 smile reaction (60 frames)."""
    return make_reaction_video(folder / "smile.mp4", SMILE)


@lru_cache(maxsize=1)
def astronaut_landmarks() -> np.ndarray:
    """dlib's 68 points on ``skimage.data.astronaut()``."""
    from core.reaction.landmarks import get_backend

    backend = get_backend("dlib")
    image = data.astronaut()
    return backend.landmarks(image, backend.detect(image, 1)[0])
