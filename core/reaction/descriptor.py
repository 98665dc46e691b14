"""The landmark-level descriptor of PLM-IPE §3.3 (MDMO-style) and the full feature extraction.

Per pair of consecutive frames:

1. both faces are aligned to the canonical shape (``core/reaction/alignment.py``) in a
   ``face_size`` x ``face_size`` grey crop, so rigid head motion does not dominate. The
   similarity is fitted on points that expressions barely move (``RIGID``: eye corners,
   nose, top of the jaw line) and smoothed over time (``align_smoothing``: each frame's
   transform is blended with the previous one), because dlib's per-frame landmark jitter
   (~0.25 px in the crop) is as large as a smile's motion per frame;
2. dense Farneback flow between the two crops (parameters in :class:`FeatureConfig`);
3. for each of the 36 regions (``core/reaction/face_regions.py``, drawn from the earlier frame's
   aligned landmarks) the flow vectors are binned by direction into ``bins`` sectors of
   360°, the dominant sector (most vectors) is kept and its vectors averaged: the mean
   vector's direction is the region's **orientation** and its length its **magnitude**.

Normalisation (``FeatureConfig.magnitude_norm``):
- orientation: angle / 2π, in [0, 1) (0 = towards the crop's right, 0.25 = down);
- magnitude ``"iod"`` (default): length / canonical inter-ocular distance x
  ``magnitude_scale`` (10), so 1.0 means 10 % of the eye distance per frame, comparable
  across faces and videos; ``"max"``: divided by the frame's largest region magnitude, as
  in MDMO's code (loses absolute speed; kept as an option).

Frames without a face: a pair where either frame has no face gives a row of zeros and
``flow_valid = False``; the LSTM sees the zeros and the mask (``models/reaction/lbe.py``).
"""
from __future__ import annotations

import hashlib
import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import cv2
import numpy as np

from core.reaction.alignment import canonical_shape, inter_ocular, similarity_transform, apply_transform
from core.errors import NoFaceError
from core.reaction.face_regions import N_REGIONS, region_label_map

EXTRACTOR = "plm-ipe-features"
# points that move little with expressions: top of the jaw line, nose bridge and base, eye corners
RIGID = np.r_[0, 1, 15, 16, 27:36, 36, 39, 42, 45]
EXTRACTOR_VERSION = "2"  # 2: grey luma input to landmarks/flow, fit-quality re-detection


@dataclass(frozen=True)
class FeatureConfig:
    backend: str = "dlib"
    face_size: int = 112
    redetect_every: int = 30
    lost_redetect_every: int = 3
    # Farneback: pyr_scale, levels, winsize, iterations, poly_n, poly_sigma (OpenCV's names)
    pyr_scale: float = 0.5
    levels: int = 3
    winsize: int = 9
    iterations: int = 3
    poly_n: int = 5
    poly_sigma: float = 1.1
    align_smoothing: float = 0.6  # weight of the previous frame's transform (damps landmark jitter)
    bins: int = 8
    magnitude_norm: str = "iod"
    magnitude_scale: float = 10.0
    clip_len: int = 16
    clip_size: int = 112
    clip_mode: str = "face"  # "face": face-centred square crop; "full": centre square of the frame
    clip_margin: float = 1.8  # face crop side / landmark box side
    max_seconds: float | None = 30.0

    def key(self) -> str:
        """Name + version + a hash of every setting: the cache key of the extractor."""
        digest = hashlib.sha256(json.dumps(asdict(self), sort_keys=True).encode()).hexdigest()[:10]
        return f"v{EXTRACTOR_VERSION}-{digest}"


@dataclass
class ReactionFeatures:
    landmarks: np.ndarray  # (T, 68, 2) float32, frame pixels; zeros where no face
    face_found: np.ndarray  # (T,) bool
    flow72: np.ndarray  # (T-1, 72) float32: 36 orientations then 36 magnitudes
    flow_valid: np.ndarray  # (T-1,) bool
    clips: np.ndarray  # (N, 16, 112, 112, 3) uint8 RGB
    timestamps_s: np.ndarray  # (T,) float64
    fps: float
    meta: dict = field(default_factory=dict)

    def save(self, path) -> None:  # a path or a binary file object
        np.savez(
            path, landmarks=self.landmarks, face_found=self.face_found, flow72=self.flow72,
            flow_valid=self.flow_valid, clips=self.clips, timestamps_s=self.timestamps_s,
            fps=np.array(self.fps), meta=np.array(json.dumps(self.meta)),
        )

    @classmethod
    def load(cls, path: Path) -> "ReactionFeatures":
        with np.load(path, allow_pickle=False) as data:
            return cls(
                data["landmarks"], data["face_found"], data["flow72"], data["flow_valid"], data["clips"],
                data["timestamps_s"], float(data["fps"]), json.loads(str(data["meta"])),
            )


def region_flow(flow: np.ndarray, labels: np.ndarray, bins: int = 8) -> tuple[np.ndarray, np.ndarray]:
    """Per region: (orientation in [0, 1), magnitude in pixels) of the dominant-direction mean flow."""
    u = flow[..., 0].ravel()
    v = flow[..., 1].ravel()
    lab = labels.ravel()
    angle = np.mod(np.arctan2(v, u), 2 * np.pi)
    sector = np.minimum((angle / (2 * np.pi) * bins).astype(np.int64), bins - 1)
    idx = lab.astype(np.int64) * bins + sector
    size = (N_REGIONS + 1) * bins
    counts = np.bincount(idx, minlength=size).reshape(N_REGIONS + 1, bins)[1:]
    su = np.bincount(idx, weights=u, minlength=size).reshape(N_REGIONS + 1, bins)[1:]
    sv = np.bincount(idx, weights=v, minlength=size).reshape(N_REGIONS + 1, bins)[1:]
    best = counts.argmax(1)
    rows = np.arange(N_REGIONS)
    n = np.maximum(counts[rows, best], 1)
    mu, mv = su[rows, best] / n, sv[rows, best] / n
    orientation = np.mod(np.arctan2(mv, mu), 2 * np.pi) / (2 * np.pi)
    magnitude = np.hypot(mu, mv)
    empty = counts.sum(1) == 0
    orientation[empty] = 0.0
    magnitude[empty] = 0.0
    return orientation.astype(np.float32), magnitude.astype(np.float32)


class FlowState:
    """Streaming computation of the descriptor: push frames one by one."""

    def __init__(self, config: FeatureConfig = FeatureConfig(), timings: dict[str, float] | None = None) -> None:
        self.config = config
        self.canon = canonical_shape(config.face_size)
        self.iod = inter_ocular(self.canon)
        self.timings = timings if timings is not None else {}
        self._prev_crop: np.ndarray | None = None
        self._prev_pts: np.ndarray | None = None
        self._prev_m: np.ndarray | None = None

    def push(self, frame: np.ndarray, points: np.ndarray | None) -> np.ndarray | None:
        """The 72 numbers for (previous frame -> this frame), or None when either lacks a face."""
        config, timings, size = self.config, self.timings, self.config.face_size
        if points is None:
            self._prev_crop = self._prev_pts = self._prev_m = None
            return None
        t = time.process_time()
        m = similarity_transform(points[RIGID], self.canon[RIGID])
        if self._prev_m is not None and config.align_smoothing > 0:
            m = (1 - config.align_smoothing) * m + config.align_smoothing * self._prev_m
        self._prev_m = m
        gray = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY) if frame.ndim == 3 else frame
        crop = cv2.warpAffine(gray, m, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        pts = apply_transform(m, points)
        timings["align"] = timings.get("align", 0.0) + time.process_time() - t
        row = None
        if self._prev_crop is not None:
            t = time.process_time()
            flow = cv2.calcOpticalFlowFarneback(
                self._prev_crop, crop, None, config.pyr_scale, config.levels, config.winsize, config.iterations,
                config.poly_n, config.poly_sigma, 0,
            )
            t2 = time.process_time()
            labels = region_label_map(self._prev_pts, (size, size))
            orientation, magnitude = region_flow(flow, labels, config.bins)
            if config.magnitude_norm == "max":
                magnitude = magnitude / max(float(magnitude.max()), 1e-6)
            else:
                magnitude = magnitude / self.iod * config.magnitude_scale
            row = np.concatenate([orientation, magnitude]).astype(np.float32)
            timings["flow"] = timings.get("flow", 0.0) + t2 - t
            timings["regions"] = timings.get("regions", 0.0) + time.process_time() - t2
        self._prev_crop, self._prev_pts = crop, pts
        return row


def flow_descriptor(
    frames: np.ndarray, landmarks: np.ndarray, found: np.ndarray, config: FeatureConfig = FeatureConfig(),
    timings: dict[str, float] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """``(flow72 (T-1, 72), valid (T-1,))`` from frames and their landmarks."""
    n = len(frames)
    state = FlowState(config, timings)
    out = np.zeros((max(n - 1, 0), 2 * N_REGIONS), np.float32)
    valid = np.zeros(max(n - 1, 0), bool)
    for i in range(n):
        row = state.push(frames[i], landmarks[i] if found[i] else None)
        if row is not None:
            out[i - 1] = row
            valid[i - 1] = True
    return out, valid


def extract_features(path: str | Path, config: FeatureConfig = FeatureConfig()) -> ReactionFeatures:
    """Decode, track landmarks, compute the 72-d flow descriptor and the C3D clips of a video.

    Streams: only the current 16-frame clip is held in memory. Raises :class:`MediaError`
    for unreadable files and :class:`NoFaceError` when no frame has a face.
    ``meta["timings_s"]`` holds the CPU time spent per stage (process CPU seconds, so the
    breakdown stays meaningful on a shared, loaded machine).
    """
    from core.reaction.clips import make_clips
    from core.reaction.landmarks import get_backend
    from core.reaction.tracking import FaceTracker
    from core.reaction.video import iter_frames_gray

    timings: dict[str, float] = {"decode": 0.0}
    tracker = FaceTracker(get_backend(config.backend), redetect_every=config.redetect_every,
                          lost_redetect_every=config.lost_redetect_every)
    state = FlowState(config, timings)
    landmarks: list[np.ndarray] = []
    found: list[bool] = []
    rows: list[np.ndarray] = []
    valid: list[bool] = []
    times: list[float] = []
    clips: list[np.ndarray] = []
    buffer: list[np.ndarray] = []
    nominal = 30.0
    zero_pts = np.zeros((68, 2), np.float32)
    zero_row = np.zeros(2 * N_REGIONS, np.float32)
    shape = (0, 0)
    t = time.process_time()
    for frame, gray, ts, _nominal in iter_frames_gray(path):
        timings["decode"] += time.process_time() - t
        if config.max_seconds is not None and times and ts - times[0] >= config.max_seconds:
            break
        shape = frame.shape[:2]
        points = tracker.step(gray)
        row = state.push(gray, points)
        if times:
            rows.append(row if row is not None else zero_row)
            valid.append(row is not None)
        times.append(ts)
        landmarks.append(points if points is not None else zero_pts)
        found.append(points is not None)
        buffer.append(frame)
        if len(buffer) == config.clip_len:
            t2 = time.process_time()
            k = len(landmarks) - config.clip_len
            clips.append(make_clips(np.stack(buffer), np.stack(landmarks[k:]), np.array(found[k:]), config)[0])
            timings["clips"] = timings.get("clips", 0.0) + time.process_time() - t2
            buffer.clear()
        t = time.process_time()
    timings.update(tracker.stats.timings_s)
    found_arr = np.array(found, bool)
    if not found_arr.any():
        raise NoFaceError(
            f"{path}: no face found in any of {len(found)} frames; the volunteer may have been out "
            "of view or the camera covered"
        )
    ts_arr = np.asarray(times, np.float64) - times[0]
    fps = (len(ts_arr) - 1) / ts_arr[-1] if len(ts_arr) > 1 and ts_arr[-1] > 0 else nominal
    clip_arr = np.stack(clips) if clips else np.zeros((0, config.clip_len, config.clip_size, config.clip_size, 3), np.uint8)
    meta = {
        "extractor": EXTRACTOR, "version": EXTRACTOR_VERSION, "config_key": config.key(), "config": asdict(config),
        "frames": len(found), "faces_found": int(found_arr.sum()), "detections": tracker.stats.detections,
        "width": int(shape[1]), "height": int(shape[0]),
        "timings_s": {k: round(v, 4) for k, v in timings.items()},
    }
    return ReactionFeatures(
        np.stack(landmarks), found_arr, np.array(rows, np.float32).reshape(-1, 2 * N_REGIONS), np.array(valid, bool),
        clip_arr, ts_arr, float(fps), meta,
    )
