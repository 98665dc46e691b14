"""The landmark-level descriptor of PLM-IPE §3.3 (MDMO-style) and the full feature extraction.

The descriptor measures how the face **deforms**, not how the head moves (``docs/descriptor.md``
has the reasons and the measured figures). Per frame t with a face:

1. the frame is aligned to the canonical face (``core/reaction/alignment.py``) in a
   ``face_size`` x ``face_size`` grey crop by a similarity fitted robustly, on this frame's
   own landmarks, to points that expressions barely move (``align_points="stable"``: eye
   corners, nose bridge and nose; a point whose residual is far above the others' is
   dropped and the fit redone);
2. dense Farneback flow from the crop of frame t - k to the crop of frame t, divided by k
   (``flow_step`` k = 4): an expression keeps moving the same way over k frames and adds up,
   while the crops' misalignment from landmark jitter does not, so per frame it shrinks k times;
3. what is left of the head's motion (alignment error from landmark jitter, brightness-driven
   flow) is estimated from the flow in the regions that expressions move least: the temples,
   the nose bridge beside the inner eye corners and the sides of the nose (MDMO regions 7,
   10, 11, 14, 17, 18; :data:`REFERENCE_REGIONS`), as a similarity fitted by iteratively
   reweighted least squares (:func:`rigid_motion`). ``rigid_compensation="register"``
   (default) undoes that motion on the later crop, computes the flow again (Farneback's
   error grows with the displacement, so one fit leaves about a quarter of a 1 px
   misalignment) and subtracts the similarity fitted to the new flow, as MDMO pipelines
   subtract a stable region's flow; ``"similarity"``/``"translation"`` subtract one fit
   without the second flow; ``"none"`` keeps the flow as it is;
4. for each of the 36 regions (``core/reaction/face_regions.py``, drawn from frame t - k's
   aligned landmarks) the flow vectors are binned by direction into ``bins`` sectors of
   360°, the dominant sector (most vectors) is kept and its vectors averaged: the mean
   vector's direction is the region's **orientation** and its length its **magnitude**.

Normalisation (``FeatureConfig.magnitude_norm``):
- orientation: angle / 2π, in [0, 1) (0 = towards the crop's right, 0.25 = down);
- magnitude ``"iod"`` (default): length / canonical inter-ocular distance x
  ``magnitude_scale`` (10), so 1.0 means 10 % of the eye distance per frame, comparable
  across faces and videos, minus ``noise_floor`` (0.02, clipped at 0): dense flow on a
  moving face has a floor of about that size from codec and resampling noise alone, which
  would otherwise make every frame look a little like motion; ``"max"``: divided by the
  frame's largest region magnitude, as in MDMO's code (loses absolute speed; an option).

``FeatureConfig.legacy()`` gives the earlier descriptor (each frame aligned with a transform
smoothed over time, consecutive frames, no compensation, no noise floor), whose magnitudes
on a clip where only the head moves are several times those of a smile.

Frames without a face: a pair where either frame has no face gives a row of zeros and
``flow_valid = False``; the LSTM sees the zeros and the mask (``models/reaction/lbe.py``).
After a face-less stretch, flow restarts over the frames available (fewer than k at first).
"""
from __future__ import annotations

import hashlib
import json
import time
from collections import deque
from dataclasses import asdict, dataclass, field
from pathlib import Path

import cv2
import numpy as np

from core.errors import NoFaceError
from core.reaction.alignment import (
    STABLE_POINTS, apply_transform, canonical_shape, inter_ocular, robust_similarity, similarity_transform,
)
from core.reaction.face_regions import N_REGIONS, region_label_map

EXTRACTOR = "plm-ipe-features"
EXTRACTOR_VERSION = "3"  # part of the feature cache's key: change it whenever the features change
ALIGN_POINTS = {
    "stable": STABLE_POINTS,
    "jaw": np.r_[0, 1, 15, 16, 27:36, 36, 39, 42, 45],  # also the top of the jaw line (legacy)
}
# 0-based regions whose skin expressions move least: temples, nose bridge, sides of the nose
REFERENCE_REGIONS = (6, 9, 10, 13, 16, 17)
COMPENSATIONS = ("register", "similarity", "translation", "none")


@dataclass(frozen=True)
class FeatureConfig:
    backend: str = "dlib"
    face_size: int = 112
    redetect_every: int = 30
    lost_redetect_every: int = 3
    # Farneback: pyr_scale, levels, winsize, iterations, poly_n, poly_sigma (OpenCV's names)
    pyr_scale: float = 0.5
    levels: int = 3
    winsize: int = 13
    iterations: int = 3
    poly_n: int = 5
    poly_sigma: float = 1.1
    align_points: str = "stable"  # "stable": eye corners and nose; "jaw": also the top of the jaw line
    align_outlier: float = 3.0  # refit without points whose residual is over this x the median (0: plain fit)
    align_smoothing: float = 0.0  # weight of the previous frame's transform (lags behind a moving head)
    flow_step: int = 4  # flow from frame t - k to t, divided by k
    rigid_compensation: str = "register"  # "register", "similarity", "translation" or "none"
    bins: int = 8
    magnitude_norm: str = "iod"
    magnitude_scale: float = 10.0
    noise_floor: float = 0.02  # subtracted from every magnitude in "iod" units (clipped at 0), before "max"
    clip_len: int = 16
    clip_size: int = 112
    clip_mode: str = "face"  # "face": face-centred square crop; "full": centre square of the frame
    clip_margin: float = 1.8  # face crop side / landmark box side
    max_seconds: float | None = 30.0

    def __post_init__(self) -> None:
        if self.align_points not in ALIGN_POINTS:
            raise ValueError(f"align_points must be one of {sorted(ALIGN_POINTS)}, not {self.align_points!r}")
        if self.rigid_compensation not in COMPENSATIONS:
            raise ValueError(f"rigid_compensation must be one of {COMPENSATIONS}, not {self.rigid_compensation!r}")
        if self.flow_step < 1:
            raise ValueError(f"flow_step must be >= 1, not {self.flow_step}")
        if self.magnitude_norm not in ("iod", "max"):
            raise ValueError(f"magnitude_norm must be iod or max, not {self.magnitude_norm!r}")

    @classmethod
    def legacy(cls, **changes) -> "FeatureConfig":
        """The descriptor of extractor version 2: each frame aligned on points including the jaw with
        a transform smoothed over time, flow between consecutive frames, no compensation, no floor."""
        settings = dict(winsize=9, align_points="jaw", align_outlier=0.0, align_smoothing=0.6, flow_step=1,
                        rigid_compensation="none", noise_floor=0.0)
        return cls(**{**settings, **changes})

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


def rigid_motion(flow: np.ndarray, mask: np.ndarray, kind: str = "similarity", iterations: int = 3) -> np.ndarray:
    """2x3 matrix G of the rigid motion that best explains ``flow`` inside ``mask``: d(x, y) = G @ (x, y, 1).

    ``"translation"``: the median vector. ``"similarity"``: u = a x' - b y' + tx, v = b x' + a y' + ty
    (x', y' about the mask's centre) fitted by iteratively reweighted least squares (weights
    1 / sqrt(max(|residual|, median residual))), so pixels that an expression moves count less.
    """
    ys, xs = np.nonzero(mask)
    g = np.zeros((2, 3), np.float64)
    if len(xs) < 8:
        return g.astype(np.float32)
    u, v = flow[ys, xs, 0].astype(np.float64), flow[ys, xs, 1].astype(np.float64)
    if kind == "translation":
        g[:, 2] = np.median(u), np.median(v)
        return g.astype(np.float32)
    cx, cy = xs.mean(), ys.mean()
    x, y = xs - cx, ys - cy
    one, zero = np.ones_like(x), np.zeros_like(x)
    design = np.concatenate([np.stack([x, -y, one, zero], 1), np.stack([y, x, zero, one], 1)])
    target = np.concatenate([u, v])
    weights = np.ones_like(target)
    for _ in range(iterations):
        params = np.linalg.lstsq(design * weights[:, None], target * weights, rcond=None)[0]
        residual = np.abs(design @ params - target)
        weights = 1.0 / np.sqrt(np.maximum(residual, np.median(residual) + 1e-3))
    a, b, tx, ty = params
    g[:, :2] = [[a, -b], [b, a]]
    g[:, 2] = [tx - a * cx + b * cy, ty - b * cx - a * cy]
    return g.astype(np.float32)


def motion_field(g: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """The (H, W, 2) displacement field of the 2x3 motion ``g``."""
    gx, gy = np.meshgrid(np.arange(shape[1], dtype=np.float32), np.arange(shape[0], dtype=np.float32))
    return np.stack([g[0, 0] * gx + g[0, 1] * gy + g[0, 2], g[1, 0] * gx + g[1, 1] * gy + g[1, 2]], -1)


class FlowState:
    """Streaming computation of the descriptor: push frames one by one."""

    def __init__(self, config: FeatureConfig = FeatureConfig(), timings: dict[str, float] | None = None) -> None:
        self.config = config
        self.canon = canonical_shape(config.face_size)
        self.iod = inter_ocular(self.canon)
        self.points = ALIGN_POINTS[config.align_points]
        self.reference = np.asarray(REFERENCE_REGIONS) + 1  # label values
        self.timings = timings if timings is not None else {}
        self._recent: deque[tuple[np.ndarray, np.ndarray]] = deque(maxlen=config.flow_step)  # (crop, aligned points)
        self._prev_m: np.ndarray | None = None

    def _align(self, frame: np.ndarray, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        config, size = self.config, self.config.face_size
        src, dst = points[self.points], self.canon[self.points]
        if config.align_outlier > 0:
            m = robust_similarity(src, dst, outlier=config.align_outlier)
        else:
            m = similarity_transform(src, dst)
        if self._prev_m is not None and config.align_smoothing > 0:
            m = (1 - config.align_smoothing) * m + config.align_smoothing * self._prev_m
        self._prev_m = m
        gray = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY) if frame.ndim == 3 else frame
        crop = cv2.warpAffine(gray, m, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        return crop, apply_transform(m, points)

    def _flow(self, crop_a: np.ndarray, crop_b: np.ndarray) -> np.ndarray:
        c = self.config
        return cv2.calcOpticalFlowFarneback(crop_a, crop_b, None, c.pyr_scale, c.levels, c.winsize, c.iterations,
                                            c.poly_n, c.poly_sigma, 0)

    def _row(self, crop_a: np.ndarray, pts_a: np.ndarray, crop_b: np.ndarray, step: int) -> np.ndarray:
        config, timings, size = self.config, self.timings, self.config.face_size
        t = time.process_time()
        labels = region_label_map(pts_a, (size, size))
        flow = self._flow(crop_a, crop_b)
        kind = config.rigid_compensation
        if kind != "none":
            mask = np.isin(labels, self.reference)
            g = rigid_motion(flow, mask, "translation" if kind == "translation" else "similarity")
            if kind == "register":  # undo the fitted motion on crop b, measure again: no large-motion flow error
                back = cv2.warpAffine(crop_b, g + np.eye(2, 3, dtype=np.float32), (size, size),
                                      flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP, borderMode=cv2.BORDER_REPLICATE)
                flow = self._flow(crop_a, back)
                g = rigid_motion(flow, mask)
            flow = flow - motion_field(g, (size, size))
        t2 = time.process_time()
        orientation, magnitude = region_flow(flow / step, labels, config.bins)
        # the floor is that of a k-frame flow; a shorter one (after a face-less stretch) is noisier per frame
        floor = config.noise_floor * config.flow_step / step
        magnitude = np.maximum(magnitude / self.iod * config.magnitude_scale - floor, 0.0)
        if config.magnitude_norm == "max":
            magnitude = magnitude / max(float(magnitude.max()), 1e-6)
        timings["flow"] = timings.get("flow", 0.0) + t2 - t
        timings["regions"] = timings.get("regions", 0.0) + time.process_time() - t2
        return np.concatenate([orientation, magnitude]).astype(np.float32)

    def push(self, frame: np.ndarray, points: np.ndarray | None) -> np.ndarray | None:
        """The 72 numbers for (frame t - k -> this frame), or None when this frame or the previous lacks a face."""
        if points is None:
            self._recent.clear()
            self._prev_m = None
            return None
        t = time.process_time()
        crop, pts = self._align(frame, points)
        self.timings["align"] = self.timings.get("align", 0.0) + time.process_time() - t
        row = None
        if self._recent:
            crop_a, pts_a = self._recent[0]
            row = self._row(crop_a, pts_a, crop, len(self._recent))
        self._recent.append((crop, pts))
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
