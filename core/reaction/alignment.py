"""Similarity alignment of a face to a canonical 68-point shape.

The canonical shape is dlib's 68 landmarks on ``skimage.data.astronaut()``, rotated so
the eyes are level, averaged with its mirror image (so it is left/right symmetric) and
expressed in a unit square: eye midpoint at (0.5, 0.36), inter-ocular distance 0.36.
:func:`canonical_shape` scales it to a face crop (default: eyes at 38 % of the height,
inter-ocular distance 33 % of the width, so brows, forehead points and chin fit).
The transform (scale, rotation, translation) is Umeyama's least-squares similarity.

:func:`canonical_depth` gives the 68 points a coarse depth, so the shape can be turned in 3-D
(the generator renders turned heads with it).
"""
from __future__ import annotations

import cv2
import numpy as np

# iBUG-68 index of each point's mirror image (left <-> right)
MIRROR = [16, 15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0, 26, 25, 24, 23, 22, 21, 20, 19, 18, 17,
          27, 28, 29, 30, 35, 34, 33, 32, 31, 45, 44, 43, 42, 47, 46, 39, 38, 37, 36, 41, 40, 54, 53, 52, 51,
          50, 49, 48, 59, 58, 57, 56, 55, 64, 63, 62, 61, 60, 67, 66, 65]

# points that expressions barely move: eye corners, nose bridge and nose
STABLE_POINTS = np.r_[36, 39, 42, 45, 27:36]

_UNIT = np.array([
    [0.1141, 0.3859], [0.1265, 0.4854], [0.1390, 0.5767], [0.1555, 0.6766],
    [0.1886, 0.7681], [0.2427, 0.8470], [0.3213, 0.9135], [0.4046, 0.9719],
    [0.5000, 0.9846], [0.5954, 0.9719], [0.6787, 0.9135], [0.7573, 0.8470],
    [0.8114, 0.7681], [0.8445, 0.6766], [0.8610, 0.5767], [0.8735, 0.4854],
    [0.8859, 0.3859], [0.1718, 0.3072], [0.2176, 0.2532], [0.2838, 0.2449],
    [0.3505, 0.2532], [0.4170, 0.2739], [0.5830, 0.2739], [0.6495, 0.2532],
    [0.7162, 0.2449], [0.7824, 0.2532], [0.8282, 0.3072], [0.5000, 0.3525],
    [0.5000, 0.4275], [0.5000, 0.4937], [0.5000, 0.5599], [0.4170, 0.5977],
    [0.4586, 0.6101], [0.5000, 0.6184], [0.5414, 0.6101], [0.5830, 0.5977],
    [0.2507, 0.3613], [0.2926, 0.3282], [0.3505, 0.3282], [0.3960, 0.3781],
    [0.3420, 0.3820], [0.2882, 0.3822], [0.6040, 0.3781], [0.6495, 0.3282],
    [0.7074, 0.3282], [0.7493, 0.3613], [0.7118, 0.3822], [0.6580, 0.3820],
    [0.3133, 0.6683], [0.3797, 0.6641], [0.4501, 0.6639], [0.5000, 0.6763],
    [0.5499, 0.6639], [0.6203, 0.6641], [0.6867, 0.6683], [0.6244, 0.7554],
    [0.5538, 0.7929], [0.5000, 0.8015], [0.4462, 0.7929], [0.3756, 0.7554],
    [0.3384, 0.6807], [0.4503, 0.6929], [0.5000, 0.7016], [0.5497, 0.6929],
    [0.6616, 0.6807], [0.5497, 0.7513], [0.5000, 0.7596], [0.4503, 0.7513],
], dtype=np.float64)
_UNIT_IOD = 0.36
_UNIT_CENTER = np.array([0.5, 0.36])


# Depth of each point towards the camera, in inter-ocular distances, relative to a head-shaped
# ellipse (half-width 1.3, depth 1.0, the jaw's top on its sides at ~55°): the nose stands out
# (tip +0.35), the eyes sit back. A coarse average head, not a measured one: enough to turn a
# face by up to ~30° without the nose crossing the far eye's inner corner.
_DEPTH_OFFSETS = {
    **{i: 0.05 for i in range(17, 27)},  # brow ridge
    27: 0.05, 28: 0.15, 29: 0.25, 30: 0.35, 31: 0.10, 32: 0.18, 33: 0.22, 34: 0.18, 35: 0.10,
    **{i: -0.08 for i in range(36, 48)}, 39: -0.10, 42: -0.10,
    **{i: 0.08 for i in range(49, 54)}, **{i: 0.08 for i in range(55, 60)}, 48: 0.0, 54: 0.0,
    **{i: 0.05 for i in range(60, 68)},
}


def canonical_depth() -> np.ndarray:
    """(68,) depth of the canonical points towards the camera, in inter-ocular distances (0 at the midline)."""
    dx = (_UNIT[:, 0] - 0.5) / _UNIT_IOD
    depth = np.sqrt(np.clip(1 - (dx / 1.3) ** 2, 0, None)) - 1
    for index, offset in _DEPTH_OFFSETS.items():
        depth[index] += offset
    return depth.astype(np.float32)


def inter_ocular(points: np.ndarray) -> float:
    """Distance between the eye centres (mean of points 36-41 and 42-47)."""
    return float(np.linalg.norm(points[36:42].mean(0) - points[42:48].mean(0)))


def canonical_shape(size: int = 112, *, iod: float = 0.33, eye_y: float = 0.38) -> np.ndarray:
    """The canonical 68 points in a ``size`` x ``size`` face crop."""
    unit = (_UNIT - _UNIT_CENTER) / _UNIT_IOD * iod + np.array([0.5, eye_y])
    return (unit * size).astype(np.float32)


def similarity_transform(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """2x3 matrix M of the similarity that best maps ``src`` onto ``dst`` (Umeyama 1991)."""
    src = np.asarray(src, np.float64)
    dst = np.asarray(dst, np.float64)
    mu_s, mu_d = src.mean(0), dst.mean(0)
    s, d = src - mu_s, dst - mu_d
    cov = d.T @ s / len(src)
    u, sig, vt = np.linalg.svd(cov)
    sign = np.eye(2)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        sign[1, 1] = -1
    rot = u @ sign @ vt
    var = (s**2).sum() / len(src)
    scale = np.trace(np.diag(sig) @ sign) / var if var > 0 else 1.0
    m = np.zeros((2, 3))
    m[:, :2] = scale * rot
    m[:, 2] = mu_d - scale * rot @ mu_s
    return m.astype(np.float32)


def robust_similarity(src: np.ndarray, dst: np.ndarray, *, outlier: float = 3.0, keep: int = 6) -> np.ndarray:
    """:func:`similarity_transform`, refitted without the points whose residual exceeds ``outlier``
    x the median residual (a mis-fitted landmark must not tilt the whole face); at least ``keep`` stay."""
    src = np.asarray(src, np.float32)
    dst = np.asarray(dst, np.float32)
    m = similarity_transform(src, dst)
    residual = np.linalg.norm(apply_transform(m, src) - dst, axis=1)
    inliers = residual <= outlier * max(float(np.median(residual)), 1e-6)
    if inliers.all() or inliers.sum() < keep:
        return m
    return similarity_transform(src[inliers], dst[inliers])


def apply_transform(m: np.ndarray, points: np.ndarray) -> np.ndarray:
    return (np.asarray(points, np.float32) @ m[:, :2].T + m[:, 2]).astype(np.float32)


def align_face(frame: np.ndarray, landmarks: np.ndarray, size: int = 112) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Warp ``frame`` so its face lands on the canonical shape.

    Returns ``(crop, aligned_landmarks, M)``: the ``size`` x ``size`` crop, the landmarks in
    crop coordinates and the 2x3 frame-to-crop matrix.
    """
    m = similarity_transform(landmarks, canonical_shape(size))
    crop = cv2.warpAffine(frame, m, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    return crop, apply_transform(m, landmarks), m
