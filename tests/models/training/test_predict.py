"""Run folders: checkpoint round trip, the demo predictor, refusal of pickles and foreign files."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from core.reaction.descriptor import ReactionFeatures
from core.errors import CheckpointError
from models.checkpoint import save_checkpoint
from models.training.data import make_batch
from models.training.predict import load_reaction_run
from models.reaction.registry import model_config
from models.training.synthetic import make_synthetic_set
from models.training.train import TrainConfig, train_model
from models.training.run_folder import load_model, save_run

torch.set_num_threads(1)
TINY = dict(width=1 / 16, fc_dim=16, hidden=8, clip_size=16)


@pytest.fixture(scope="module")
def data():
    return make_synthetic_set(n_volunteers=2, videos_per_volunteer=3, clip_size=16, clips_per_video=2, flow_steps=8)


def _features(fs, i: int) -> ReactionFeatures:
    t = len(fs.flow[i]) + 1
    return ReactionFeatures(np.zeros((t, 68, 2), np.float32), np.ones(t, bool), fs.flow[i], fs.flow_valid[i],
                            fs.clips[i], np.arange(t) / 30.0, 30.0, {})


@pytest.mark.parametrize("variant", ["plm-ipe", "pbe"])
def test_round_trip_gives_identical_outputs(variant: str, data, tmp_path) -> None:
    mc = model_config(variant, **TINY)
    tc = TrainConfig(epochs=1, batch_size=4)
    result = train_model(mc, data, None, tc)
    run = save_run(tmp_path / "run", result, mc, tc, split_id="toy", data_fingerprint=data.fingerprint(), synthetic=True)
    batch = make_batch(data, range(len(data)), rng=None, need_clips=True, need_flow=True)
    before = result.model.eval().video_probs(batch)
    loaded, config = load_model(run)
    after = loaded.video_probs(batch)
    for head in result.model.heads:
        assert torch.equal(before[head], after[head]), head
    assert config["variant"] == variant and config["data_fingerprint"] == data.fingerprint()

    predictor = load_reaction_run(run)
    out = predictor.predict(_features(data, 0))
    assert out["clip_probs"].shape == (2, 3)
    assert np.allclose(out["pbe"], before["pbe"][0].numpy())
    assert predictor.c3d_model is not None and predictor.variant == variant
    assert predictor.target_layers == [predictor.c3d_model.conv5b]
    if variant == "plm-ipe":
        assert np.allclose(out["fused"], before["fused"][0].numpy())
        assert np.allclose(out["fused"], 0.3 * np.array(out["lbe"]) + 0.7 * np.array(out["pbe"]), atol=1e-6)
    else:
        assert out["lbe"] is None and out["fused"] == out["pbe"]


def test_pickles_and_foreign_checkpoints_are_refused(data, tmp_path) -> None:
    model = torch.nn.Linear(2, 2)
    torch.save(model.state_dict(), tmp_path / "weights.pth")
    with pytest.raises(CheckpointError, match="never loaded"):
        load_reaction_run(tmp_path / "weights.pth")
    # a pickle disguised as model.safetensors beside a valid config
    fake = tmp_path / "fake"
    fake.mkdir()
    mc = model_config("lbe", hidden=8)
    (fake / "config.json").write_text(json.dumps({"format": "ipe-checkpoint/1", "kind": "plm-ipe/lbe", "variant": "lbe",
                                                  "architecture": mc.to_dict()}))
    torch.save(model.state_dict(), fake / "model.safetensors")
    with pytest.raises(CheckpointError, match="safetensors"):
        load_reaction_run(fake)
    other = save_checkpoint(tmp_path / "pref", model.state_dict(), {"arch": "x"}, kind="preference-cnn")
    with pytest.raises(CheckpointError, match="not a reaction"):
        load_reaction_run(other)
    with pytest.raises(CheckpointError):
        load_reaction_run(tmp_path / "nothing-here")
