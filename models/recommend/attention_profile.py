"""Cold-start user descriptors: learned attention pooling of outfit features vs plain averaging.

Following the mobile-preference paper's *reduced 1-attention* block (its eqs. (1)-(3)):
each outfit feature vector ``x`` is first reduced, ``x~ = W x + b`` (S dims, (1)); the outfits a
volunteer reacted to are weighted by a softmax attention ``a_m = softmax_m(q . tanh(x~_m) +
w_r r_m + w_a |r_m|)`` ((2); we add the volunteer's signed reaction ``r_m`` to the logit so
strong reactions can count more); the descriptor is ``u = sum_m a_m r_m x~_m`` ((3); signed,
so disliked outfits push away). An outfit is scored by ``u . x~_o + v . x~_o`` (dot product
plus a learned outfit prior). No per-user parameters: a new volunteer is described by their
first reactions alone. Trained on the training interactions of the training volunteers:
each step splits every volunteer's seen outfits into a context and targets and fits the
targets' liked/not-liked (rating >= positive_min) with binary cross-entropy.

The baseline, plain averaging, is torch-free: ``core/recommend/average_profile.py``.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from core.recommend.average_profile import AveragingProfile, standardise

__all__ = ["AttentionProfile", "AttentionProfileConfig", "AveragingProfile", "attention_for_eval", "build_attention_module",
           "standardise"]


@dataclass(frozen=True)
class AttentionProfileConfig:
    reduced_dim: int = 16          # S of eq. (1)
    epochs: int = 300
    lr: float = 0.01
    weight_decay: float = 1e-3
    context_fraction: float = 0.6  # of a training volunteer's seen outfits used as context per step
    seed: int = 0

    def as_dict(self) -> dict:
        return asdict(self)


def _torch():
    import torch  # heavy: imported only when a model is built

    return torch


def build_attention_module(in_dim: int, config: AttentionProfileConfig):
    torch = _torch()
    nn = torch.nn

    class ReducedAttentionPooling(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.reduce = nn.Linear(in_dim, config.reduced_dim)              # (1)
            self.query = nn.Parameter(torch.zeros(config.reduced_dim))       # (2)
            self.reaction_weight = nn.Parameter(torch.zeros(2))
            self.prior = nn.Parameter(torch.zeros(config.reduced_dim))       # outfit prior v

        def forward(self, x: "torch.Tensor", r: "torch.Tensor", context: "torch.Tensor") -> "torch.Tensor":
            """x (N, D) features; r (U, N) signed preferences; context (U, N) bool -> scores (U, N)."""
            xr = self.reduce(x)                                               # (N, S)
            logits = torch.tanh(xr) @ self.query                              # (N,)
            logits = logits[None, :] + self.reaction_weight[0] * r + self.reaction_weight[1] * r.abs()
            logits = logits.masked_fill(~context, float("-inf"))
            has_context = context.any(dim=1, keepdim=True)
            attn = torch.softmax(torch.where(has_context, logits, torch.zeros_like(logits)), dim=1)
            attn = torch.where(has_context, attn, torch.zeros_like(attn))
            user = (attn * r) @ xr                                            # (3): (U, S)
            return user @ xr.T + (xr @ self.prior)[None, :]

    return ReducedAttentionPooling()


class _Adam:
    """Plain Adam with L2 weight decay (as torch.optim.Adam), written out because importing
    torch.optim pulls in torch._dynamo, which costs seconds on a loaded machine for a model this small."""

    def __init__(self, params: list, lr: float, weight_decay: float, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8) -> None:
        torch = _torch()
        self.params, self.lr, self.wd, self.betas, self.eps = params, lr, weight_decay, betas, eps
        self.m = [torch.zeros_like(p) for p in params]
        self.v = [torch.zeros_like(p) for p in params]
        self.t = 0

    def step(self) -> None:
        torch = _torch()
        self.t += 1
        b1, b2 = self.betas
        with torch.no_grad():
            for p, m, v in zip(self.params, self.m, self.v):
                if p.grad is None:
                    continue
                g = p.grad + self.wd * p
                m.mul_(b1).add_(g, alpha=1 - b1)
                v.mul_(b2).addcmul_(g, g, value=1 - b2)
                m_hat = m / (1 - b1 ** self.t)
                v_hat = v / (1 - b2 ** self.t)
                p.sub_(self.lr * m_hat / (v_hat.sqrt() + self.eps))


class AttentionProfile:
    """Trained reduced 1-attention pooling; :meth:`score_matrix` like :class:`AveragingProfile`."""

    name = "attention"

    def __init__(self, features: np.ndarray, config: AttentionProfileConfig = AttentionProfileConfig()) -> None:
        self.x = standardise(features)
        self.config = config
        torch = _torch()
        torch.manual_seed(config.seed)
        self.module = build_attention_module(self.x.shape[1], config)

    @property
    def n_parameters(self) -> int:
        return int(sum(p.numel() for p in self.module.parameters()))

    def fit(self, preferences: np.ndarray, liked: np.ndarray, labelled: np.ndarray) -> list[float]:
        """preferences (U, N) signed r of training views (0 = unseen); liked (U, N) 0/1 targets;
        labelled (U, N) bool: which views have a target (a rating). Returns the loss per epoch."""
        torch = _torch()
        cfg = self.config
        gen = torch.Generator().manual_seed(cfg.seed)
        x = torch.from_numpy(self.x)
        r = torch.from_numpy(np.asarray(preferences, np.float32))
        y = torch.from_numpy(np.asarray(liked, np.float32))
        seen = r != 0
        lab = torch.from_numpy(np.asarray(labelled, bool))
        params = [p for p in self.module.parameters() if p.requires_grad]
        adam = _Adam(params, cfg.lr, cfg.weight_decay)
        losses = []
        self.module.train()
        previous_threads = torch.get_num_threads()
        torch.set_num_threads(1)  # tensors are tiny: threads only add overhead on a shared machine
        try:
            for _ in range(cfg.epochs):
                pick = torch.rand(r.shape, generator=gen) < cfg.context_fraction
                context = seen & pick
                target = seen & ~pick & lab
                if not bool(target.any()):
                    continue
                scores = self.module(x, r * context, context)
                loss = torch.nn.functional.binary_cross_entropy_with_logits(scores[target], y[target])
                for p in params:
                    p.grad = None
                loss.backward()
                adam.step()
                losses.append(float(loss.detach()))
        finally:
            torch.set_num_threads(previous_threads)
        self.module.eval()
        return losses

    def score_matrix(self, preferences: np.ndarray) -> np.ndarray:
        torch = _torch()
        r = torch.from_numpy(np.asarray(preferences, np.float32))
        with torch.no_grad():
            return self.module(torch.from_numpy(self.x), r, r != 0).numpy().astype(np.float64)


def attention_for_eval(features: np.ndarray, config: Any) -> AttentionProfile:
    """The attention model as ``core.recommend.evaluate.evaluate_recommenders`` wants it
    (``config``: its ``EvalConfig``: ``attention_epochs`` and ``seed``)."""
    return AttentionProfile(features, AttentionProfileConfig(epochs=config.attention_epochs, seed=config.seed))
