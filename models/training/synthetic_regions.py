"""SYNTHETIC descriptor sequences whose class lives in known face regions. Not data: never a result.

Made to check region attributions (``models/training/attribution.py``) against a known answer.

Every region's orientation is uniform noise and its magnitude small noise, as for a still face
under Farneback jitter; a positive video ("smile") adds an upward burst in the four regions
beside the mouth (``mouth_sides``), a negative one ("frown") a downward burst in the six brow
and forehead regions (``brows``), a neutral one nothing. ``permutation`` moves every region's
two channels to another region, to check that attributions follow the signal.
"""
from __future__ import annotations

import numpy as np

from core.reaction.face_regions import GROUPS, N_REGIONS
from models.training.data import FeatureSet

SIGNAL_GROUP = {0: "brows", 2: "mouth_sides"}
DIRECTION = {0: 0.25, 2: 0.75}  # orientation / 360 deg: 0.25 down, 0.75 up (image y grows down)


def region_reactions(per_class: int, seed: int, *, steps: int = 30, burst: int = 8,
                     permutation: np.ndarray | None = None) -> FeatureSet:
    """``per_class`` videos of each class (negative, neutral, positive), ``steps`` descriptor rows each."""
    rng = np.random.default_rng(seed)
    flows, valids, labels = [], [], []
    for label in (0, 1, 2):
        for _ in range(per_class):
            orientation = rng.uniform(0, 1, (steps, N_REGIONS))
            magnitude = np.abs(rng.normal(0.1, 0.05, (steps, N_REGIONS)))
            if label in SIGNAL_GROUP:
                regions = list(GROUPS[SIGNAL_GROUP[label]])
                onset = int(rng.integers(3, steps - burst))
                span = slice(onset, onset + burst)
                orientation[span, regions] = DIRECTION[label] + rng.normal(0, 0.03, (burst, len(regions)))
                magnitude[span, regions] += 0.6 * rng.uniform(0.7, 1.3)
            if permutation is not None:
                orientation, magnitude = orientation[:, permutation], magnitude[:, permutation]
            flow = np.concatenate([orientation, magnitude], axis=1).astype(np.float32)
            valid = rng.uniform(0, 1, steps) > 0.05
            flow[~valid] = 0.0
            flows.append(flow)
            valids.append(valid)
            labels.append(label)
    n = len(labels)
    clips = [np.zeros((1, 16, 4, 4, 3), np.uint8)] * n  # the LBE never reads clips
    return FeatureSet([f"syn-{seed}-{i}" for i in range(n)], [f"syn-v{i % 5}" for i in range(n)], np.array(labels),
                      clips, flows, valids, synthetic=True)
