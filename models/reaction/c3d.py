"""Pixel-based estimator (PBE): C3D (Tran et al. 2015) as PLM-IPE §3.2 / §4.2 specifies.

Eight 3x3x3 convolutions (64, 128, 256, 256, 512, 512, 512, 512 channels, stride 1, padding 1),
five max-pools (the first 1x2x2, the others 2x2x2, all with stride = kernel; pool5 pads (0,1,1)
as in the Caffe/Sports-1M model, so a 16x112x112 clip flattens to 512*1*4*4 = 8192), fc6 and fc7
of 4096 units with ReLU and dropout 0.5, then a linear layer to 3 classes (eq. 2; softmax applied
by the caller). ``width`` scales every channel count and ``fc_dim`` the fc layers so tests can run
a tiny network of the same shape; ``width=1, fc_dim=4096`` is the paper's network.

Options that are not the paper's (defaults off; measured in docs/c3d_learning.md): ``norm="batch"``
puts a BatchNorm3d after every conv (before its ReLU): without it a small C3D trained from scratch
(width 1/16, the CPU size) does not even fit 32 clips; ``init="pytorch"`` keeps PyTorch's
default init instead of He's. The CPU preset (``models.reaction.registry.CPU_PRESET``) uses BatchNorm.

Feature (eq. 1): the 4096-d fc7 activation (``feature="fc7"``; ``"fc6"`` is an option: the paper
does not say which one).

Clips of a video: the network scores one clip of shape (3, 16, 112, 112); a video's clips are
combined by averaging the clip *probabilities* (softmax of the logits), as mmaction2 does for
C3D test-time clip scores. During training one random clip per video is drawn each step
(see ``models/training/data.py``).

Sports-1M initialisation (optional, ``load_sports1m``): the only public C3D weights are the
Caffe-ported Sports-1M ones (e.g. DavideA/c3d-pytorch's ``c3d.pickle``). They expect **BGR**
input with the Sports-1M mean (about 90.25, 97.66, 101.41 in BGR) subtracted from 0-255 pixels:
use ``clip_norm="sports1m"`` (``core.reaction.clips.clips_to_tensor_input(mode="sports1m")``) with them.
This kit never unpickles: convert the file once, yourself, in an environment you trust::

    import torch; from safetensors.torch import save_file
    sd = torch.load("c3d.pickle", weights_only=True)   # refuses anything but tensors/containers
    save_file({k: v.contiguous() for k, v in sd.items()}, "c3d_sports1m.safetensors")

``weights_only=True`` only works when the pickle holds plain tensors (DavideA's does: it is a
state dict). If it refuses, the file holds arbitrary objects: do not force it open.
The loader maps DavideA's names (``conv1.weight`` ... ``fc7.bias``; ``fc8`` is the 487-way
Sports-1M head and is dropped) onto this module, checks every shape and says what is missing.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from torch import nn

from core.errors import CheckpointError

NORMS = ("none", "batch")
INITS = ("he", "pytorch")
PAPER_CHANNELS = (64, 128, 256, 256, 512, 512, 512, 512)
CONV_NAMES = ("conv1", "conv2", "conv3a", "conv3b", "conv4a", "conv4b", "conv5a", "conv5b")
POOL_AFTER = {"conv1": (1, 2, 2), "conv2": (2, 2, 2), "conv3b": (2, 2, 2), "conv4b": (2, 2, 2), "conv5b": (2, 2, 2)}


@dataclass(frozen=True)
class C3DConfig:
    width: float = 1.0  # channel multiplier (1.0 = paper)
    fc_dim: int = 4096  # fc6/fc7 units (4096 = paper)
    num_classes: int = 3
    dropout: float = 0.5
    clip_len: int = 16
    size: int = 112
    feature: str = "fc7"  # which activation is f^P (eq. 1): "fc7" or "fc6"
    norm: str = "none"  # "batch": BatchNorm3d after every conv (not in the paper; see docs/c3d_learning.md)
    init: str = "he"  # "he": He fan-out convs, PyTorch's default fcs; "pytorch": PyTorch's default everywhere

    def channels(self) -> tuple[int, ...]:
        return tuple(max(1, int(round(c * self.width))) for c in PAPER_CHANNELS)

    def flat_dim(self) -> int:
        t, s = self.clip_len, self.size
        t, s = t, s // 2  # pool1 1x2x2
        for _ in range(3):  # pool2..pool4
            t, s = t // 2, s // 2
        t, s = t // 2, (s + 2) // 2  # pool5 with padding (0,1,1)
        if t < 1 or s < 1:
            raise ValueError(f"clip {self.clip_len}x{self.size}x{self.size} is too small for C3D's 5 pools; use >= 16x16x16")
        return self.channels()[-1] * t * s * s


class C3D(nn.Module):
    """C3D backbone + 3-way linear head; ``forward`` returns logits (N, num_classes)."""

    def __init__(self, config: C3DConfig = C3DConfig()) -> None:
        super().__init__()
        if config.feature not in ("fc6", "fc7"):
            raise ValueError(f"C3D feature must be 'fc6' or 'fc7', not {config.feature!r}")
        if config.norm not in NORMS:
            raise ValueError(f"C3D norm must be one of {', '.join(NORMS)}, not {config.norm!r}")
        if config.init not in INITS:
            raise ValueError(f"C3D init must be one of {', '.join(INITS)}, not {config.init!r}")
        self.config = config
        chans = config.channels()
        c_in = 3
        batch_norm = config.norm == "batch"
        for name, c_out in zip(CONV_NAMES, chans):
            setattr(self, name, nn.Conv3d(c_in, c_out, kernel_size=3, padding=1))
            c_in = c_out
        # empty without BatchNorm, so runs saved before the option load unchanged
        self.norms = nn.ModuleDict({name: nn.BatchNorm3d(c) for name, c in zip(CONV_NAMES, chans)} if batch_norm else {})
        self.pools = nn.ModuleDict({
            name: nn.MaxPool3d(k, stride=k, padding=(0, 1, 1) if name == "conv5b" else 0) for name, k in POOL_AFTER.items()
        })
        self.fc6 = nn.Linear(config.flat_dim(), config.fc_dim)
        self.fc7 = nn.Linear(config.fc_dim, config.fc_dim)
        self.dropout = nn.Dropout(config.dropout)
        self.relu = nn.ReLU(inplace=False)
        self.head = nn.Linear(config.fc_dim, config.num_classes)  # W_p, b_p of eq. 2
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """``init="he"``: He (kaiming-normal, fan-out) init for the convs, zero biases: PyTorch's
        default init shrinks activations through 8 plain ReLU convs. ``"pytorch"`` keeps PyTorch's
        default (for the measurements in docs/c3d_learning.md)."""
        if self.config.init == "pytorch":
            return
        for name in CONV_NAMES:
            conv = getattr(self, name)
            nn.init.kaiming_normal_(conv.weight, mode="fan_out", nonlinearity="relu")
            nn.init.zeros_(conv.bias)

    @property
    def feature_dim(self) -> int:
        return self.config.fc_dim

    @property
    def target_layers(self) -> list[nn.Module]:
        """Layers for Grad-CAM (last conv block)."""
        return [self.conv5b]

    def conv_features(self, x: torch.Tensor) -> torch.Tensor:
        for name in CONV_NAMES:
            x = getattr(self, name)(x)
            if name in self.norms:
                x = self.norms[name](x)
            x = self.relu(x)
            if name in self.pools:
                x = self.pools[name](x)
        return x

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """(N, 3, 16, H, W) -> f^P (N, fc_dim)."""
        x = self.conv_features(x).flatten(1)
        x = self.dropout(self.relu(self.fc6(x)))
        if self.config.feature == "fc6":
            return x
        return self.dropout(self.relu(self.fc7(x)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


def c3d_param_count(config: C3DConfig) -> int:
    """Parameter count computed from the layer list alone (golden value for tests)."""
    chans, total, c_in = config.channels(), 0, 3
    for c_out in chans:
        total += c_in * c_out * 27 + c_out
        c_in = c_out
    if config.norm == "batch":
        total += 2 * sum(chans)
    f = config.fc_dim
    total += config.flat_dim() * f + f + f * f + f + f * config.num_classes + config.num_classes
    return total


def load_sports1m(model: C3D, path: str | Path, *, strict: bool = True) -> list[str]:
    """Initialise conv1..fc7 from a Sports-1M C3D state dict saved as safetensors.

    Returns the names loaded. Refuses pickles (convert first, see the module docstring).
    """
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    path = Path(path)
    if path.suffix.lower() in (".pickle", ".pkl", ".pth", ".pt", ".tar"):
        raise CheckpointError(
            f"{path} looks like a pickle; it is never loaded here. Convert it once with "
            "torch.load(path, weights_only=True) + safetensors.torch.save_file (see models/reaction/c3d.py)"
        )
    try:
        source = load_file(str(path))
    except (SafetensorError, OSError, ValueError) as err:
        raise CheckpointError(f"{path} is not a readable safetensors file: {err}") from err
    source = {k.removeprefix("module."): v for k, v in source.items()}
    target = model.state_dict()
    loaded: list[str] = []
    for name in (*CONV_NAMES, "fc6", "fc7"):
        for part in ("weight", "bias"):
            key = f"{name}.{part}"
            if key not in source:
                if strict:
                    raise CheckpointError(f"{path} has no {key!r}; expected a C3D state dict with conv1..conv5b, fc6, fc7")
                continue
            if source[key].shape != target[key].shape:
                raise CheckpointError(
                    f"{key}: file shape {tuple(source[key].shape)} != model shape {tuple(target[key].shape)}; "
                    "Sports-1M weights need width=1, fc_dim=4096, 16x112x112 clips"
                )
            target[key] = source[key].to(target[key].dtype)
            loaded.append(key)
    model.load_state_dict(target)
    return loaded


def c3d_config_dict(config: C3DConfig) -> dict:
    return asdict(config)
