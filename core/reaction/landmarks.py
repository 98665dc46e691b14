"""Faces and 68 landmarks behind one interface, with plug-in backends (iBUG-68 layout).

Backends:

- ``dlib`` (default, offline): dlib's HOG face detector and 68-point shape predictor; the
  weights ship inside the ``face-recognition-models`` package.
- ``face-alignment`` (the paper's landmark model, FAN): its weights are downloaded by the
  face-alignment package on first use, which this kit never does at run time. Put
  ``2DFAN4-11f355bf06.pth.tar`` into torch's hub cache (``<torch hub dir>/checkpoints/``)
  or point ``$IPE_FAN_WEIGHTS`` at it; faces are still found with dlib's detector.
  Weights are loaded with ``torch.load(weights_only=True)``: tensors only, no pickled code.

Frames are (H, W, 3) RGB or (H, W) grey uint8 arrays (the extractor passes grey: dlib is
~25 % faster on it). Every backend returns ``FaceBox`` objects and ``(68, 2)`` float32 arrays of (x, y) pixels in
the frame's coordinates; point 36 is the outer corner of the eye on the image's left.
"""
from __future__ import annotations

import os
import pickle
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Protocol

import numpy as np

from core.errors import IPEError

FAN_FILE = "2DFAN4-11f355bf06.pth.tar"
FAN_URL = "https://www.adrianbulat.com/downloads/python-fan/" + FAN_FILE


class BackendUnavailableError(IPEError):
    """A landmark backend cannot run on this machine (missing weights or package)."""


@dataclass(frozen=True)
class FaceBox:
    left: float
    top: float
    right: float
    bottom: float
    score: float = 0.0

    @property
    def width(self) -> float:
        return self.right - self.left

    @property
    def height(self) -> float:
        return self.bottom - self.top

    @property
    def center(self) -> tuple[float, float]:
        return (self.left + self.right) / 2, (self.top + self.bottom) / 2

    def scaled(self, factor: float) -> "FaceBox":
        return FaceBox(self.left * factor, self.top * factor, self.right * factor, self.bottom * factor, self.score)

    def iou(self, other: "FaceBox") -> float:
        ix = max(0.0, min(self.right, other.right) - max(self.left, other.left))
        iy = max(0.0, min(self.bottom, other.bottom) - max(self.top, other.top))
        inter = ix * iy
        union = self.width * self.height + other.width * other.height - inter
        return inter / union if union > 0 else 0.0

    @classmethod
    def around(cls, points: np.ndarray) -> "FaceBox":
        """The box a detector would give for these 68 landmarks (brows to chin, jaw to jaw)."""
        x0, y0 = points.min(0)
        x1, y1 = points.max(0)
        return cls(float(x0), float(y0), float(x1), float(y1))


class LandmarkBackend(Protocol):
    name: str

    def detect(self, frame_rgb: np.ndarray, upsample: int = 0) -> list[FaceBox]:
        """Faces in the frame, most confident first."""

    def landmarks(self, frame_rgb: np.ndarray, box: FaceBox) -> np.ndarray:
        """(68, 2) float32 landmarks of the face in ``box``."""


class DlibBackend:
    """dlib HOG detector + 68-point shape predictor (offline, CPU, ~4 ms per face)."""

    name = "dlib"

    def __init__(self) -> None:
        from core.reaction.face_models import hog_detector, shape_predictor_68

        self._detector = hog_detector()
        self._predictor = shape_predictor_68()

    def detect(self, frame_rgb: np.ndarray, upsample: int = 0) -> list[FaceBox]:
        rects, scores, _ = self._detector.run(frame_rgb, upsample, 0.0)
        boxes = [FaceBox(r.left(), r.top(), r.right(), r.bottom(), float(s)) for r, s in zip(rects, scores)]
        return sorted(boxes, key=lambda b: b.score, reverse=True)

    def landmarks(self, frame_rgb: np.ndarray, box: FaceBox) -> np.ndarray:
        import dlib

        rect = dlib.rectangle(int(round(box.left)), int(round(box.top)), int(round(box.right)), int(round(box.bottom)))
        shape = self._predictor(frame_rgb, rect)
        return np.array([[p.x, p.y] for p in shape.parts()], dtype=np.float32)


def fan_weights_path() -> Path:
    """Where the FAN weights are looked for (they are never downloaded here)."""
    override = os.environ.get("IPE_FAN_WEIGHTS")
    if override:
        return Path(override)
    import torch

    return Path(torch.hub.get_dir()) / "checkpoints" / FAN_FILE


class FaceAlignmentBackend:
    """face-alignment's FAN (2D, 4 hourglasses) for landmarks; dlib's detector for faces.

    ``network`` lets tests pass a randomly initialised ``face_alignment.models.FAN`` to check
    the adapter's plumbing (cropping, heat-map decoding, coordinates) without any download.
    """

    name = "face-alignment"

    def __init__(self, network=None, device: str = "cpu") -> None:  # network: torch.nn.Module | None
        try:
            import torch
            from face_alignment.models import FAN
        except ImportError as err:
            raise BackendUnavailableError(
                "the face-alignment backend needs the face-alignment package (requirements-nodeps.txt)"
            ) from err
        if network is None:
            path = fan_weights_path()
            if not path.is_file():
                raise BackendUnavailableError(
                    f"face-alignment's FAN weights are not on this machine (looked for {path}). This kit never "
                    f"downloads at run time: fetch {FAN_URL} on a machine with internet and copy it to {path} "
                    "(or set IPE_FAN_WEIGHTS to its path), or use the offline default backend 'dlib'."
                )
            network = FAN(4)
            try:
                state = torch.load(path, map_location=device, weights_only=True)
                network.load_state_dict(state)
            except pickle.UnpicklingError as err:  # the safe loader met objects other than tensors
                raise BackendUnavailableError(
                    f"{path} holds pickled Python objects, not only tensors; this kit never loads those. Use the "
                    f"FAN weight file itself ({FAN_URL}), or the offline default backend 'dlib'."
                ) from err
            except (RuntimeError, OSError, ValueError, KeyError, EOFError) as err:
                first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
                raise BackendUnavailableError(f"{path} is not a usable FAN weight file ({first}); use the FAN "
                                              f"weight file itself ({FAN_URL}), or the backend 'dlib'.") from err
        self._net = network.to(device).eval()
        self._device = device
        self._dlib = DlibBackend()

    def detect(self, frame_rgb: np.ndarray, upsample: int = 0) -> list[FaceBox]:
        return self._dlib.detect(frame_rgb, upsample)

    def landmarks(self, frame_rgb: np.ndarray, box: FaceBox) -> np.ndarray:
        import torch
        from face_alignment.api import CENTER_Y_OFFSET, REFERENCE_SCALE
        from face_alignment.utils import crop

        if frame_rgb.ndim == 2:  # grey input: FAN expects three channels
            frame_rgb = np.repeat(frame_rgb[:, :, None], 3, axis=2)
        center = np.array([box.center[0], box.center[1] - box.height * CENTER_Y_OFFSET])
        scale = (box.width + box.height) / REFERENCE_SCALE
        patch = crop(frame_rgb, center, scale).transpose((2, 0, 1)).astype(np.float32) / 255.0
        with torch.no_grad():
            out = self._net(torch.from_numpy(patch)[None].to(self._device))
            if isinstance(out, list):
                out = out[-1]
        return heatmaps_to_points(out.float().cpu().numpy()[0], center, scale)


def heatmaps_to_points(heatmaps: np.ndarray, center: np.ndarray, scale: float) -> np.ndarray:
    """FAN heat maps (68, H, W) -> (68, 2) frame pixels.

    A numpy port of ``face_alignment.utils.get_preds_fromhm`` (arg-max, a quarter-pixel step
    towards the higher neighbour, -0.5, then the inverse of the crop transform), without its
    numba JIT (whose first compilation costs 10-20 s per process) and without its rounding of
    the result to whole pixels.
    """
    n, h, w = heatmaps.shape
    flat = heatmaps.reshape(n, h * w).argmax(1)
    px, py = flat % w, flat // w
    points = np.stack([px, py], 1).astype(np.float64)
    inside = (px > 0) & (px < w - 1) & (py > 0) & (py < h - 1)
    k = np.nonzero(inside)[0]
    dx = heatmaps[k, py[k], px[k] + 1] - heatmaps[k, py[k], px[k] - 1]
    dy = heatmaps[k, py[k] + 1, px[k]] - heatmaps[k, py[k] - 1, px[k]]
    points[k, 0] += np.sign(dx) * 0.25
    points[k, 1] += np.sign(dy) * 0.25
    # face-alignment works in 1-based heat-map pixels and then subtracts 0.5
    points += 0.5
    side = 200.0 * scale  # the crop covers side x side frame pixels
    points = points * side / h + np.asarray(center, np.float64) - side / 2
    return points.astype(np.float32)


BACKENDS = ("dlib", "face-alignment")


@lru_cache(maxsize=4)
def get_backend(name: str = "dlib") -> LandmarkBackend:
    """A backend by name, created once per process."""
    if name == "dlib":
        return DlibBackend()
    if name == "face-alignment":
        return FaceAlignmentBackend()
    raise BackendUnavailableError(f"unknown landmark backend {name!r}; choose one of {BACKENDS}")
