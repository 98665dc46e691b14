"""Baselines and ablations of PLM-IPE §4.3 (Tables 1 and 2).

- **PBE** / **LBE** (variants ``pbe``, ``lbe``): one estimator, CE only (eq. 5).
- **EarlyFusion** (``early-fusion``): both estimators trained jointly through the cross-entropy
  of ``y = beta1 * y^L + beta2 * y^P`` (beta1 = 0.3, beta2 = 0.7 by default); tested on ``y``.
- **LateFusion** (``late-fusion``): both estimators trained separately (CE each, disjoint
  parameters and optimisers, so one joint run equals two separate ones), fused with eq. 8.
- **PBE-w/-Mut**, **LBE-w/-Mut** (Table 2): the PBE and LBE outputs of a PLM-IPE model trained
  with mutual learning; they are the ``pbe`` / ``lbe`` heads of the ``plm-ipe`` variant, not
  separate trainings (see ``models/training/report.py`` ROWS).
"""
from __future__ import annotations

import contextlib
from typing import Any

import torch
import torch.nn.functional as F

from models.reaction.plm_ipe import Autocast, ReactionModel


def independent_step(model: ReactionModel, batch: Any, optimizers: dict[str, torch.optim.Optimizer],
                     *, autocast: Autocast = contextlib.nullcontext) -> dict[str, float]:
    """CE for each present estimator, each with its own optimiser (PBE, LBE, LateFusion)."""
    stats: dict[str, float] = {}
    for name in model.streams:
        with autocast():
            z = model.pbe(batch.clips) if name == "pbe" else model.lbe(batch.flow, batch.valid, batch.lengths)
        z = z.float()
        loss = F.cross_entropy(z, batch.labels)
        optimizers[name].zero_grad(set_to_none=True)
        loss.backward()
        optimizers[name].step()
        stats[f"loss_{name}"] = float(loss.detach())
        stats[f"correct_{name}"] = float((z.detach().argmax(-1) == batch.labels).sum())
    return stats


def early_fusion_step(model: ReactionModel, batch: Any, optimizers: dict[str, torch.optim.Optimizer],
                      *, autocast: Autocast = contextlib.nullcontext) -> dict[str, float]:
    """Joint step through the CE of the weighted sum of the two distributions."""
    beta_l = model.config.early_beta_l
    with autocast():
        z_p = model.pbe(batch.clips)
        z_l = model.lbe(batch.flow, batch.valid, batch.lengths)
    fused = beta_l * z_l.float().softmax(-1) + (1.0 - beta_l) * z_p.float().softmax(-1)
    loss = F.nll_loss(fused.clamp_min(1e-12).log(), batch.labels)
    for opt in optimizers.values():
        opt.zero_grad(set_to_none=True)
    loss.backward()
    for opt in optimizers.values():
        opt.step()
    return {"loss_fused": float(loss.detach()), "correct_fused": float((fused.detach().argmax(-1) == batch.labels).sum())}
