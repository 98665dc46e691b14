"""Reaction videos from a real face photo, with known, seeded dynamics.

A real face (``skimage.data.astronaut()`` by default; any built-in face of ``data/faces.py`` or
the path of a photo) is landmarked
once with dlib; each frame moves the 68 landmarks by an expression (smile, frown,
surprise, neutral), blinks, an optional 3-D head turn (``yaw_deg``, up to ±35°) and a rigid
head sway (amplitudes in :class:`ReactionSpec`, small by default), and warps the photo piecewise
affinely over a Delaunay mesh of the landmarks plus fixed border points. The landmark
trajectories that produced the frames are returned too (``reaction_landmarks``), so
tests know the ground truth.

Speed: the mesh and the composed frame are computed once per face; a frame costs one
triangle-index raster, one gather of per-triangle affine maps and one ``cv2.remap`` over
the face region plus one ``cv2.warpAffine`` for the head motion.

    python -m data.reaction_video smile out.mp4 [--seconds 3] [--seed 0] [--stamp]

Videos are 640x480 at 30 fps by default; ``.mp4`` (H.264, yuv420p) or ``.y4m`` (raw
YUV4MPEG2 for Chromium's fake camera). ``stamp_frame_index`` writes a frame's index as
large black/white blocks that survive VP8/H.264, so a capture test can tell which source
frames arrived.
"""
from __future__ import annotations

import argparse
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np

from core.errors import MediaError
from data.video_files import stamp_frame_index, write_mp4, write_y4m

EXPRESSIONS = ("smile", "frown", "surprise", "neutral")

# Landmark displacements at full intensity, in units of the inter-ocular distance,
# (dx, dy) with +x towards the image right and +y down. Mirror pairs are listed per side:
# the subject's right side is the image left (points 0-8 jaw, 17-21 brow, 36-41 eye, 48 corner).
_SMILE = {
    48: (-0.10, -0.08), 54: (0.10, -0.08), 60: (-0.08, -0.07), 64: (0.08, -0.07),
    49: (-0.05, -0.05), 53: (0.05, -0.05), 59: (-0.05, -0.03), 55: (0.05, -0.03),
    50: (-0.02, -0.03), 52: (0.02, -0.03), 61: (-0.03, -0.04), 63: (0.03, -0.04),
    56: (0.02, 0.01), 57: (0.0, 0.02), 58: (-0.02, 0.01), 65: (0.03, -0.02), 67: (-0.03, -0.02), 66: (0.0, 0.0),
    31: (-0.015, -0.02), 35: (0.015, -0.02), 40: (0.0, -0.025), 41: (0.0, -0.025), 46: (0.0, -0.025), 47: (0.0, -0.025),
    2: (-0.01, -0.02), 3: (-0.01, -0.02), 13: (0.01, -0.02), 14: (0.01, -0.02),
}
_FROWN = {
    17: (0.01, 0.03), 18: (0.02, 0.045), 19: (0.03, 0.06), 20: (0.04, 0.075), 21: (0.05, 0.08),
    26: (-0.01, 0.03), 25: (-0.02, 0.045), 24: (-0.03, 0.06), 23: (-0.04, 0.075), 22: (-0.05, 0.08),
    48: (0.02, 0.07), 54: (-0.02, 0.07), 60: (0.015, 0.05), 64: (-0.015, 0.05),
    49: (0.01, 0.03), 53: (-0.01, 0.03), 59: (0.01, 0.04), 55: (-0.01, 0.04),
    37: (0.0, 0.015), 38: (0.0, 0.02), 43: (0.0, 0.02), 44: (0.0, 0.015),
}
_SURPRISE = {
    **{i: (0.0, -0.10) for i in range(17, 27)},
    37: (0.0, -0.03), 38: (0.0, -0.03), 43: (0.0, -0.03), 44: (0.0, -0.03),
    48: (0.03, 0.04), 54: (-0.03, 0.04), 60: (0.02, 0.03), 64: (-0.02, 0.03),
    59: (0.02, 0.14), 58: (0.0, 0.17), 57: (0.0, 0.18), 56: (0.0, 0.17), 55: (-0.02, 0.14),
    67: (0.0, 0.15), 66: (0.0, 0.16), 65: (0.0, 0.15),
    6: (0.0, 0.08), 7: (0.0, 0.14), 8: (0.0, 0.18), 9: (0.0, 0.14), 10: (0.0, 0.08),
}
_OFFSETS = {"smile": _SMILE, "frown": _FROWN, "surprise": _SURPRISE, "neutral": {}}
_BLINK_PAIRS = ((37, 41), (38, 40), (43, 47), (44, 46))  # (upper lid, lower lid)


@dataclass(frozen=True)
class ReactionSpec:
    """What a clip shows. ``onset_s``/``ramp_s`` of None are drawn from the seed."""

    expression: str = "neutral"
    duration_s: float = 3.0
    fps: int = 30
    size: tuple[int, int] = (640, 480)  # width, height
    seed: int = 0
    intensity: float = 1.0
    onset_s: float | None = None
    ramp_s: float | None = None
    release_s: float | None = None  # when the expression starts to fade (None: it holds)
    blinks: bool = True
    head_motion: bool = True
    # peak amplitudes of the head's sway (sine waves of seeded phase and 0.15-0.45 Hz): the
    # horizontal shift in pixels (vertical: 3/4 of it), the in-plane rotation, the zoom
    head_shift_px: float = 4.0
    head_roll_deg: float = 1.5
    head_zoom: float = 0.015
    yaw_deg: float = 0.0  # the head turned left/right in 3-D (positive: the nose towards the image's right)
    brightness_ramp: float = 0.0  # brightness gain rises linearly from 1 - r/2 to 1 + r/2 over the clip
    face: str = "astronaut"  # a built-in face (data/faces.py) or the path of a photo with one face
    face_width: float = 0.34  # face box width as a fraction of the frame width
    stamp: bool = False  # write the frame index as blocks (capture tests)

    def __post_init__(self) -> None:
        if self.expression not in EXPRESSIONS:
            raise ValueError(f"expression must be one of {EXPRESSIONS}, not {self.expression!r}")
        if self.duration_s <= 0 or self.fps <= 0:
            raise ValueError("duration and fps must be positive")
        if abs(self.yaw_deg) > 35:
            raise ValueError(f"yaw_deg must be within ±35° (the warp folds the nose over the far eye beyond), not {self.yaw_deg}")
        from data.faces import check_face

        check_face(self.face)

    @property
    def n_frames(self) -> int:
        return int(round(self.duration_s * self.fps))


# ---------------------------------------------------------------------------- face setup
@dataclass(frozen=True)
class _Stage:
    frame: np.ndarray  # composed neutral frame, RGB uint8 (H, W, 3)
    points: np.ndarray  # (68 + border, 2) float32 mesh vertices in frame coordinates
    triangles: np.ndarray  # (T, 3) vertex indices
    roi: tuple[int, int, int, int]  # x0, y0, x1, y1 of the warped region
    iod: float  # inter-ocular distance in pixels
    grid: np.ndarray  # (2, h, w) float32 x and y pixel coordinates of the roi


@lru_cache(maxsize=8)
def _stage(face: str, size: tuple[int, int], face_width: float) -> _Stage:
    from scipy.spatial import Delaunay

    from data.faces import landmarked_face

    lf = landmarked_face(face)
    width, height = size
    left, top, right, bottom = lf.box
    face_w = right - left
    scale = face_width * width / face_w
    cx, cy = (left + right) / 2, (top + bottom) / 2 + 0.15 * face_w  # a little chin room
    # affine from photo to frame: scale about the face centre, centre it in the frame
    m = np.array([[scale, 0, width / 2 - scale * cx], [0, scale, height * 0.46 - scale * cy]], dtype=np.float32)
    # replicate, not reflect: a reflected photo can show a mirrored second face at the frame edge
    frame = cv2.warpAffine(lf.image, m, (width, height), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    lm = lf.landmarks @ m[:, :2].T + m[:, 2]
    iod = float(np.linalg.norm(lm[36:42].mean(0) - lm[42:48].mean(0)))
    x0, y0 = lm.min(0)
    x1, y1 = lm.max(0)
    pad_x, pad_y = 0.35 * (x1 - x0), 0.45 * (y1 - y0)
    rx0, ry0 = max(0, int(x0 - pad_x)), max(0, int(y0 - pad_y))
    rx1, ry1 = min(width - 1, int(x1 + pad_x)), min(height - 1, int(y1 + pad_y * 0.6))
    border = []
    for t in np.linspace(0, 1, 5):
        border += [(rx0 + t * (rx1 - rx0), ry0), (rx0 + t * (rx1 - rx0), ry1),
                   (rx0, ry0 + t * (ry1 - ry0)), (rx1, ry0 + t * (ry1 - ry0))]
    border = np.unique(np.round(np.array(border, dtype=np.float32), 2), axis=0)
    points = np.vstack([lm, border]).astype(np.float32)
    triangles = Delaunay(points).simplices.astype(np.int32)
    grid = np.mgrid[ry0:ry1 + 1, rx0:rx1 + 1][::-1].astype(np.float32)
    return _Stage(frame, points, triangles, (rx0, ry0, rx1 + 1, ry1 + 1), iod, grid)


# ---------------------------------------------------------------------------- dynamics
def _smoothstep(x: np.ndarray) -> np.ndarray:
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3 - 2 * x)


def _timing(spec: ReactionSpec) -> tuple[float, float]:
    rng = np.random.default_rng([spec.seed, 1])
    onset = spec.onset_s if spec.onset_s is not None else float(rng.uniform(0.3, 0.35 * spec.duration_s + 0.3))
    ramp = spec.ramp_s if spec.ramp_s is not None else float(rng.uniform(0.35, 0.7))
    return onset, ramp


def expression_curve(spec: ReactionSpec) -> np.ndarray:
    """Intensity of the expression per frame, in [0, spec.intensity]."""
    t = np.arange(spec.n_frames) / spec.fps
    onset, ramp = _timing(spec)
    curve = _smoothstep((t - onset) / ramp)
    if spec.release_s is not None:
        curve = curve * (1 - _smoothstep((t - spec.release_s) / ramp))
    return (curve * spec.intensity).astype(np.float32)


def blink_curve(spec: ReactionSpec) -> np.ndarray:
    """Eye closure per frame in [0, 1] (1 = closed); seeded blinks every ~2-4 s."""
    n = spec.n_frames
    closure = np.zeros(n, dtype=np.float32)
    if not spec.blinks:
        return closure
    rng = np.random.default_rng([spec.seed, 2])
    t = float(rng.uniform(0.5, 1.5))
    shape = np.array([0.4, 0.9, 1.0, 0.8, 0.4], dtype=np.float32)  # ~170 ms at 30 fps
    while t < spec.duration_s - 0.2:
        start = int(t * spec.fps)
        for k, v in enumerate(shape):
            if start + k < n:
                closure[start + k] = max(closure[start + k], v)
        t += float(rng.uniform(2.0, 4.0))
    return closure


def head_motion(spec: ReactionSpec) -> np.ndarray:
    """(n, 2, 3) similarity transforms about the frame centre: small sway, nod and zoom."""
    n = spec.n_frames
    width, height = spec.size
    out = np.zeros((n, 2, 3), dtype=np.float32)
    rng = np.random.default_rng([spec.seed, 3])
    t = np.arange(n) / spec.fps
    if spec.head_motion:
        ph = rng.uniform(0, 2 * np.pi, size=4)
        fr = rng.uniform(0.15, 0.45, size=4)
        angle = spec.head_roll_deg * np.sin(2 * np.pi * fr[0] * t + ph[0])  # degrees
        tx = spec.head_shift_px * np.sin(2 * np.pi * fr[1] * t + ph[1])
        ty = 0.75 * spec.head_shift_px * np.sin(2 * np.pi * fr[2] * t + ph[2])
        sc = 1.0 + spec.head_zoom * np.sin(2 * np.pi * fr[3] * t + ph[3])
    else:
        angle, tx, ty, sc = np.zeros(n), np.zeros(n), np.zeros(n), np.ones(n)
    for i in range(n):
        m = cv2.getRotationMatrix2D((width / 2, height / 2), float(angle[i]), float(sc[i]))
        m[0, 2] += tx[i]
        m[1, 2] += ty[i]
        out[i] = m
    return out


def _local_landmarks(spec: ReactionSpec, stage: _Stage) -> np.ndarray:
    """(n, 68, 2) landmarks before head motion."""
    base = stage.points[:68]
    offsets = np.zeros((68, 2), dtype=np.float32)
    for idx, (dx, dy) in _OFFSETS[spec.expression].items():
        offsets[idx] = (dx, dy)
    offsets *= stage.iod
    curve = expression_curve(spec)
    blink = blink_curve(spec)
    out = base[None] + curve[:, None, None] * offsets[None]
    for upper, lower in _BLINK_PAIRS:
        gap = out[:, lower, 1] - out[:, upper, 1]
        out[:, upper, 1] += 0.8 * blink * gap
        out[:, lower, 1] -= 0.2 * blink * gap
    if spec.yaw_deg:
        out = _turn(out, stage.iod, spec.yaw_deg)
    return out.astype(np.float32)


def _turn(points: np.ndarray, iod: float, yaw_deg: float) -> np.ndarray:
    """Landmarks (n, 68, 2) of a head turned about the vertical axis, seen orthographically.

    Depths come from the canonical head (``core.reaction.alignment.canonical_depth``); the
    face is kept centred where it was (the mean landmark does not move sideways).
    """
    from core.reaction.alignment import canonical_depth

    theta = np.deg2rad(yaw_deg)
    mid = points[:, [27, 28, 29, 30, 33, 51, 57, 8], 0].mean(1, keepdims=True)
    x = mid + (points[..., 0] - mid) * np.cos(theta) + canonical_depth()[None] * iod * np.sin(theta)
    out = points.copy()
    out[..., 0] = x - (x - points[..., 0]).mean(1, keepdims=True)
    return out


def reaction_landmarks(spec: ReactionSpec) -> np.ndarray:
    """Ground-truth (n, 68, 2) landmark trajectories in output-frame pixels."""
    stage = _stage(spec.face, spec.size, spec.face_width)
    local = _local_landmarks(spec, stage)
    motion = head_motion(spec)
    return np.einsum("nij,nkj->nki", motion[:, :, :2], local) + motion[:, None, :, 2]


# ---------------------------------------------------------------------------- rendering
def _warp_face(stage: _Stage, dst_landmarks: np.ndarray, mouth_open: float) -> np.ndarray:
    """Piecewise-affine warp of the neutral frame so its landmarks land on ``dst_landmarks``."""
    x0, y0, x1, y1 = stage.roi
    src = stage.points
    dst = src.copy()
    dst[:68] = dst_landmarks
    tri = stage.triangles
    # affine per triangle mapping destination -> source, solved in one batch
    d = np.concatenate([dst[tri], np.ones((len(tri), 3, 1), np.float32)], axis=2).astype(np.float64)  # (T,3,3)
    s = src[tri].astype(np.float64)  # (T,3,2)
    flat = np.abs(np.linalg.det(d)) < 1e-3  # (near) zero-area triangles cover no pixels: identity
    d[flat] = np.eye(3)
    s[flat] = np.eye(3)[:, :2]
    coeffs = np.linalg.solve(d, s)  # (T,3,2): [x y 1] @ coeffs = source xy
    index = np.zeros((y1 - y0, x1 - x0), dtype=np.int32)
    local = dst[tri] - np.array([x0, y0], np.float32)
    for k, poly in enumerate(local):
        cv2.fillConvexPoly(index, np.round(poly * 16).astype(np.int32), k + 1, lineType=cv2.LINE_8, shift=4)
    xs, ys = stage.grid
    # index 0 (no triangle) maps every pixel to itself
    table = np.concatenate([np.array([[1, 0, 0, 1, 0, 0]], np.float32), coeffs.reshape(-1, 6).astype(np.float32)])
    c = table[index]  # (h, w, 6): a00 a01 a10 a11 a20 a21 of [x y 1] @ coeffs
    map_x = xs * c[..., 0] + ys * c[..., 2] + c[..., 4]
    map_y = xs * c[..., 1] + ys * c[..., 3] + c[..., 5]
    frame = stage.frame.copy()
    frame[y0:y1, x0:x1] = cv2.remap(stage.frame, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    if mouth_open > 0.02:  # shade the open mouth's inside
        inner = np.round(dst_landmarks[60:68]).astype(np.int32)
        bx0, by0 = np.maximum(inner.min(0) - 4, 0)
        bx1, by1 = np.minimum(inner.max(0) + 5, (frame.shape[1], frame.shape[0]))
        mask = np.zeros((by1 - by0, bx1 - bx0), np.uint8)  # only the mouth's box, not the whole frame
        cv2.fillPoly(mask, [inner - (bx0, by0)], 255)
        alpha = (cv2.GaussianBlur(mask, (5, 5), 0).astype(np.float32) / 255.0 * min(1.0, mouth_open * 3))[..., None]
        patch = frame[by0:by1, bx0:bx1]
        frame[by0:by1, bx0:bx1] = (patch * (1 - alpha) + np.array([60, 20, 25], np.float32) * alpha).astype(np.uint8)
    return frame


def render_reaction(spec: ReactionSpec) -> np.ndarray:
    """The clip as (n, H, W, 3) uint8 RGB frames."""
    stage = _stage(spec.face, spec.size, spec.face_width)
    local = _local_landmarks(spec, stage)
    motion = head_motion(spec)
    width, height = spec.size
    frames = np.empty((spec.n_frames, height, width, 3), dtype=np.uint8)
    base_gap = float(np.linalg.norm(stage.points[66] - stage.points[62]))
    for i in range(spec.n_frames):
        gap = float(np.linalg.norm(local[i, 66] - local[i, 62])) - base_gap
        face = _warp_face(stage, local[i], max(0.0, gap / stage.iod))
        frames[i] = cv2.warpAffine(face, motion[i], (width, height), flags=cv2.INTER_LINEAR,
                                   borderMode=cv2.BORDER_REFLECT)
        if spec.brightness_ramp:
            gain = 1 + spec.brightness_ramp * (i / max(spec.n_frames - 1, 1) - 0.5)
            frames[i] = cv2.convertScaleAbs(frames[i], alpha=gain)
        if spec.stamp:
            stamp_frame_index(frames[i], i)
    return frames


def make_reaction_video(path: str | Path, spec: ReactionSpec = ReactionSpec()) -> Path:
    """Render ``spec`` and write it as .mp4 or .y4m (by the suffix)."""
    path = Path(path)
    frames = render_reaction(spec)
    if path.suffix == ".y4m":
        return write_y4m(frames, path, spec.fps)
    if path.suffix == ".mp4":
        return write_mp4(frames, path, spec.fps)
    raise MediaError(f"unknown video type {path.suffix!r}; use .mp4 or .y4m")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m data.reaction_video", description="Write a reaction clip.")
    parser.add_argument("expression", choices=EXPRESSIONS)
    parser.add_argument("out", type=Path, help=".mp4 or .y4m")
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--face", default="astronaut", help="a built-in face name or the path of a photo")
    parser.add_argument("--stamp", action="store_true", help="stamp frame indices (capture tests)")
    args = parser.parse_args(argv)
    spec = ReactionSpec(args.expression, duration_s=args.seconds, seed=args.seed, face=args.face, stamp=args.stamp)
    print(make_reaction_video(args.out, spec))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

