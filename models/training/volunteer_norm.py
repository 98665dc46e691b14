"""Per-volunteer normalisation of the 72-d flow descriptor (an option; the paper has none).

Why: the descriptor of a face that does nothing is not zero, and it differs from face to face:
landmark jitter, skin texture and image sharpness put a face-specific level of small motion
into every region, and the region layout follows the face's shape. A model trained on a few
faces can learn those levels as if they were reactions and then misread a new face: with the
synthetic set's held-out volunteers re-rendered on real faces never seen, the LBE fell from 0.74
to 0.47. Measured on the SYNTHETIC set itself (docs/synthetic_faces.md) this option did not raise
unseen-face accuracy (LBE 0.736 either way, 3 seeds; macro-F1 0.55 -> 0.67), so it is off by
default; it is there to be tried on real volunteers.

What ``volunteer_norm="baseline"`` does: every video's steps are standardised per channel with
its volunteer's **baseline**, the mean and standard deviation of the valid steps in the first
``BASELINE_SECONDS`` of each of the volunteer's videos, pooled:
``x' = (x - mean_v) / max(std_v, STD_FLOOR)``.

Why the first second: the video starts when the outfit is shown, and a reaction takes a
latency to begin (the paper's volunteers, and the synthetic generator's 0.15-0.9 s onsets), so
the first second is mostly the face at rest: what *this* face looks like when nothing is meant.
It needs no label (never the neutral class, which a test volunteer does not have), only the
volunteer's own videos, which a study has for every new volunteer before any rating is read,
and the same rule works for one video alone: at prediction time a video without a known
volunteer is standardised with its own first second (``models/training/predict.py``).
Low-motion frames chosen by magnitude were the other candidate; they depend on where the
threshold falls, and a held smile is as still as a resting face, so they mix both (on the
synthetic set neither did better, docs/synthetic_faces.md).

``STD_FLOOR`` keeps a nearly constant channel (a region dlib never moves, or a baseline of a
few steps) from being blown up; a volunteer with no valid baseline step falls back to all
their valid steps, and one with none at all is left as is.

The option is a field of :class:`models.training.train.TrainConfig`, stored in the run's
config.json and applied by ``train_model`` (train and held-out sets), ``app evaluate`` and the
predictor from the stored config, so a run is always scored the way it was trained.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

VOLUNTEER_NORMS = ("none", "baseline")
BASELINE_SECONDS = 1.0
STD_FLOOR = 0.02


class VolunteerNormFlow(Sequence):
    """Flow sequences standardised on access: ``(flow[i] - mean[i]) / scale[i]``; wraps a list or
    :class:`models.training.npz_arrays.LazyArrays` and stays lazy (pickles as the wrapped sequence
    plus two small arrays)."""

    def __init__(self, flow: Sequence[np.ndarray], mean: np.ndarray, scale: np.ndarray) -> None:
        self.flow, self.mean, self.scale = flow, np.asarray(mean, np.float32), np.asarray(scale, np.float32)

    def __len__(self) -> int:
        return len(self.flow)

    def __getitem__(self, i):  # type: ignore[override]
        from models.training.npz_arrays import read_item

        return ((np.asarray(read_item(self.flow, i), np.float32) - self.mean[i]) / self.scale[i]).astype(np.float32)

    def take(self, indices: Sequence[int]) -> "VolunteerNormFlow":
        from models.training.npz_arrays import take

        idx = list(indices)
        return VolunteerNormFlow(take(self.flow, idx), self.mean[idx], self.scale[idx])


def baseline_statistics(flows: Sequence[np.ndarray], valids: Sequence[np.ndarray], fps: Sequence[float],
                        groups: Sequence[str], seconds: float = BASELINE_SECONDS
                        ) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """``{group: (mean, scale)}`` over the valid steps in the first ``seconds`` of each video of a group."""
    first: dict[str, list[np.ndarray]] = {}
    every: dict[str, list[np.ndarray]] = {}
    for flow, valid, rate, group in zip(flows, valids, fps, groups):
        flow, valid = np.asarray(flow, np.float64), np.asarray(valid, bool)[: len(flow)]
        head = np.arange(len(valid)) < max(1, int(round(seconds * rate)))
        first.setdefault(group, []).append(flow[valid & head])
        every.setdefault(group, []).append(flow[valid])
    out = {}
    for group in every:
        steps = np.concatenate(first[group])
        if not len(steps):
            steps = np.concatenate(every[group])
        if not len(steps):
            continue
        out[group] = (steps.mean(0), np.maximum(steps.std(0), STD_FLOOR))
    return out


def apply_volunteer_norm(fs: Any, mode: str) -> Any:
    """``fs`` (a :class:`models.training.data.FeatureSet`) with its flow standardised per volunteer;
    ``mode="none"`` returns ``fs`` itself."""
    from dataclasses import replace

    from models.training.npz_arrays import read_item

    if mode not in VOLUNTEER_NORMS:
        raise ValueError(f"unknown volunteer normalisation {mode!r}; choose one of {', '.join(VOLUNTEER_NORMS)}")
    if mode == "none" or len(fs) == 0:
        return fs
    if isinstance(fs.flow, VolunteerNormFlow):
        raise ValueError("the flow is already standardised per volunteer")
    flows = [read_item(fs.flow, i) for i in range(len(fs))]
    stats = baseline_statistics(flows, fs.flow_valid, fs.fps, fs.volunteers)
    dim = flows[0].shape[1] if flows[0].ndim == 2 else 72
    identity = (np.zeros(dim), np.ones(dim))
    mean = np.stack([stats.get(v, identity)[0] for v in fs.volunteers])
    scale = np.stack([stats.get(v, identity)[1] for v in fs.volunteers])
    return replace(fs, flow=VolunteerNormFlow(fs.flow, mean, scale))
