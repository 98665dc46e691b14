"""dlib's offline face models, shipped inside the ``face-recognition-models`` package.

The package's own ``__init__`` imports ``pkg_resources``; we build the paths from the
package folder instead. Detector and predictor are loaded lazily, once per process.
"""
from __future__ import annotations

import importlib.util
from functools import lru_cache
from pathlib import Path

from core.errors import IPEError

_FILES = {
    "shape_predictor_68": "shape_predictor_68_face_landmarks.dat",
    "shape_predictor_5": "shape_predictor_5_face_landmarks.dat",
    "mmod_detector": "mmod_human_face_detector.dat",
}


def dlib_model_path(name: str) -> Path:
    """Path of one of dlib's model files (``shape_predictor_68``, ``shape_predictor_5``, ``mmod_detector``)."""
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise IPEError(
            "the offline face models are missing: run `pip install face-recognition-models dlib-bin` "
            "(scripts/setup.sh installs them)"
        )
    path = Path(spec.submodule_search_locations[0]) / "models" / _FILES[name]
    if not path.is_file():
        raise IPEError(f"dlib model file not found at {path}; reinstall face-recognition-models")
    return path


@lru_cache(maxsize=1)
def hog_detector():  # -> dlib.fhog_object_detector
    import dlib

    return dlib.get_frontal_face_detector()


@lru_cache(maxsize=1)
def shape_predictor_68():  # -> dlib.shape_predictor
    import dlib

    return dlib.shape_predictor(str(dlib_model_path("shape_predictor_68")))
