"""Landmarks for every frame without running the face detector on every frame.

The detector (~24 ms at 640x480 for dlib's HOG) runs on the first frame and then every
``redetect_every`` frames; in between, the face box is carried from the previous frame's
landmarks (~4 ms per frame for dlib's 68 points). The carried box keeps the detector's
geometry: when a detection happens we remember how the detector's box sits relative to the
landmarks' bounding box and apply the same relation later, so the shape predictor always
sees the kind of box it was trained on.

Fit quality is checked on every tracked frame (:func:`fit_residual`): the 68 points are
aligned to the canonical face by a similarity and the RMS residual is divided by the
canonical inter-ocular distance. Real faces, expressions included, stay below ~0.06 (measured
on the generated smile/frown/surprise videos); the predictor run on background, a blank frame
or noise gives 0.09-0.21. When the residual exceeds ``max_residual`` (0.08) or the face's
size jumps by more than ``max_scale_jump`` between frames, the detector runs at once on that
frame instead of waiting for the schedule.

A face is *lost* when a detection finds none; frames are then flagged
(``found[i] = False``, landmarks left at 0) and the detector runs every
``lost_redetect_every`` frames (default 3: a face coming back is picked up within 0.1 s at
30 fps, and long face-less stretches cost a third of the detector time) until the face is back.
Backends accept RGB or grey frames; the extractor passes grey (dlib is ~25 % faster on it). The descriptor turns pairs involving such frames into zero rows with
``flow_valid = False`` (``core/reaction/descriptor.py``).
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from core.reaction.alignment import apply_transform, canonical_shape, inter_ocular, similarity_transform
from core.reaction.landmarks import FaceBox, LandmarkBackend

_CANON = canonical_shape(112)
_CANON_IOD = inter_ocular(_CANON)


@dataclass
class TrackStats:
    detections: int = 0
    landmark_fits: int = 0
    lost_frames: int = 0
    redetect_switches: int = 0
    degraded_fits: int = 0
    timings_s: dict[str, float] = field(default_factory=lambda: {"detect": 0.0, "landmarks": 0.0})


def fit_residual(points: np.ndarray) -> float:
    """RMS distance of the points to the canonical shape after similarity alignment, in inter-ocular units."""
    m = similarity_transform(points, _CANON)
    return float(np.sqrt(((apply_transform(m, points) - _CANON) ** 2).sum(1).mean()) / _CANON_IOD)


def _relation(det: FaceBox, points: np.ndarray) -> tuple[float, float, float, float]:
    lb = FaceBox.around(points)
    w, h = max(lb.width, 1.0), max(lb.height, 1.0)
    return ((det.left - lb.left) / w, (det.top - lb.top) / h, (det.right - lb.right) / w, (det.bottom - lb.bottom) / h)


def _apply(rel: tuple[float, float, float, float], points: np.ndarray) -> FaceBox:
    lb = FaceBox.around(points)
    w, h = lb.width, lb.height
    return FaceBox(lb.left + rel[0] * w, lb.top + rel[1] * h, lb.right + rel[2] * w, lb.bottom + rel[3] * h)


class FaceTracker:
    """Frame-by-frame tracking state; :func:`track_landmarks` runs it over a whole clip."""

    def __init__(self, backend: LandmarkBackend, *, redetect_every: int = 15, upsample: int = 0,
                 min_iou: float = 0.3, max_residual: float = 0.08, max_scale_jump: float = 0.25,
                 lost_redetect_every: int = 3) -> None:
        self.backend = backend
        self.redetect_every = redetect_every
        self.upsample = upsample
        self.min_iou = min_iou
        self.max_residual = max_residual
        self.max_scale_jump = max_scale_jump
        self.lost_redetect_every = max(1, lost_redetect_every)
        self._lost_run = 0
        self.stats = TrackStats()
        self._box: FaceBox | None = None
        self._rel: tuple[float, float, float, float] | None = None
        self._since_detect = 0
        self._prev_size: float | None = None

    def _detect(self, frame: np.ndarray) -> None:
        stats = self.stats
        t = time.process_time()
        boxes = self.backend.detect(frame, self.upsample)
        stats.timings_s["detect"] += time.process_time() - t
        stats.detections += 1
        self._since_detect = 0
        self._rel = None
        if boxes:
            det = boxes[0]
            if self._box is not None and det.iou(self._box) < self.min_iou:
                stats.redetect_switches += 1  # the tracker drifted or another face is larger
            self._box = det
        else:
            self._box = None
            self._prev_size = None

    def _fit(self, frame: np.ndarray) -> np.ndarray:
        t = time.process_time()
        points = self.backend.landmarks(frame, self._box)
        self.stats.timings_s["landmarks"] += time.process_time() - t
        self.stats.landmark_fits += 1
        return points

    def _degraded(self, points: np.ndarray) -> bool:
        size = float(np.linalg.norm(points.max(0) - points.min(0)))
        jump = self._prev_size is not None and abs(size / max(self._prev_size, 1e-6) - 1) > self.max_scale_jump
        return jump or fit_residual(points) > self.max_residual

    def step(self, frame: np.ndarray) -> np.ndarray | None:
        """The (68, 2) landmarks of this frame's face, or None when there is none."""
        if self._box is None and self._lost_run % self.lost_redetect_every:
            self._lost_run += 1  # lost: only every lost_redetect_every-th frame runs the detector
            self.stats.lost_frames += 1
            return None
        detected = self._box is None or self._since_detect >= self.redetect_every
        if detected:
            self._detect(frame)
        if self._box is None:
            self._lost_run += 1
            self.stats.lost_frames += 1
            return None
        self._lost_run = 0
        points = self._fit(frame)
        if not detected and self._degraded(points):
            self.stats.degraded_fits += 1
            self._detect(frame)
            if self._box is None:
                self._lost_run += 1
                self.stats.lost_frames += 1
                return None
            points = self._fit(frame)
        if self._rel is None:
            self._rel = _relation(self._box, points)
        self._box = _apply(self._rel, points)
        self._prev_size = float(np.linalg.norm(points.max(0) - points.min(0)))
        self._since_detect += 1
        return points


def track_landmarks(
    frames: np.ndarray | list[np.ndarray],
    backend: LandmarkBackend,
    *,
    redetect_every: int = 15,
    upsample: int = 0,
    min_iou: float = 0.3,
    max_residual: float = 0.08,
    lost_redetect_every: int = 3,
) -> tuple[np.ndarray, np.ndarray, TrackStats]:
    """``(landmarks (T, 68, 2) float32, found (T,) bool, stats)``; rows of lost frames are 0."""
    tracker = FaceTracker(backend, redetect_every=redetect_every, upsample=upsample, min_iou=min_iou,
                          max_residual=max_residual, lost_redetect_every=lost_redetect_every)
    n = len(frames)
    out = np.zeros((n, 68, 2), np.float32)
    found = np.zeros(n, bool)
    for i in range(n):
        points = tracker.step(frames[i])
        if points is not None:
            out[i] = points
            found[i] = True
    return out, found, tracker.stats
