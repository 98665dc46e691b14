"""Load a trained preference model and use it: P(preferred) and a Grad-CAM heat map per image.

A preference checkpoint is a folder written by :func:`save_preference_model` through
``models/checkpoint.py`` with kind ``"preference-cnn"``; ``config.json`` holds ``arch``
(``"vgg"`` or ``"efficientnet-lite0"``), ``model`` (the architecture config) and ``input``
(``size``, ``channels``). Images given to the predictor are RGB (or gray) uint8 arrays of any
size; they are resized to the model's input size.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from core.errors import CheckpointError
from core.labels import PREFERENCE_CLASSES
from models.checkpoint import PREFERENCE_KIND, build_checked, load_checkpoint, save_checkpoint

ARCHS = ("vgg", "efficientnet-lite0")


def _build(arch: str, model_config: dict[str, Any]) -> tuple[nn.Module, list[nn.Module]]:
    if arch == "vgg":
        from models.preference.cnn import PreferenceCNN, PreferenceCNNConfig, target_layers

        model = PreferenceCNN(PreferenceCNNConfig.from_dict(model_config))
    elif arch == "efficientnet-lite0":
        from models.preference.efficientnet import EfficientNetConfig, EfficientNetPreference, target_layers

        model = EfficientNetPreference(EfficientNetConfig.from_dict(model_config), pretrained=False)
    else:
        raise CheckpointError(f"unknown preference architecture {arch!r}; this kit knows {', '.join(ARCHS)}")
    return model, target_layers(model)


def arch_of(model: nn.Module) -> str:
    from models.preference.cnn import PreferenceCNN

    return "vgg" if isinstance(model, PreferenceCNN) else "efficientnet-lite0"


def save_preference_model(folder: str | os.PathLike[str], model: nn.Module, extra: dict[str, Any] | None = None) -> Path:
    """Checkpoint ``model`` (PreferenceCNN or EfficientNetPreference) with what is needed to rebuild it."""
    cfg = model.config
    config = {"arch": arch_of(model), "model": cfg.to_dict(),
              "input": {"size": cfg.image_size, "channels": cfg.in_channels},
              "class_names": list(PREFERENCE_CLASSES), **(extra or {})}
    return save_checkpoint(folder, model.state_dict(), config, PREFERENCE_KIND)


class PreferencePredictor:
    """A loaded preference model: ``predict`` gives P(preferred), ``explain`` a heat map."""

    def __init__(self, model: nn.Module, target_layers: list[nn.Module], config: dict[str, Any]) -> None:
        self.model = model.eval()
        self.target_layers = target_layers
        self.config = config
        self.size = int(config["input"]["size"])
        self.channels = int(config["input"]["channels"])

    def to_input(self, image_rgb: np.ndarray) -> torch.Tensor:
        """(1, C, size, size) float tensor in [0, 1] from an RGB/gray uint8 (or [0, 1] float) image."""
        from PIL import Image

        image = np.asarray(image_rgb)
        if image.dtype != np.uint8:
            image = (np.clip(image, 0, 1) * 255).astype(np.uint8)
        if image.ndim == 3 and image.shape[2] == 4:
            image = image[..., :3]
        pil = Image.fromarray(image).convert("L" if self.channels == 1 else "RGB")
        pil = pil.resize((self.size, self.size), Image.BILINEAR)
        arr = np.asarray(pil, dtype=np.float32) / 255.0
        arr = arr[None] if self.channels == 1 else arr.transpose(2, 0, 1)
        return torch.from_numpy(np.ascontiguousarray(arr))[None]

    @torch.no_grad()
    def predict(self, image_rgb: np.ndarray) -> float:
        return float(torch.softmax(self.model(self.to_input(image_rgb)), 1)[0, 1])

    def explain(self, image_rgb: np.ndarray, method: str = "gradcam", target_class: int = 1) -> np.ndarray:
        """Heat map (H, W) in [0, 1] at the image's own size, explaining ``target_class`` (1 = preferred)."""
        from PIL import Image

        from models.preference.explain import compute_heatmaps

        heat = compute_heatmaps(self.model, self.target_layers, self.to_input(image_rgb),
                                method=method, target_class=target_class)[0]
        h, w = np.asarray(image_rgb).shape[:2]
        if heat.shape != (h, w):
            heat = np.asarray(Image.fromarray(heat).resize((w, h), Image.BILINEAR), dtype=np.float32)
        return np.clip(heat, 0.0, 1.0)


def load_preference_model(folder: str | os.PathLike[str]) -> PreferencePredictor:
    """Rebuild the model from a ``preference-cnn`` checkpoint folder (CheckpointError otherwise)."""
    state, config = load_checkpoint(folder, kind=PREFERENCE_KIND)
    if "arch" not in config or "model" not in config or "input" not in config:
        raise CheckpointError(f"{folder}: config.json lacks arch/model/input; train it again with train-preference")
    model, layers = build_checked(lambda: _build(config["arch"], config["model"]), state, folder)
    try:
        model.load_state_dict(state)
    except RuntimeError as err:
        raise CheckpointError(f"{folder}: weights do not fit the {config['arch']} model in config.json: {err}") from err
    return PreferencePredictor(model, layers, config)
