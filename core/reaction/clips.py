"""C3D input clips: non-overlapping 16-frame clips at 112x112.

``clip_mode="face"`` (default): each clip is cropped around the face: a square centred on the
mean landmark centre of the clip's frames with a face, side ``clip_margin`` x the landmark
box, so the network sees the reaction and not the room (PLM-IPE crops faces "to remove
background noise"). A clip without any face falls back to the centre of the frame.
``clip_mode="full"``: the centre square of the frame. A video of T frames gives T // 16
clips; the remainder is dropped (at most 15 frames, 0.5 s at 30 fps).

Network input (:func:`clips_to_tensor_input`), shape (N, 3, 16, 112, 112) float32:
- ``"unit"`` (default, training from scratch): RGB scaled to [-1, 1];
- ``"sports1m"``: the widely shared Sports-1M C3D weights were ported from Caffe and expect
  **BGR** order with the Sports-1M mean (about 90.25, 97.66, 101.41 for B, G, R) subtracted
  from 0–255 values; use it when initialising from those weights;
- ``"standardise"``: each clip minus its own mean, divided by its own standard deviation (over
  frames, pixels and channels): removes a volunteer's brightness and contrast, which in 112x112
  face crops vary far more than an expression changes the pixels (docs/c3d_learning.md);
- ``"temporal"``: each pixel minus its own mean over the clip's frames, then divided by the clip's
  standard deviation of what is left: the face's appearance (identity, lighting) is removed and
  only what changes within the clip remains.
"""
from __future__ import annotations

import cv2
import numpy as np

SPORTS1M_MEAN_BGR = np.array([90.25, 97.66, 101.41], np.float32)
CLIP_STD_FLOOR = 1.0  # on 0-255 values: a flat clip is centred, not blown up
CLIP_NORMS = ("unit", "sports1m", "standardise", "temporal")


def _square_crop(frame: np.ndarray, cx: float, cy: float, side: float, out: int) -> np.ndarray:
    half = side / 2
    m = np.array([[out / side, 0, -(cx - half) * out / side], [0, out / side, -(cy - half) * out / side]], np.float32)
    return cv2.warpAffine(frame, m, (out, out), flags=cv2.INTER_AREA if side > out else cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_REPLICATE)


def make_clips(frames: np.ndarray, landmarks: np.ndarray, found: np.ndarray, config) -> np.ndarray:
    """(N, clip_len, size, size, 3) uint8 RGB clips."""
    length, size = config.clip_len, config.clip_size
    n = len(frames) // length
    clips = np.zeros((n, length, size, size, 3), np.uint8)
    height, width = frames.shape[1:3]
    for c in range(n):
        sl = slice(c * length, (c + 1) * length)
        have = found[sl]
        if config.clip_mode == "face" and have.any():
            pts = landmarks[sl][have]
            centre = ((pts.min(1) + pts.max(1)) / 2).mean(0)
            side = float((pts.max(1) - pts.min(1)).max(1).mean()) * config.clip_margin
        else:
            centre = np.array([width / 2, height / 2])
            side = float(min(width, height))
        for k, frame in enumerate(frames[sl]):
            clips[c, k] = _square_crop(frame, float(centre[0]), float(centre[1]), side, size)
    return clips


def clips_to_tensor_input(clips: np.ndarray, mode: str = "unit") -> np.ndarray:
    """(N, 16, H, W, 3) uint8 RGB -> (N, 3, 16, H, W) float32, normalised for the network."""
    x = clips.astype(np.float32)
    if mode == "unit":
        x = x / 127.5 - 1.0
    elif mode == "sports1m":
        x = x[..., ::-1] - SPORTS1M_MEAN_BGR
    elif mode == "standardise":
        axes = tuple(range(1, x.ndim))
        x = (x - x.mean(axes, keepdims=True)) / np.maximum(x.std(axes, ddof=1, keepdims=True), CLIP_STD_FLOOR)
    elif mode == "temporal":
        x = x - x.mean(1, keepdims=True)  # axis 1: the clip's frames
        axes = tuple(range(1, x.ndim))
        x = x / np.maximum(x.std(axes, ddof=1, keepdims=True), CLIP_STD_FLOOR)
    else:
        raise ValueError(f"unknown clip normalisation {mode!r}; use one of {', '.join(CLIP_NORMS)}")
    return np.ascontiguousarray(x.transpose(0, 4, 1, 2, 3))
