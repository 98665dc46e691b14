"""The C3D's learning options: BatchNorm, init, per-clip standardisation, PBE warm-up; saved and loaded."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from core.reaction.clips import clips_to_tensor_input
from models.reaction.c3d import C3D, C3DConfig, c3d_param_count
from models.reaction.registry import CPU_PRESET, build_model, model_config
from models.training.data import clips_to_input, make_batch
from models.training.predict import load_reaction_run
from models.training.synthetic import make_synthetic_set
from models.training.train import TrainConfig, make_optimizers, make_warmups, train_model
from models.training.run_folder import load_model, save_run
from tests.models.training.test_predict import _features

torch.set_num_threads(1)
TINY = dict(width=1 / 16, fc_dim=16, hidden=8, clip_size=16)


@pytest.fixture(scope="module")
def data():
    return make_synthetic_set(n_volunteers=2, videos_per_volunteer=3, clip_size=16, clips_per_video=2, flow_steps=8)


def test_defaults_are_the_papers() -> None:
    config = C3DConfig()
    assert (config.norm, config.init, config.dropout, config.width, config.fc_dim) == ("none", "he", 0.5, 1.0, 4096)
    assert not any(isinstance(m, torch.nn.BatchNorm3d) for m in C3D(C3DConfig(width=1 / 16, fc_dim=16)).modules())
    assert TrainConfig().warmup_steps_pbe == 0
    assert model_config("pbe").clip_norm == "unit"


def test_batch_norm_follows_every_conv_and_counts_its_parameters() -> None:
    config = C3DConfig(width=1 / 16, fc_dim=16, size=16, norm="batch")
    model = C3D(config)
    norms = [m for m in model.modules() if isinstance(m, torch.nn.BatchNorm3d)]
    assert [n.num_features for n in norms] == list(config.channels())
    assert sum(p.numel() for p in model.parameters()) == c3d_param_count(config)
    assert c3d_param_count(config) == c3d_param_count(C3DConfig(width=1 / 16, fc_dim=16, size=16)) + 2 * sum(config.channels())
    # in training mode every conv output is normalised per channel: the first block's output has unit scale
    x = torch.randn(4, 3, 16, 16, 16) * 50 + 20
    out = model.norms["conv1"](model.conv1(x))
    assert out.mean().abs() < 1e-4 and (out.var((0, 2, 3, 4), unbiased=False) - 1).abs().max() < 1e-3


def test_bad_options_are_refused() -> None:
    with pytest.raises(ValueError, match="norm"):
        C3D(C3DConfig(width=1 / 16, fc_dim=16, size=16, norm="layer"))
    with pytest.raises(ValueError, match="init"):
        C3D(C3DConfig(width=1 / 16, fc_dim=16, size=16, init="xavier"))
    with pytest.raises(ValueError, match="standardise"):
        clips_to_input(torch.zeros(1, 16, 16, 16, 3, dtype=torch.uint8), "per-video")


def test_init_choices_differ_only_in_the_convs() -> None:
    torch.manual_seed(0)
    he = C3D(C3DConfig(width=1 / 16, fc_dim=16, size=16))
    torch.manual_seed(0)
    default = C3D(C3DConfig(width=1 / 16, fc_dim=16, size=16, init="pytorch"))
    assert he.conv2.weight.std() > 1.5 * default.conv2.weight.std()
    assert torch.equal(he.conv2.bias, torch.zeros_like(he.conv2.bias)) and default.conv2.bias.abs().sum() > 0
    assert torch.equal(he.fc6.weight, default.fc6.weight)


def test_standardise_gives_each_clip_zero_mean_unit_std_in_numpy_and_torch() -> None:
    rng = np.random.default_rng(0)
    clips = np.stack([rng.integers(60, 90, (16, 16, 16, 3)), rng.integers(0, 255, (16, 16, 16, 3)),
                      np.full((16, 16, 16, 3), 7)]).astype(np.uint8)  # dark, contrasty, flat
    a = clips_to_tensor_input(clips, "standardise")
    b = clips_to_input(torch.from_numpy(clips), "standardise").numpy()
    assert a.shape == b.shape == (3, 3, 16, 16, 16)
    assert np.allclose(a, b, atol=1e-4)
    for k in range(2):
        assert abs(a[k].mean()) < 1e-4 and abs(a[k].std(ddof=1) - 1) < 1e-4
    assert np.all(a[2] == 0)  # a flat clip is centred, not divided by ~0
    # brightness and contrast of a volunteer go away: a clip and its brighter, flatter copy agree
    copy = (clips[1].astype(np.float32) * 0.5 + 60).round().astype(np.uint8)
    same = clips_to_tensor_input(np.stack([clips[1], copy]), "standardise")
    assert np.abs(same[0] - same[1]).max() < 0.03


def test_temporal_keeps_only_what_changes_within_the_clip() -> None:
    rng = np.random.default_rng(1)
    faces = rng.integers(20, 200, (2, 16, 16, 3))  # two still "faces" of different appearance
    clips = np.repeat(faces[:, None], 16, axis=1).astype(np.int64)  # (2, 16 frames, 16, 16, 3)
    ramp = np.linspace(0, 40, 16)[:, None, None, None]
    clips[:, :, 4:8, 4:12] += ramp.astype(np.int64)  # the same "mouth" change on both faces
    clips = np.clip(clips, 0, 255).astype(np.uint8)
    still = np.repeat(faces[:1, None], 16, axis=1).astype(np.uint8)
    a = clips_to_tensor_input(np.concatenate([still, clips]), "temporal")
    b = clips_to_input(torch.from_numpy(np.concatenate([still, clips])), "temporal").numpy()
    assert np.allclose(a, b, atol=1e-4)
    assert np.all(a[0] == 0)  # a face that does not move gives nothing, whatever it looks like
    assert abs(a[1].mean()) < 1e-4 and abs(a[1].std(ddof=1) - 1) < 1e-4
    changed = np.abs(a[1]).sum(axis=(0, 1)) > 0
    assert changed[4:8, 4:12].all() and changed.sum() == 32  # only the mouth's pixels remain
    # on another face the same change gives the same input: that face's appearance is gone
    assert np.abs(a[1] - a[2]).max() < 1e-4


def test_warm_up_ramps_the_pbe_learning_rate_only() -> None:
    model = build_model("plm-ipe", **TINY)
    config = TrainConfig(lr_pbe=1e-3, warmup_steps_pbe=4)
    opts = make_optimizers(model, config)
    warmups = make_warmups(opts, config)
    seen = []
    for _ in range(6):
        seen.append(opts["pbe"].param_groups[0]["lr"])
        assert opts["lbe"].param_groups[0]["lr"] == config.lr_lbe
        opts["pbe"].step()
        for w in warmups:
            w.step()
    assert seen == pytest.approx([2.5e-4, 5e-4, 7.5e-4, 1e-3, 1e-3, 1e-3])
    assert make_warmups(make_optimizers(model, TrainConfig()), TrainConfig()) == []


def test_options_are_saved_and_the_run_predicts_as_trained(data, tmp_path) -> None:
    mc = model_config("pbe", **TINY, norm="batch", init="pytorch", dropout=0.1, clip_norm="standardise")
    tc = TrainConfig(epochs=2, batch_size=4, warmup_steps_pbe=3)
    result = train_model(mc, data, None, tc)
    run = save_run(tmp_path / "run", result, mc, tc, split_id="toy", data_fingerprint=data.fingerprint(), synthetic=True)
    config = json.loads((run / "model" / "config.json").read_text())
    c3d = config["architecture"]["c3d"]
    assert (c3d["norm"], c3d["init"], c3d["dropout"]) == ("batch", "pytorch", 0.1)
    assert config["architecture"]["clip_norm"] == "standardise" and config["train"]["warmup_steps_pbe"] == 3
    # the BatchNorm running statistics were learnt and travel with the weights
    assert not torch.equal(result.model.pbe.norms["conv1"].running_mean, torch.zeros(1))
    batch = make_batch(data, range(len(data)), rng=None, need_clips=True, need_flow=False, clip_norm="standardise")
    before = result.model.eval().video_probs(batch)["pbe"]
    loaded, _ = load_model(run)
    assert loaded.config.c3d.norm == "batch" and torch.equal(loaded.video_probs(batch)["pbe"], before)
    predictor = load_reaction_run(run)
    assert np.allclose(predictor.predict(_features(data, 0))["pbe"], before[0].numpy(), atol=1e-6)


def test_a_run_saved_before_the_options_loads_as_trained(data, tmp_path) -> None:
    mc = model_config("pbe", **TINY)
    tc = TrainConfig(epochs=1, batch_size=4)
    result = train_model(mc, data, None, tc)
    run = save_run(tmp_path / "old", result, mc, tc, split_id="toy", data_fingerprint=None, synthetic=True)
    path = run / "model" / "config.json"
    config = json.loads(path.read_text())
    for key in ("norm", "init"):
        del config["architecture"]["c3d"][key]
    del config["train"]["warmup_steps_pbe"]
    path.write_text(json.dumps(config))
    loaded, _ = load_model(run)
    assert (loaded.config.c3d.norm, loaded.config.c3d.init) == ("none", "he")
    batch = make_batch(data, range(len(data)), rng=None, need_clips=True, need_flow=False)
    assert torch.equal(loaded.video_probs(batch)["pbe"], result.model.eval().video_probs(batch)["pbe"])


def test_cpu_preset_uses_the_options_and_keeps_paper_defaults_elsewhere() -> None:
    mc = model_config("plm-ipe", **CPU_PRESET["model"])
    assert mc.c3d.norm == "batch" and mc.c3d.width < 1 and mc.variant == "plm-ipe"
    assert model_config("plm-ipe").c3d == C3DConfig()


def test_cli_preset_fills_paper_defaults_and_keeps_given_flags() -> None:
    from app.cli import build_parser
    from app.cli_args import model_kw, train_config

    parser = build_parser()
    args = parser.parse_args(["train", "--synthetic", "--width", "0.125", "--preset", "cpu", "--lr-pbe", "3e-4"])
    kw, tc = model_kw(args), train_config(args)
    assert kw["width"] == 0.125 and tc.lr_pbe == 3e-4  # given before and after the preset: kept
    for key, value in CPU_PRESET["model"].items():
        assert key == "width" or kw[key] == value, key
    for key, value in CPU_PRESET["train"].items():
        assert key == "lr_pbe" or getattr(tc, key) == value, key
    assert tc.epochs == 500 and kw["temperature"] == 10.0  # not in the preset: the paper's
    paper = parser.parse_args(["compare", "--synthetic"])
    assert (model_kw(paper)["norm"], model_kw(paper)["width"], train_config(paper).warmup_steps_pbe) == ("none", 1.0, 0)
