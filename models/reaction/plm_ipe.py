"""PLM-IPE (§3): the two estimators, their fused prediction, and the alternating mutual step.

``ReactionModel`` holds a PBE (``.pbe``, C3D) and/or an LBE (``.lbe``, LandmarkLSTM) according to
its variant (``models/reaction/registry.py``) and turns a batch into logits per estimator, or, at
evaluation, into per-video probabilities: PBE clip probabilities averaged over all the video's
clips, LBE over the whole sequence, ``fused = lambda * y^L + (1 - lambda) * y^P`` (eq. 8,
lambda 0.3).

Training of the PLM-IPE variant alternates (§3.4): a PBE step (CE + KL to the detached LBE
output, only the PBE optimiser steps), then an LBE step (CE + KL to the detached PBE output of
the same batch, computed before the PBE update, which saves a second C3D forward; only the LBE
optimiser steps).
"""
from __future__ import annotations

import contextlib
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Callable

import torch
from torch import nn

from models.reaction.c3d import C3D, C3DConfig
from models.reaction.lbe import LandmarkLSTM, LBEConfig
from models.reaction.mutual import MutualConfig, fuse, mutual_loss

Autocast = Callable[[], contextlib.AbstractContextManager]


@dataclass(frozen=True)
class ModelConfig:
    variant: str = "plm-ipe"
    c3d: C3DConfig = field(default_factory=C3DConfig)
    lbe: LBEConfig = field(default_factory=LBEConfig)
    mutual: MutualConfig = field(default_factory=MutualConfig)
    early_beta_l: float = 0.3  # EarlyFusion: y = beta1 * y^L + beta2 * y^P with beta2 = 1 - beta1
    clip_norm: str = "unit"  # C3D input: one of core.reaction.clips.CLIP_NORMS (unit = x/127.5-1, RGB)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "ModelConfig":
        # runs saved before the LBE had input_norm/pooling used neither: load them as they were trained
        lbe = {"input_norm": False, "pooling": "last", **data["lbe"]}
        return cls(
            variant=data["variant"], c3d=C3DConfig(**data["c3d"]), lbe=LBEConfig(**lbe),
            mutual=MutualConfig(**data["mutual"]), early_beta_l=data.get("early_beta_l", 0.3),
            clip_norm=data.get("clip_norm", "unit"),
        )

    def with_(self, **changes: Any) -> "ModelConfig":
        return replace(self, **changes)


class ReactionModel(nn.Module):
    """PBE and/or LBE of one variant; ``heads`` are the per-video outputs it reports."""

    def __init__(self, config: ModelConfig, *, streams: tuple[str, ...], strategy: str, heads: tuple[str, ...]) -> None:
        super().__init__()
        self.config = config
        self.streams, self.strategy, self.heads = streams, strategy, heads
        self.pbe = C3D(config.c3d) if "pbe" in streams else None
        self.eval_clip_chunk = 32
        self.lbe = LandmarkLSTM(config.lbe) if "lbe" in streams else None

    @property
    def c3d_model(self) -> C3D | None:
        return self.pbe

    def logits(self, batch: Any) -> dict[str, torch.Tensor]:
        """Training-time logits, one clip per video: {"pbe": (B,3), "lbe": (B,3)} as present."""
        out: dict[str, torch.Tensor] = {}
        if self.pbe is not None:
            out["pbe"] = self.pbe(batch.clips).float()
        if self.lbe is not None:
            out["lbe"] = self.lbe(batch.flow, batch.valid, batch.lengths).float()
        return out

    def forward(self, batch: Any) -> dict[str, torch.Tensor]:
        return self.logits(batch)

    @torch.no_grad()
    def video_probs(self, batch: Any) -> dict[str, torch.Tensor]:
        """Per-video probabilities; ``batch.clips`` holds ALL clips, ``batch.clip_owner`` their video."""
        out: dict[str, torch.Tensor] = {}
        n = batch.labels.shape[0]
        if self.pbe is not None:
            # chunks bound memory: a 10 s video has ~18 clips, a batch of 32 videos ~600
            clip_probs = torch.cat([self.pbe(chunk).float().softmax(-1) for chunk in batch.clips.split(self.eval_clip_chunk)])
            sums = torch.zeros(n, clip_probs.shape[1], device=clip_probs.device).index_add_(0, batch.clip_owner, clip_probs)
            counts = torch.bincount(batch.clip_owner, minlength=n).clamp(min=1).unsqueeze(1)
            out["pbe"] = sums / counts
            out["clip_probs"] = clip_probs
        if self.lbe is not None:
            out["lbe"] = self.lbe(batch.flow, batch.valid, batch.lengths).float().softmax(-1)
        if "pbe" in out and "lbe" in out:
            beta = self.config.early_beta_l if self.strategy == "early-fusion" else self.config.mutual.fusion_lambda
            out["fused"] = fuse(out["lbe"], out["pbe"], beta)
        return out


def mutual_step(model: ReactionModel, batch: Any, optimizers: dict[str, torch.optim.Optimizer],
                *, which: tuple[str, ...] = ("pbe", "lbe"), autocast: Autocast = contextlib.nullcontext) -> dict[str, float]:
    """One alternating PLM-IPE step on ``batch``: PBE first, then LBE (either can be left out)."""
    cfg = model.config.mutual
    y = batch.labels
    stats: dict[str, float] = {}
    with torch.no_grad(), autocast():
        z_l_peer = model.lbe(batch.flow, batch.valid, batch.lengths).float()
    z_p_peer = None
    if "pbe" in which:
        with autocast():
            z_p = model.pbe(batch.clips).float()
        loss, parts = mutual_loss(z_p, z_l_peer, y, cfg)
        optimizers["pbe"].zero_grad(set_to_none=True)
        loss.backward()
        optimizers["pbe"].step()
        z_p_peer = z_p.detach()
        stats.update(loss_pbe=float(loss.detach()), ce_pbe=parts["ce"], kl_pbe=parts["kl"],
                     correct_pbe=float((z_p_peer.argmax(-1) == y).sum()))
    if "lbe" in which:
        if z_p_peer is None:
            with torch.no_grad(), autocast():
                z_p_peer = model.pbe(batch.clips).float()
        with autocast():
            z_l = model.lbe(batch.flow, batch.valid, batch.lengths).float()
        loss, parts = mutual_loss(z_l, z_p_peer, y, cfg)
        optimizers["lbe"].zero_grad(set_to_none=True)
        loss.backward()
        optimizers["lbe"].step()
        stats.update(loss_lbe=float(loss.detach()), ce_lbe=parts["ce"], kl_lbe=parts["kl"],
                     correct_lbe=float((z_l.detach().argmax(-1) == y).sum()))
    return stats
