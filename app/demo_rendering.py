"""What the demo draws: images made safe to show, frames annotated with landmarks, regions and
flow, the C3D's Grad-CAM over time, and the Models tab's table and figures."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from core.errors import MediaError
from core.labels import CLASS_NAMES
from core.media_limits import MediaLimits, open_image
from core.store.runs import RunInfo


def to_rgb(image: Any, limits: MediaLimits | None = None, *, max_side: int | None = None) -> np.ndarray:
    """An uploaded image (path, PIL image or array) as RGB uint8, at most ``max_side`` pixels a
    side (downscaled, aspect kept); a file is checked against ``limits`` before it is decoded.
    Unreadable or oversized input -> MediaError."""
    from PIL import Image

    limits = limits or MediaLimits.from_env()
    if isinstance(image, (str, Path)):
        with open_image(image, limits) as img:
            if max_side:
                img.draft("RGB", (max_side, max_side))  # JPEG decodes straight to a smaller scale
            try:
                return _bounded(img.convert("RGB"), max_side)
            except OSError as err:
                raise MediaError(f"not a readable image: {err}") from err
    if isinstance(image, Image.Image):
        limits.check_image(image.width, image.height, "the image")
        return _bounded(image.convert("RGB"), max_side)
    array = np.asarray(image)
    if array.ndim == 2:
        array = np.stack([array] * 3, axis=-1)
    if array.ndim != 3 or array.shape[2] not in (3, 4):
        raise MediaError(f"not an image array (shape {array.shape})")
    limits.check_image(array.shape[1], array.shape[0], "the image")
    rgb = np.ascontiguousarray(array[..., :3]).astype(np.uint8)
    return rgb if not max_side or max(rgb.shape[:2]) <= max_side else _bounded(Image.fromarray(rgb), max_side)


def _bounded(image: Any, max_side: int | None) -> np.ndarray:
    from PIL import Image

    if max_side and max(image.size) > max_side:
        image.thumbnail((max_side, max_side), Image.Resampling.BILINEAR)
    return np.asarray(image).copy()


def annotate_frames(video: str | Path, features: Any, count: int, *,
                    limits: MediaLimits | None = None) -> list[tuple[np.ndarray, str]]:
    """``count`` frames spread over the video with landmarks, the 36 regions and flow arrows.

    Decodes frame by frame and keeps only the ``count`` drawn, so memory does not grow with the
    video's length."""
    from core.reaction.draw import draw_flow, draw_regions
    from core.reaction.video import iter_frames

    found = np.flatnonzero(features.face_found[1:] & features.flow_valid) + 1 if len(features.flow_valid) else []
    if len(found) == 0:
        return []
    picks = np.unique(np.linspace(0, len(found) - 1, min(count, len(found))).astype(int))
    wanted = {int(found[p]) for p in picks}
    frames: dict[int, np.ndarray] = {}
    for i, (frame, _, _) in enumerate(iter_frames(video, max_frames=max(wanted) + 1, limits=limits)):
        if i in wanted:
            frames[i] = frame
    out = []
    for i in sorted(frames):
        image = draw_regions(frames[i], features.landmarks[i])
        image = draw_flow(image, features.landmarks[i], features.flow72[i - 1])
        out.append((image, f"frame {i} ({features.timestamps_s[i]:.2f} s)"))
    return out


def reaction_gradcam(predictor: Any, features: Any, *, per_clip: int = 2,
                     only: int | None = None) -> list[tuple[np.ndarray, str]]:
    """GradCAM of the C3D (3-D, last conv block) for each clip (or clip ``only``, 0-based), overlaid on
    ``per_clip`` frames of it; the target is the class the C3D gives the clips explained."""
    import torch
    from pytorch_grad_cam import GradCAM
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

    from core.reaction.clips import clips_to_tensor_input
    from models.preference.explain import overlay

    model = predictor.c3d_model
    mode = getattr(getattr(predictor.model, "config", None), "clip_norm", "unit")
    first = 0 if only is None else only
    clips = features.clips if only is None else features.clips[only:only + 1]
    inputs = torch.from_numpy(clips_to_tensor_input(clips, mode))
    with torch.no_grad():
        target = int(model(inputs).mean(0).argmax())
    out = []
    with GradCAM(model=model, target_layers=predictor.target_layers) as cam:
        heats = cam(input_tensor=inputs, targets=[ClassifierOutputTarget(target)] * len(inputs))  # (N, 16, H, W)
    fps = features.fps or 30.0
    for c, clip in enumerate(clips):
        for k in np.linspace(0, clip.shape[0] - 1, per_clip).astype(int):
            image = overlay(clip[k], heats[c, k])
            n = first + c
            out.append((image, f"clip {n + 1}, {(n * clip.shape[0] + k) / fps:.2f} s — {CLASS_NAMES[target]}"))
    return out


def runs_markdown(runs: list[RunInfo]) -> str:
    if not runs:
        return ("No trained runs yet. Train a reaction model with `python -m app train` or `python -m app compare`, "
                "a preference model with `python -m app train-preference`.")
    lines = ["| run | models | metrics | problem |", "|---|---|---|---|"]
    for run in runs:
        metrics = ", ".join(f"{k} {v:.3f}" for k, v in run.metrics.items() if isinstance(v, (int, float)))[:120]
        lines.append(f"| `{run.run_id}` | {', '.join(run.kinds) or '-'} | {metrics or '-'} | {run.problem or ''} |")
    return "\n".join(lines)


def run_figures(runs: list[RunInfo]) -> list[tuple[str, str]]:
    return [(str(p), f"{run.run_id}: {p.stem}") for run in runs for p in run.figures][:24]
