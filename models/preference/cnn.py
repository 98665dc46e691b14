"""The paper's VGG-style preference CNN (3x3 and 1x1 convolutions, pooling, two hidden FC layers).

The network ends in two logits (0 = not preferred, 1 = preferred); softmax gives P(preferred).
``features`` is the part reused by transfer learning; ``classifier`` is replaced by a new head.
``target_layers(model)`` names the layer Grad-CAM looks at (the last convolution block).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn

NUM_CLASSES = 2
PREFERRED = 1


@dataclass(frozen=True)
class PreferenceCNNConfig:
    image_size: int = 28            # square input side; any size >= 2**len(widths)
    in_channels: int = 1            # 1 grayscale, 3 colour
    widths: tuple[int, ...] = (32, 64, 128)  # one block per width, each halves the resolution
    hidden: tuple[int, int] = (256, 128)     # the two hidden fully connected layers
    dropout: float = 0.3

    def to_dict(self) -> dict:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, data: dict) -> "PreferenceCNNConfig":
        known = {k: data[k] for k in cls.__dataclass_fields__ if k in data}
        for key in ("widths", "hidden"):
            if key in known:
                known[key] = tuple(known[key])
        return cls(**known)


def _block(in_ch: int, out_ch: int) -> nn.Sequential:
    """conv3x3 -> conv3x3 -> conv1x1 (channel mixing, VGG/NiN style) -> 2x2 max-pool."""
    return nn.Sequential(
        nn.Conv2d(in_ch, out_ch, 3, padding=1), nn.BatchNorm2d(out_ch), nn.ReLU(inplace=True),
        nn.Conv2d(out_ch, out_ch, 3, padding=1), nn.BatchNorm2d(out_ch), nn.ReLU(inplace=True),
        nn.Conv2d(out_ch, out_ch, 1), nn.ReLU(inplace=True),
        nn.MaxPool2d(2),
    )


class PreferenceCNN(nn.Module):
    def __init__(self, config: PreferenceCNNConfig = PreferenceCNNConfig()) -> None:
        super().__init__()
        if config.image_size < 2 ** len(config.widths):
            raise ValueError(f"image_size {config.image_size} is too small for {len(config.widths)} pooling blocks")
        self.config = config
        blocks, in_ch = [], config.in_channels
        for width in config.widths:
            blocks.append(_block(in_ch, width))
            in_ch = width
        self.features = nn.Sequential(*blocks)
        # a fixed 4x4 grid before the FC layers keeps the head size independent of the input size,
        # so source (28x28) features transfer to targets of any size with the same head shape
        self.pool = nn.AdaptiveAvgPool2d(4)
        self.classifier = new_head(in_ch * 16, config.hidden, config.dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(torch.flatten(self.pool(self.features(x)), 1))


def new_head(in_features: int, hidden: tuple[int, int], dropout: float) -> nn.Sequential:
    """Two hidden FC layers and the 2-way output (logits; softmax applied by the loss / predictor)."""
    return nn.Sequential(
        nn.Linear(in_features, hidden[0]), nn.ReLU(inplace=True), nn.Dropout(dropout),
        nn.Linear(hidden[0], hidden[1]), nn.ReLU(inplace=True), nn.Dropout(dropout),
        nn.Linear(hidden[1], NUM_CLASSES),
    )


def target_layers(model: PreferenceCNN) -> list[nn.Module]:
    """Grad-CAM target: the last convolution block (before its pooling keeps 2x more resolution)."""
    last = model.features[-1]
    return [last[-2]]  # ReLU after the 1x1 conv of the last block


def reset_head(model: PreferenceCNN) -> PreferenceCNN:
    """Transfer learning: keep ``features``, replace ``classifier`` with a freshly initialised head."""
    cfg = model.config
    model.classifier = new_head(cfg.widths[-1] * 16, cfg.hidden, cfg.dropout)
    return model
