"""Mutual-learning losses of PLM-IPE (eqs. 5-7).

Each estimator's loss is its cross-entropy plus ``kl_weight`` times a KL term between the two
temperature-softened distributions (temperature 10, paper §4.2), the peer's side **detached**.

Direction (``direction``):
- ``"dml"`` (default): the learner matches its peer, ``KL(peer || self)``, as deep mutual
  learning's code does (``kl_div(log_softmax(z_self/T), softmax(z_peer/T).detach())``).
- ``"paper"``: eq. 7 read literally, ``L^L = CE + KL(y^L || y^P)``, i.e. ``KL(self || peer)``.

T^2 scaling (``t2_scale``): Hinton's distillation multiplies the softened KL by T^2 so its
gradients keep their size; the paper's equations have no such factor, so the default is
**off** (with T = 10 turning it on weighs the KL 100x more). Both are available.
The KL is averaged over the batch (``batchmean``); the paper's eq. 5-6 sums, which only
rescales the learning rate.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F


@dataclass(frozen=True)
class MutualConfig:
    temperature: float = 10.0
    t2_scale: bool = False
    kl_weight: float = 1.0
    direction: str = "dml"  # "dml" | "paper"
    fusion_lambda: float = 0.3  # eq. 8: lambda * y^L + (1 - lambda) * y^P


def softened_kl(self_logits: torch.Tensor, peer_logits: torch.Tensor, config: MutualConfig) -> torch.Tensor:
    """KL term for the learner owning ``self_logits``; ``peer_logits`` is detached here."""
    t = config.temperature
    log_self = F.log_softmax(self_logits / t, dim=-1)
    log_peer = F.log_softmax(peer_logits.detach() / t, dim=-1)
    if config.direction == "dml":
        kl = (log_peer.exp() * (log_peer - log_self)).sum(-1).mean()
    elif config.direction == "paper":
        kl = (log_self.exp() * (log_self - log_peer)).sum(-1).mean()
    else:
        raise ValueError(f"unknown KL direction {config.direction!r}; use 'dml' or 'paper'")
    return kl * (t * t if config.t2_scale else 1.0)


def mutual_loss(self_logits: torch.Tensor, peer_logits: torch.Tensor, target: torch.Tensor,
                config: MutualConfig = MutualConfig()) -> tuple[torch.Tensor, dict[str, float]]:
    """``CE(self) + kl_weight * KL`` for one estimator; returns (loss, parts)."""
    ce = F.cross_entropy(self_logits, target)
    kl = softened_kl(self_logits, peer_logits, config)
    loss = ce + config.kl_weight * kl
    return loss, {"ce": float(ce.detach()), "kl": float(kl.detach())}


def fuse(probs_l: torch.Tensor, probs_p: torch.Tensor, fusion_lambda: float = 0.3) -> torch.Tensor:
    """Eq. 8: ``lambda * y^L + (1 - lambda) * y^P`` (probabilities at temperature 1)."""
    return fusion_lambda * probs_l + (1.0 - fusion_lambda) * probs_p
