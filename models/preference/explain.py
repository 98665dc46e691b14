"""Grad-CAM explanations for preference models, and their agreement with people's clicks.

Heat maps come from pytorch-grad-cam (``pytorch_grad_cam``) with a selectable method; each map
is (H, W) in [0, 1] at the input size. :func:`agreement_with_clicks` computes the paper's
Table 5: per class, the share of images whose heat-map peak region contains the labeler's
decisive-region click.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch
from torch import nn

from core.labels import PREFERENCE_CLASSES

# name -> pytorch_grad_cam class name; gradient-free methods (EigenCAM) work too
METHODS = {
    "gradcam": "GradCAM", "gradcam++": "GradCAMPlusPlus", "eigencam": "EigenCAM",
    "xgradcam": "XGradCAM", "layercam": "LayerCAM", "hirescam": "HiResCAM",
}


def cam_class(method: str) -> type:
    import pytorch_grad_cam

    key = method.lower().replace("_", "").replace("plusplus", "++")
    if key not in METHODS:
        raise ValueError(f"unknown CAM method {method!r}; choose one of {', '.join(METHODS)}")
    return getattr(pytorch_grad_cam, METHODS[key])


def compute_heatmaps(model: nn.Module, layers: Sequence[nn.Module], inputs: torch.Tensor, *,
                     method: str = "gradcam", target_class: int | Sequence[int] = 1) -> np.ndarray:
    """Heat maps (N, H, W) in [0, 1] for ``inputs`` (N, C, H, W) explaining ``target_class`` (1 = preferred)."""
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

    model.eval()
    classes = [target_class] * len(inputs) if isinstance(target_class, int) else list(target_class)
    targets = [ClassifierOutputTarget(int(c)) for c in classes]
    with cam_class(method)(model=model, target_layers=list(layers)) as cam:
        heat = cam(input_tensor=inputs, targets=targets)
    heat = np.nan_to_num(np.asarray(heat, dtype=np.float32))
    # pytorch-grad-cam scales each map by its max; flat maps stay 0, keep the range [0, 1]
    return np.clip(heat, 0.0, 1.0)


def overlay(image_rgb: np.ndarray, heat: np.ndarray, *, image_weight: float = 0.5) -> np.ndarray:
    """The heat map drawn over the image (uint8 RGB), via ``show_cam_on_image``."""
    from pytorch_grad_cam.utils.image import show_cam_on_image
    from PIL import Image

    image = np.asarray(image_rgb)
    if image.ndim == 2:
        image = np.repeat(image[..., None], 3, axis=2)
    image = image.astype(np.float32) / 255.0 if image.dtype == np.uint8 else image.astype(np.float32)
    if heat.shape != image.shape[:2]:
        heat = np.asarray(Image.fromarray(heat.astype(np.float32)).resize(image.shape[1::-1], Image.BILINEAR))
    return show_cam_on_image(np.clip(image, 0, 1), np.clip(heat, 0, 1), use_rgb=True, image_weight=image_weight)


def save_overlays(images_rgb: Sequence[np.ndarray], heats: Sequence[np.ndarray], folder: str | Path,
                  names: Sequence[str]) -> list[Path]:
    from PIL import Image

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for image, heat, name in zip(images_rgb, heats, names):
        path = folder / f"{name}.png"
        Image.fromarray(overlay(image, heat)).save(path)
        paths.append(path)
    return paths


def peak_xy(heat: np.ndarray) -> tuple[float, float]:
    """The heat map's maximum as image fractions (x, y), pixel centres."""
    row, col = np.unravel_index(int(np.argmax(heat)), heat.shape)
    return ((col + 0.5) / heat.shape[1], (row + 0.5) / heat.shape[0])


def peak_in_mask(heat: np.ndarray, mask: np.ndarray) -> bool:
    """Whether the heat maximum falls on a True pixel of ``mask`` (same shape)."""
    row, col = np.unravel_index(int(np.argmax(heat)), heat.shape)
    return bool(mask[row, col])


def click_matches(heat: np.ndarray, click_xy: tuple[float, float], *, rule: str = "grid", grid: int = 3,
                  top_fraction: float = 0.2) -> bool:
    """Does the heat map's peak region contain the click (x, y in image fractions)?

    ``rule="grid"``: the cell of a ``grid`` x ``grid`` partition that holds the heat maximum also
    holds the click. ``rule="top"``: the click pixel is among the hottest ``top_fraction`` of pixels.
    """
    h, w = heat.shape
    cx = min(int(click_xy[0] * w), w - 1)
    cy = min(int(click_xy[1] * h), h - 1)
    if rule == "grid":
        px, py = peak_xy(heat)
        cell = lambda v: min(int(v * grid), grid - 1)  # noqa: E731
        return cell(px) == cell(click_xy[0]) and cell(py) == cell(click_xy[1])
    if rule == "top":
        threshold = np.quantile(heat, 1.0 - top_fraction)
        return bool(heat[cy, cx] >= threshold)
    raise ValueError(f"unknown agreement rule {rule!r}; use 'grid' or 'top'")


@dataclass(frozen=True)
class AgreementRow:
    cls: str
    matched: int
    total: int
    no_click: int

    @property
    def share(self) -> float:
        return self.matched / self.total if self.total else float("nan")


def agreement_with_clicks(heats: Sequence[np.ndarray], clicks: Sequence[tuple[float, float] | None],
                          classes: Sequence[int], *, class_names: Sequence[str] = PREFERENCE_CLASSES,
                          rule: str = "grid", grid: int = 3, top_fraction: float = 0.2) -> dict[str, AgreementRow]:
    """Paper's Table 5: per class, how many heat maps' peak region contains the click.

    Pass the images to evaluate (the paper uses the correctly classified test images) with their
    class; images without a click are counted in ``no_click`` and left out of the share.
    """
    if not (len(heats) == len(clicks) == len(classes)):
        raise ValueError(f"{len(heats)} heat maps, {len(clicks)} clicks and {len(classes)} classes must match")
    out: dict[str, AgreementRow] = {}
    for index, name in enumerate(class_names):
        matched = total = no_click = 0
        for heat, click, cls in zip(heats, clicks, classes):
            if int(cls) != index:
                continue
            if click is None:
                no_click += 1
                continue
            total += 1
            matched += click_matches(np.asarray(heat), click, rule=rule, grid=grid, top_fraction=top_fraction)
        out[name] = AgreementRow(name, matched, total, no_click)
    return out


def agreement_table(rows: dict[str, AgreementRow]) -> list[dict[str, Any]]:
    return [{"class": r.cls, "matched": r.matched, "total": r.total, "share": r.share, "no_click": r.no_click}
            for r in rows.values()]
