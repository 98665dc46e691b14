"""Every model variant: shapes, forward/backward, gradients, overfit; the paper-size C3D."""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from core.reaction.clips import clips_to_tensor_input
from core.errors import CheckpointError
from models.reaction.baselines import independent_step
from models.reaction.c3d import C3D, C3DConfig, c3d_param_count, load_sports1m
from models.training.data import clips_to_input, make_batch
from models.reaction.lbe import LandmarkLSTM, LBEConfig
from models.reaction.registry import VARIANTS, build_model
from models.training.synthetic import make_synthetic_set
from models.training.train import TrainConfig, make_optimizers

torch.set_num_threads(1)
TINY = dict(width=1 / 16, fc_dim=16, hidden=8, clip_size=16)


@pytest.fixture(scope="module")
def tiny_set():
    return make_synthetic_set(n_volunteers=2, videos_per_volunteer=3, clip_size=16, flow_steps=12, seed=1)


def test_paper_c3d_shapes_and_parameter_count() -> None:
    model = C3D(C3DConfig()).eval()
    # golden value from the paper's layer list: convs 27,655,936 + fc6 (8192->4096) 33,558,528
    # + fc7 16,781,312 + 3-way head 12,291
    assert sum(p.numel() for p in model.parameters()) == c3d_param_count(C3DConfig()) == 78_008_067
    assert C3DConfig().flat_dim() == 8192
    with torch.no_grad():
        x = torch.randn(1, 3, 16, 112, 112)
        assert model.conv_features(x).shape == (1, 512, 1, 4, 4)
        logits = model(x)
    assert logits.shape == (1, 3) and torch.isfinite(logits).all()


@pytest.mark.parametrize("variant", VARIANTS)
def test_every_variant_forward_backward(variant: str, tiny_set) -> None:
    torch.manual_seed(0)
    model = build_model(variant, **TINY)
    batch = make_batch(tiny_set, range(len(tiny_set)), rng=np.random.default_rng(0), need_clips=model.pbe is not None,
                       need_flow=model.lbe is not None)
    logits = model.logits(batch)
    assert set(logits) == set(model.streams)
    for z in logits.values():
        assert z.shape == (len(tiny_set), 3) and torch.isfinite(z).all()
    sum(F.cross_entropy(z, batch.labels) for z in logits.values()).backward()
    for name, p in model.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), name
        assert p.grad.abs().sum() > 0, f"{name} got a zero gradient"
    eval_batch = make_batch(tiny_set, range(len(tiny_set)), rng=None, need_clips=model.pbe is not None,
                            need_flow=model.lbe is not None)
    probs = model.eval().video_probs(eval_batch)
    for head in model.heads:
        assert probs[head].shape == (len(tiny_set), 3)
        assert torch.allclose(probs[head].sum(1), torch.ones(len(tiny_set)), atol=1e-5)


@pytest.mark.parametrize("variant", ["pbe", "lbe"])
def test_tiny_batch_is_overfit(variant: str, tiny_set) -> None:
    torch.manual_seed(0)
    model = build_model(variant, width=1 / 16, fc_dim=32, hidden=32, clip_size=16, dropout=0.0)
    opts = make_optimizers(model, TrainConfig(lr_pbe=3e-3, lr_lbe=1e-2))
    batch = make_batch(tiny_set, range(len(tiny_set)), rng=np.random.default_rng(0), need_clips=model.pbe is not None,
                       need_flow=model.lbe is not None)
    first = last = None
    for _ in range(60):
        stats = independent_step(model, batch, opts)
        first = first if first is not None else stats[f"loss_{variant}"]
        last = stats[f"loss_{variant}"]
    assert last < 0.1 * first and last < 0.1, (first, last)


def test_lbe_ignores_padding_and_faceless_frames() -> None:
    torch.manual_seed(0)
    lbe = LandmarkLSTM(LBEConfig(hidden=8)).eval()
    flow = torch.randn(2, 10, 72)
    valid = torch.ones(2, 10, dtype=torch.bool)
    valid[0, 3] = False
    lengths = torch.tensor([10, 6])
    base = lbe(flow, valid, lengths)
    noisy = flow.clone()
    noisy[0, 3] = 99.0  # no face: value must not matter
    noisy[1, 6:] = -50.0  # padding after length 6
    assert torch.allclose(base, lbe(noisy, valid, lengths))


def test_clip_normalisation_matches_core() -> None:
    clips = np.random.default_rng(0).integers(0, 256, (2, 16, 8, 8, 3), dtype=np.uint8)
    for mode in ("unit", "sports1m"):
        ours = clips_to_input(torch.from_numpy(clips), mode).numpy()
        assert np.allclose(ours, clips_to_tensor_input(clips, mode), atol=1e-4)


def test_sports1m_loader_maps_names_and_refuses_pickles(tmp_path) -> None:
    from safetensors.torch import save_file

    cfg = C3DConfig(width=1 / 16, fc_dim=16, size=16)
    source = C3D(cfg)
    sd = {k: v for k, v in source.state_dict().items() if not k.startswith("head")}
    sd["fc8.weight"] = torch.zeros(487, 16)  # the Sports-1M head is dropped
    save_file({f"module.{k}": v.contiguous() for k, v in sd.items()}, tmp_path / "c3d.safetensors")
    target = C3D(cfg)
    loaded = load_sports1m(target, tmp_path / "c3d.safetensors")
    assert len(loaded) == 20
    assert torch.equal(target.conv5b.weight, source.conv5b.weight) and torch.equal(target.fc7.bias, source.fc7.bias)
    torch.save(source.state_dict(), tmp_path / "c3d.pickle")
    with pytest.raises(CheckpointError, match="never loaded"):
        load_sports1m(target, tmp_path / "c3d.pickle")
    with pytest.raises(CheckpointError, match="shape"):
        load_sports1m(C3D(C3DConfig(width=1 / 8, fc_dim=16, size=16)), tmp_path / "c3d.safetensors")


def test_the_cli_offers_the_registry_variants_without_loading_torch() -> None:
    import subprocess
    import sys

    code = ("import sys, app.cli; p = app.cli.build_parser(); "
            "train = p._subparsers._group_actions[0].choices['train']; "
            "print(sorted(next(a for a in train._actions if a.dest == 'variant').choices), 'torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == f"{sorted(VARIANTS)} False"


def test_runs_saved_before_lbe_pooling_load_as_trained() -> None:
    from models.reaction.plm_ipe import ModelConfig
    from models.reaction.registry import model_config

    legacy = model_config("lbe").to_dict()
    del legacy["lbe"]["input_norm"], legacy["lbe"]["pooling"]  # a config.json from before those settings
    config = ModelConfig.from_dict(legacy)
    assert (config.lbe.input_norm, config.lbe.pooling) == (False, "last")
    fresh = model_config("lbe")
    assert (fresh.lbe.input_norm, fresh.lbe.pooling) == (True, "mean")


def test_lbe_input_is_standardised_with_the_training_sets_valid_frames() -> None:
    import numpy as np
    import torch

    from models.reaction.lbe import LBEConfig, LandmarkLSTM, fit_input_norm

    rng = np.random.default_rng(0)
    flows = [rng.normal(3.0, 2.0, (20, 72)).astype(np.float32) for _ in range(5)]
    valids = [np.arange(20) % 4 != 0 for _ in range(5)]
    flows[0][0] = 1e6  # a frame without a face must not count
    lbe = LandmarkLSTM(LBEConfig(hidden=8))
    fit_input_norm(lbe, flows, valids)
    frames = np.concatenate([f[v] for f, v in zip(flows, valids)])
    assert np.allclose(lbe.input_mean.numpy(), frames.mean(0), atol=1e-4)
    assert np.allclose(lbe.input_std.numpy(), frames.std(0), atol=1e-4)
    assert "input_mean" in lbe.state_dict()  # saved with the checkpoint
    raw = LandmarkLSTM(LBEConfig(hidden=8, input_norm=False))
    fit_input_norm(raw, flows, valids)  # nothing to fit
    assert "input_mean" not in raw.state_dict()
    out = lbe(torch.as_tensor(np.stack(flows)), torch.as_tensor(np.stack(valids)), torch.full((5,), 20))
    assert out.shape == (5, 3) and torch.isfinite(out).all()
