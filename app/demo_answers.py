"""Answers kept for the demo's example videos, so that a click on an example answers at once.

A reaction video costs seconds of feature extraction and prediction on a CPU; the examples are
the same few files every time, so their whole answers (probabilities, the per-clip timeline and
the frames with landmarks drawn) are computed once -- by ``python -m app demo-models`` after it
trains the DEMO models, and in the background when the demo starts -- and kept under
``<home>/demo-data/examples/answers/<key>/`` (beside the examples, in the folder the demo serves).

The key is the video's content hash, the model's weights and settings, and the analysis
settings, so a retrained run or another video never meets a stale answer. An upload is only
looked up by its content hash (an example sent again answers at once); nothing about it is
stored, as the demo page promises. Files are written crash-safely and read without pickle.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import threading
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from core.files import TEMP_PREFIX, atomic_write_json, fsync_dir, sha256_file

ANSWER_FORMAT = 1  # bump when the analysis or the file layout changes: older answers are ignored


def model_digest(checkpoint: Path) -> str:
    """What identifies a checkpoint's model: its weights and config (hashed; callers keep it)."""
    digest = hashlib.sha256()
    for name in ("model.safetensors", "config.json"):
        part = checkpoint / name
        digest.update(f"{name}:{sha256_file(part) if part.is_file() else '-'}\n".encode())
    return digest.hexdigest()


def answer_key(video: str | Path, model: str, settings: Any) -> str:
    """A name for the answer of ``video`` by the model ``model`` (:func:`model_digest`) under
    ``settings`` (anything with a stable ``repr``: the feature and sampling settings)."""
    digest = hashlib.sha256(f"format {ANSWER_FORMAT}\nmodel {model}\n{settings!r}\n".encode())
    digest.update(sha256_file(video).encode())
    return digest.hexdigest()[:32]


def save_answer(folder: Path, key: str, fields: dict[str, Any]) -> Path:
    """Write one answer as a folder ``<folder>/<key>/``: ``answer.json`` and the annotated frames
    as JPEG files (the page shows them as they are: nothing to encode on a click). The folder is
    staged under a temporary name and renamed into place, so it is whole or absent."""
    target = folder / key
    staged = folder / f"{TEMP_PREFIX}{key}-{os.getpid()}-{threading.get_ident()}"
    shutil.rmtree(staged, ignore_errors=True)
    staged.mkdir(parents=True)
    try:
        captions = []
        for i, (image, caption) in enumerate(fields["annotated_frames"]):
            Image.fromarray(np.asarray(image, dtype=np.uint8)).save(staged / f"frame-{i}.jpg", quality=90)
            captions.append(caption)
        clip_probs = fields.get("clip_probs")
        meta = {k: v for k, v in fields.items() if k not in ("annotated_frames", "clip_probs", "cam_frames")}
        meta.update(captions=captions, clip_probs=None if clip_probs is None else np.asarray(clip_probs).tolist())
        atomic_write_json(staged / "answer.json", meta)
        if target.exists():
            if load_answer(folder, key) is not None:  # a concurrent writer got there first: theirs stands
                shutil.rmtree(staged)
                return target
            damaged = folder / f"{TEMP_PREFIX}damaged-{key}-{os.getpid()}"
            target.rename(damaged)  # a damaged answer is replaced, never half-overwritten
            shutil.rmtree(damaged, ignore_errors=True)
        staged.rename(target)
        fsync_dir(folder)
    except BaseException:
        shutil.rmtree(staged, ignore_errors=True)
        raise
    return target


def load_answer(folder: Path, key: str) -> dict[str, Any] | None:
    """The fields of a kept answer (frames as JPEG file paths), or None when there is none or it
    cannot be read: it is then simply computed again."""
    target = folder / key
    try:
        meta = json.loads((target / "answer.json").read_text())
        captions = meta.pop("captions")
        frames = [target / f"frame-{i}.jpg" for i in range(len(captions))]
        if not all(frame.is_file() for frame in frames):
            return None
        clip_probs = meta.pop("clip_probs")
        meta["clip_times"] = [tuple(pair) for pair in meta.get("clip_times", [])]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return {**meta, "annotated_frames": list(zip(frames, captions)), "cam_frames": [],
            "clip_probs": None if clip_probs is None else np.asarray(clip_probs, dtype=np.float32)}
