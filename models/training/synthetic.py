"""SYNTHETIC feature sets for tests and learnability checks. Not data: never report them as results.

Each synthetic video gets tensors shaped like real features with a class-dependent signal on
top of per-volunteer nuisance (brightness, position, motion scale) and noise:

- clips: a grey face-sized disc whose bright "mouth" bar moves up over the clip (positive),
  down (negative) or stays (neutral);
- flow72: orientation (first 36) and magnitude (last 36) per region; the mouth regions (24..27,
  0-based) carry an upward / downward / no motion pattern after an onset frame, the rest noise;
  some frames have no face (``flow_valid`` False, values zero).

``signal`` (0..1) scales how visible the class is; ``make_synthetic_split`` splits by volunteer.
"""
from __future__ import annotations

import numpy as np

from models.training.data import FeatureSet

MOUTH_REGIONS = np.arange(24, 28)


def _clip(rng: np.random.Generator, label: int, size: int, clip_len: int, nuisance: dict, signal: float) -> np.ndarray:
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    cx, cy = size / 2 + nuisance["dx"], size / 2 + nuisance["dy"]
    face = ((xx - cx) ** 2 + (yy - cy) ** 2) < (0.38 * size) ** 2
    direction = {0: 1.0, 1: 0.0, 2: -1.0}[label]  # image y grows downwards: positive moves up
    frames = np.empty((clip_len, size, size, 3), np.float32)
    for t in range(clip_len):
        img = np.full((size, size), nuisance["bg"], np.float32)
        img[face] = nuisance["skin"]
        my = cy + 0.18 * size + direction * signal * 0.3 * size * t / max(1, clip_len - 1)
        bar = (np.abs(yy - my) < max(1.0, size / 24)) & (np.abs(xx - cx) < 0.15 * size)
        img[bar] = 240.0
        frames[t] = img[..., None]
    frames += rng.normal(0, 12, frames.shape)
    return np.clip(frames, 0, 255).astype(np.uint8)


def _flow(rng: np.random.Generator, label: int, steps: int, nuisance: dict, signal: float) -> tuple[np.ndarray, np.ndarray]:
    orient = rng.uniform(0, 1, (steps, 36)).astype(np.float32)
    mag = np.abs(rng.normal(0.1, 0.05, (steps, 36))).astype(np.float32) * nuisance["motion"]
    onset = int(rng.integers(steps // 5, steps // 2 + 1))
    if label != 1:
        angle = 0.25 if label == 2 else 0.75  # up (90 deg) or down (270 deg), as a fraction of 360
        span = slice(onset, min(steps, onset + steps // 2 + 1))
        orient[span, MOUTH_REGIONS] = (1 - signal) * orient[span, MOUTH_REGIONS] + signal * (angle + rng.normal(0, 0.03))
        mag[span, MOUTH_REGIONS] += signal * 1.0 * nuisance["motion"]
    valid = rng.uniform(0, 1, steps) > 0.05
    flow = np.concatenate([orient, mag], axis=1)
    flow[~valid] = 0.0
    return flow, valid


def make_synthetic_set(n_volunteers: int = 12, videos_per_volunteer: int = 9, *, clip_size: int = 32,
                       clip_len: int = 16, clips_per_video: int = 2, flow_steps: int = 24, signal: float = 1.0,
                       seed: int = 0, volunteer_prefix: str = "syn-v") -> FeatureSet:
    """A SYNTHETIC FeatureSet with balanced classes; ``synthetic=True`` marks it."""
    rng = np.random.default_rng(seed)
    ids, vols, labels, clips, flows, valids = [], [], [], [], [], []
    for v in range(n_volunteers):
        nuisance = {"bg": float(rng.uniform(20, 90)), "skin": float(rng.uniform(110, 180)),
                    "dx": float(rng.uniform(-2, 2)), "dy": float(rng.uniform(-2, 2)), "motion": float(rng.uniform(0.7, 1.4))}
        for k in range(videos_per_volunteer):
            label = (k + v) % 3
            ids.append(f"syn-{v:03d}-{k:02d}")
            vols.append(f"{volunteer_prefix}{v:03d}")
            labels.append(label)
            clips.append(np.stack([_clip(rng, label, clip_size, clip_len, nuisance, signal) for _ in range(clips_per_video)]))
            f, fv = _flow(rng, label, flow_steps, nuisance, signal)
            flows.append(f)
            valids.append(fv)
    return FeatureSet(ids, vols, np.array(labels, np.int64), clips, flows, valids, synthetic=True)


def make_synthetic_split(test_volunteers: int = 3, **kw) -> tuple[FeatureSet, FeatureSet]:
    """(train, test) split by volunteer: the last ``test_volunteers`` volunteers are held out."""
    fs = make_synthetic_set(**kw)
    names = sorted(set(fs.volunteers))
    test = set(names[-test_volunteers:])
    return fs.by_volunteers(set(names) - test), fs.by_volunteers(test)
