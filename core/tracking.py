"""Landmarks for every frame without running the face detector on every frame.

The detector (~24 ms at 640x480 for dlib's HOG) runs on the first frame and then every
``redetect_every`` frames; in between, the face box is carried from the previous frame's
landmarks (~4 ms per frame for dlib's 68 points). The carried box keeps the detector's
geometry: when a detection happens we remember how the detector's box sits relative to the
landmarks' bounding box and apply the same relation later, so the shape predictor always
sees the kind of box it was trained on.

A face is *lost* when a scheduled re-detection finds none; frames are then flagged
(``found[i] = False``) and the detector runs on every frame until the face is back.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from core.landmarks import FaceBox, LandmarkBackend


@dataclass
class TrackStats:
    detections: int = 0
    landmark_fits: int = 0
    lost_frames: int = 0
    redetect_switches: int = 0
    timings_s: dict[str, float] = field(default_factory=lambda: {"detect": 0.0, "landmarks": 0.0})


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
                 min_iou: float = 0.3) -> None:
        self.backend = backend
        self.redetect_every = redetect_every
        self.upsample = upsample
        self.min_iou = min_iou
        self.stats = TrackStats()
        self._box: FaceBox | None = None
        self._rel: tuple[float, float, float, float] | None = None
        self._since_detect = 0

    def step(self, frame: np.ndarray) -> np.ndarray | None:
        """The (68, 2) landmarks of this frame's face, or None when there is none."""
        import time

        stats = self.stats
        if self._box is None or self._since_detect >= self.redetect_every:
            t = time.perf_counter()
            boxes = self.backend.detect(frame, self.upsample)
            stats.timings_s["detect"] += time.perf_counter() - t
            stats.detections += 1
            self._since_detect = 0
            if boxes:
                det = boxes[0]
                if self._box is not None and det.iou(self._box) < self.min_iou:
                    stats.redetect_switches += 1  # the tracker drifted or another face is larger
                self._box = det
                self._rel = None
            else:
                self._box = None
        if self._box is None:
            stats.lost_frames += 1
            return None
        t = time.perf_counter()
        points = self.backend.landmarks(frame, self._box)
        stats.timings_s["landmarks"] += time.perf_counter() - t
        stats.landmark_fits += 1
        if self._rel is None:
            self._rel = _relation(self._box, points)
        self._box = _apply(self._rel, points)
        self._since_detect += 1
        return points


def track_landmarks(
    frames: np.ndarray | list[np.ndarray],
    backend: LandmarkBackend,
    *,
    redetect_every: int = 15,
    upsample: int = 0,
    min_iou: float = 0.3,
) -> tuple[np.ndarray, np.ndarray, TrackStats]:
    """``(landmarks (T, 68, 2) float32, found (T,) bool, stats)``; rows of lost frames are 0."""
    tracker = FaceTracker(backend, redetect_every=redetect_every, upsample=upsample, min_iou=min_iou)
    n = len(frames)
    out = np.zeros((n, 68, 2), np.float32)
    found = np.zeros(n, bool)
    for i in range(n):
        points = tracker.step(frames[i])
        if points is not None:
            out[i] = points
            found[i] = True
    return out, found, tracker.stats
