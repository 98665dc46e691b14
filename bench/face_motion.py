"""Shared by the rigid-motion and tracker benches: generated clips and landmark accuracy figures.

Clips are rendered by ``data.reaction_video`` and written as H.264 MP4 (what the extractor
reads in real use), so the figures include the codec's effect on landmarks and flow.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from data.reaction_video import ReactionSpec, make_reaction_video, reaction_landmarks

# rigid-only head motion: large sway, a 3-D turn held, a brightness ramp; no expression, no blinks
RIGID_MOTION = dict(head_shift_px=40.0, head_roll_deg=12.0, head_zoom=0.10, brightness_ramp=0.4)


def rigid_spec(face: str, yaw: float, seconds: float, seed: int) -> ReactionSpec:
    """A clip in which only the head moves (±40 px, ±12°, ±10 % zoom, brightness 0.8 -> 1.2)."""
    return ReactionSpec("neutral", duration_s=seconds, seed=seed, blinks=False, face=face, yaw_deg=yaw, **RIGID_MOTION)


def smile_spec(face: str, yaw: float, seconds: float, seed: int) -> ReactionSpec:
    """A full smile (0.5 s ramp from 0.5 s on, then held) on a still head."""
    return ReactionSpec("smile", duration_s=seconds, seed=seed, onset_s=0.5, ramp_s=0.5, blinks=False,
                        head_motion=False, face=face, yaw_deg=yaw)


def face_parser(description: str) -> argparse.ArgumentParser:
    """The benches' shared options: which faces, head turns, clip length and seed."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--faces", nargs="+", default=None, help="default: every offline face")
    parser.add_argument("--yaws", type=float, nargs="+", default=[0.0, 15.0, 30.0])
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--seed", type=int, default=0)
    return parser


def chosen_faces(args: argparse.Namespace) -> list[str]:
    """The faces asked for, else every offline face; OpenCV kept to one thread (one bench process per core)."""
    import cv2

    from data.faces import available_faces

    cv2.setNumThreads(1)
    return args.faces or available_faces()


def write_clip(spec: ReactionSpec, folder: Path, name: str) -> Path:
    return make_reaction_video(folder / f"{name}.mp4", spec)


def _iod(points: np.ndarray) -> np.ndarray:
    return np.linalg.norm(points[..., 36:42, :].mean(-2) - points[..., 42:48, :].mean(-2), axis=-1)


def landmark_error(points: np.ndarray, found: np.ndarray, spec: ReactionSpec) -> float:
    """Mean distance of the tracked points to the generator's, in inter-ocular distances (found frames)."""
    truth = reaction_landmarks(spec)
    if not found.any():
        return float("nan")
    dist = np.linalg.norm(points[found] - truth[found], axis=2).mean(1)
    return float((dist / _iod(truth[found])).mean())


def landmark_jitter(points: np.ndarray, found: np.ndarray, spec: ReactionSpec) -> float:
    """Mean frame-to-frame change of the landmark error (tracked - truth), in inter-ocular distances.

    The truth's own motion cancels, so this is the tracker's jitter whatever the head and
    face do; pairs with a lost frame are left out.
    """
    truth = reaction_landmarks(spec)
    error = points - truth
    pair = found[1:] & found[:-1]
    if not pair.any():
        return float("nan")
    step = np.linalg.norm(error[1:] - error[:-1], axis=2).mean(1)
    return float((step[pair] / _iod(truth[1:][pair])).mean())
