"""Landmark-based estimator (LBE): an LSTM over the per-frame 72-d flow descriptor (PLM-IPE §3.3).

Input: ``flow`` (B, T, 72) float, ``valid`` (B, T) bool (False for padding and for frames without
a face), ``lengths`` (B,) the number of real steps. Frames without a face are zeroed and, with
``mask_channel=True`` (default), a 73rd input channel tells the LSTM which frames are real;
padding after ``lengths`` is skipped with packed sequences. f^L (eq. 3) is the last hidden state
at the last real step (H = 256); a linear layer maps it to 3 logits (eq. 4, softmax by the caller).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence


@dataclass(frozen=True)
class LBEConfig:
    input_dim: int = 72
    hidden: int = 256  # H of the paper
    num_layers: int = 1
    num_classes: int = 3
    mask_channel: bool = True


class LandmarkLSTM(nn.Module):
    def __init__(self, config: LBEConfig = LBEConfig()) -> None:
        super().__init__()
        self.config = config
        extra = 1 if config.mask_channel else 0
        self.lstm = nn.LSTM(config.input_dim + extra, config.hidden, num_layers=config.num_layers, batch_first=True)
        self.head = nn.Linear(config.hidden, config.num_classes)  # W_L, b_L of eq. 4

    @property
    def feature_dim(self) -> int:
        return self.config.hidden

    def features(self, flow: torch.Tensor, valid: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        if flow.ndim != 3 or flow.shape[-1] != self.config.input_dim:
            raise ValueError(f"flow must be (B, T, {self.config.input_dim}), got {tuple(flow.shape)}")
        v = valid.to(flow.dtype).unsqueeze(-1)
        x = flow * v
        if self.config.mask_channel:
            x = torch.cat([x, v], dim=-1)
        lengths = lengths.clamp(min=1).cpu()
        packed = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
        _, (h, _) = self.lstm(packed)
        return h[-1]

    def forward(self, flow: torch.Tensor, valid: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(flow, valid, lengths))
