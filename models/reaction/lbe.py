"""Landmark-based estimator (LBE): an LSTM over the per-frame 72-d flow descriptor (PLM-IPE §3.3).

Input: ``flow`` (B, T, 72) float, ``valid`` (B, T) bool (False for padding and for frames without
a face), ``lengths`` (B,) the number of real steps. Frames without a face are zeroed and, with
``mask_channel=True`` (default), a 73rd input channel tells the LSTM which frames are real;
padding after ``lengths`` is skipped with packed sequences; a linear layer maps f^L (H = 256) to
3 logits (eq. 4, softmax by the caller).

Two settings the paper leaves open, and why their defaults are what they are (measured on the
SYNTHETIC rendered set, 288 train / 72 held-out videos of held-out volunteers, see
``bench/bench_synthetic_set.py``): the descriptor's channels have very different scales
(orientations in [0, 1) vary by ~0.3 and are mostly noise, magnitudes by ~0.02-0.1), and an
expression is a short burst in a long, noisy sequence. With raw inputs and the last hidden state
as f^L the LSTM memorised the training set (train accuracy 1.0) and stayed at chance held out
(0.33), while a logistic regression on per-video means reached 0.89. ``input_norm`` (each channel
standardised with the mean and standard deviation of the training set's valid frames, set once
before training by :func:`fit_input_norm` and kept in the checkpoint as buffers: fixed during
training, the same on every DDP rank, untouched by the peer's mutual-learning step) and
``pooling="mean"`` (f^L = mean of the LSTM outputs over the real steps) together give ~0.8;
either alone stays at chance. ``pooling="last"`` and ``input_norm=False`` give the previous
model (and are what runs saved before these settings load with).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

import numpy as np
import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence


@dataclass(frozen=True)
class LBEConfig:
    input_dim: int = 72
    hidden: int = 256  # H of the paper
    num_layers: int = 1
    num_classes: int = 3
    mask_channel: bool = True
    input_norm: bool = True  # standardise each channel with the training set's statistics
    pooling: str = "mean"  # f^L: "mean" of the outputs over the real steps, or the "last" hidden state

    def __post_init__(self) -> None:
        if self.pooling not in ("mean", "last"):
            raise ValueError(f"pooling must be 'mean' or 'last', not {self.pooling!r}")


class LandmarkLSTM(nn.Module):
    def __init__(self, config: LBEConfig = LBEConfig()) -> None:
        super().__init__()
        self.config = config
        extra = 1 if config.mask_channel else 0
        self.lstm = nn.LSTM(config.input_dim + extra, config.hidden, num_layers=config.num_layers, batch_first=True)
        self.head = nn.Linear(config.hidden, config.num_classes)  # W_L, b_L of eq. 4
        if config.input_norm:  # identity until fit_input_norm sets the training set's statistics
            self.register_buffer("input_mean", torch.zeros(config.input_dim))
            self.register_buffer("input_std", torch.ones(config.input_dim))

    @property
    def feature_dim(self) -> int:
        return self.config.hidden

    def features(self, flow: torch.Tensor, valid: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        if flow.ndim != 3 or flow.shape[-1] != self.config.input_dim:
            raise ValueError(f"flow must be (B, T, {self.config.input_dim}), got {tuple(flow.shape)}")
        steps = torch.arange(flow.shape[1], device=flow.device)
        valid = valid & (steps[None, :] < lengths.to(flow.device)[:, None])  # padding is never valid
        v = valid.to(flow.dtype).unsqueeze(-1)
        x = flow * v
        if self.config.input_norm:
            x = (flow - self.input_mean) / self.input_std * v
        if self.config.mask_channel:
            x = torch.cat([x, v], dim=-1)
        lengths = lengths.clamp(min=1).cpu()
        packed = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
        out, (h, _) = self.lstm(packed)
        if self.config.pooling == "last":
            return h[-1]
        out, _ = pad_packed_sequence(out, batch_first=True, total_length=flow.shape[1])
        mask = v[:, : out.shape[1]]
        # a sequence without any valid frame falls back to the plain mean over its real steps
        none = mask.sum(1) == 0
        real = (steps[None, :] < lengths.to(flow.device)[:, None]).to(flow.dtype).unsqueeze(-1)
        mask = torch.where(none[:, None, :], real, mask)
        return (out * mask).sum(1) / mask.sum(1).clamp(min=1)

    def forward(self, flow: torch.Tensor, valid: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(flow, valid, lengths))


@torch.no_grad()
def fit_input_norm(lbe: LandmarkLSTM, flows: Iterable[np.ndarray], valids: Iterable[np.ndarray]) -> None:
    """Set ``lbe``'s input standardisation from the valid frames of a training set (one pass)."""
    if not lbe.config.input_norm:
        return
    total, total_sq, count = np.zeros(lbe.config.input_dim), np.zeros(lbe.config.input_dim), 0
    for flow, valid in zip(flows, valids):
        frames = np.asarray(flow, np.float64)[np.asarray(valid, bool)[: len(flow)]]
        total += frames.sum(0)
        total_sq += (frames ** 2).sum(0)
        count += len(frames)
    if count < 2:
        raise ValueError("no frames with a face in the training set: cannot standardise the LBE's input")
    mean = total / count
    std = np.sqrt(np.maximum(total_sq / count - mean ** 2, 0.0))
    lbe.input_mean.copy_(torch.as_tensor(mean, dtype=torch.float32))
    lbe.input_std.copy_(torch.as_tensor(np.maximum(std, 1e-6), dtype=torch.float32))
