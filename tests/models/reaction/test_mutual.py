"""Mutual learning: the loss against a hand computation, the alternating step, learnability."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from models.training.data import make_batch
from models.reaction.mutual import MutualConfig, fuse, mutual_loss
from models.reaction.plm_ipe import mutual_step
from models.reaction.registry import build_model, model_config
from models.training.synthetic import make_synthetic_set, make_synthetic_split
from models.training.train import TrainConfig, make_optimizers, train_model

torch.set_num_threads(1)


def _softmax(z, t=1.0):
    e = [math.exp(v / t) for v in z]
    return [v / sum(e) for v in e]


def _kl(p, q):
    return sum(a * math.log(a / b) for a, b in zip(p, q))


SELF = [[2.0, -1.0, 0.5], [0.1, 0.2, -3.0]]
PEER = [[-1.0, 3.0, 0.0], [1.5, -0.5, 0.25]]
Y = [0, 2]


@pytest.mark.parametrize("direction,t2", [("dml", False), ("dml", True), ("paper", False)])
def test_mutual_loss_equals_hand_computation(direction: str, t2: bool) -> None:
    cfg = MutualConfig(temperature=10.0, t2_scale=t2, direction=direction)
    loss, parts = mutual_loss(torch.tensor(SELF), torch.tensor(PEER), torch.tensor(Y), cfg)
    ce = sum(-math.log(_softmax(z)[y]) for z, y in zip(SELF, Y)) / 2
    kls = []
    for s, p in zip(SELF, PEER):
        ps, pp = _softmax(s, 10.0), _softmax(p, 10.0)
        kls.append(_kl(pp, ps) if direction == "dml" else _kl(ps, pp))
    kl = sum(kls) / 2 * (100.0 if t2 else 1.0)
    assert parts["ce"] == pytest.approx(ce, rel=1e-5)
    assert parts["kl"] == pytest.approx(kl, rel=1e-4)
    assert float(loss) == pytest.approx(ce + kl, rel=1e-5)


def test_peer_is_detached_and_fusion_weights() -> None:
    s = torch.tensor(SELF, requires_grad=True)
    p = torch.tensor(PEER, requires_grad=True)
    mutual_loss(s, p, torch.tensor(Y))[0].backward()
    assert s.grad is not None and p.grad is None
    fused = fuse(torch.tensor([[1.0, 0.0, 0.0]]), torch.tensor([[0.0, 1.0, 0.0]]))
    assert torch.allclose(fused, torch.tensor([[0.3, 0.7, 0.0]]))


@pytest.mark.parametrize("which", [("pbe",), ("lbe",)])
def test_alternating_step_changes_only_its_estimator(which: tuple[str, ...]) -> None:
    torch.manual_seed(0)
    fs = make_synthetic_set(n_volunteers=2, videos_per_volunteer=3, clip_size=16, flow_steps=10)
    model = build_model("plm-ipe", width=1 / 16, fc_dim=16, hidden=8, clip_size=16)
    opts = make_optimizers(model, TrainConfig())
    before = {k: v.detach().clone() for k, v in model.state_dict().items()}
    batch = make_batch(fs, range(len(fs)), rng=np.random.default_rng(0), need_clips=True, need_flow=True)
    stats = mutual_step(model, batch, opts, which=which)
    assert all(math.isfinite(v) for v in stats.values())
    other = "lbe" if which == ("pbe",) else "pbe"
    after = model.state_dict()
    changed = {k for k in before if not torch.equal(before[k], after[k])}
    assert changed, "the stepped estimator did not change"
    assert all(k.startswith(which[0] + ".") for k in changed), changed
    assert all(p.grad is None for p in getattr(model, other).parameters())


def test_plm_ipe_and_both_estimators_learn_on_held_out_volunteers() -> None:
    """SYNTHETIC set, 9 train / 3 held-out volunteers; chance is 1/3."""
    train, test = make_synthetic_split(test_volunteers=3, n_volunteers=12, videos_per_volunteer=6, clip_size=32,
                                       clips_per_video=2, flow_steps=24, seed=0)
    mc = model_config("plm-ipe", width=1 / 16, fc_dim=32, hidden=32, clip_size=32, dropout=0.0)
    result = train_model(mc, train, test, TrainConfig(epochs=8, batch_size=8, lr_pbe=1e-3, lr_lbe=5e-3, eval_every=0))
    acc = {head: m["accuracy"] for head, m in result.metrics.items()}
    print("held-out accuracy (synthetic):", acc)
    assert min(acc.values()) >= 0.6, acc
