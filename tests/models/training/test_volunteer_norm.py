"""Per-volunteer normalisation: what it computes, that it needs no labels, and that training,
evaluation and prediction apply the same one from the run's config."""
from __future__ import annotations

import json
import pickle
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from core.reaction.descriptor import ReactionFeatures
from models.reaction.registry import model_config
from models.training.data import FeatureSet, load_manifest, make_batch, write_manifest
from models.training.npz_arrays import read_item
from models.training.predict import load_reaction_run
from models.training.synthetic import make_synthetic_set
from models.training.train import TrainConfig, train_model
from models.training.run_folder import save_run
from models.training.volunteer_norm import STD_FLOOR, VolunteerNormFlow, apply_volunteer_norm, baseline_statistics

torch.set_num_threads(1)
REPO = Path(__file__).resolve().parents[3]


def _features(fs: FeatureSet, i: int, fps: float = 30.0) -> ReactionFeatures:
    t = len(fs.flow[i]) + 1
    return ReactionFeatures(np.zeros((t, 68, 2), np.float32), np.ones(t, bool), np.asarray(fs.flow[i]),
                            fs.flow_valid[i], fs.clips[i], np.arange(t) / fps, fps, {})


def _two_faces() -> FeatureSet:
    """Two volunteers whose resting faces differ (one noisier, with an offset), 60 steps at 30 fps."""
    rng = np.random.default_rng(0)
    flows, valids = [], []
    for level in (0.08, 0.08, 0.3, 0.3):
        flow = rng.normal(level, level / 2, (60, 72)).astype(np.float32)
        flow[40:, 60] += 1.0  # a reaction after the first second
        flows.append(flow)
        valid = np.ones(60, bool)
        valid[3] = False
        valids.append(valid)
    clips = [np.zeros((1, 16, 8, 8, 3), np.uint8)] * 4
    return FeatureSet(["a1", "a2", "b1", "b2"], ["a", "a", "b", "b"], np.array([0, 2, 0, 2]), clips, flows, valids)


def test_each_volunteer_is_standardised_by_their_own_first_second() -> None:
    fs = _two_faces()
    out = apply_volunteer_norm(fs, "baseline")
    assert isinstance(out.flow, VolunteerNormFlow) and apply_volunteer_norm(fs, "none") is fs
    for volunteer, (i, j) in {"a": (0, 1), "b": (2, 3)}.items():
        first = np.concatenate([out.flow[k][:30][fs.flow_valid[k][:30]] for k in (i, j)])
        assert np.allclose(first.mean(0), 0, atol=1e-5) and np.allclose(first.std(0), 1, atol=1e-3), volunteer
    # the resting levels no longer tell the two faces apart; the reaction still stands out
    assert abs(out.flow[0][:30].mean() - out.flow[2][:30].mean()) < 0.1 < abs(fs.flow[0].mean() - fs.flow[2].mean())
    assert out.flow[0][45:, 60].mean() > 3
    # labels play no part: the same flows with other labels give the same statistics
    relabelled = replace(fs, labels=np.array([2, 1, 1, 0]))
    assert all(np.array_equal(apply_volunteer_norm(relabelled, "baseline").flow[k], out.flow[k]) for k in range(4))
    # subsets keep their volunteer's statistics, and the wrapped flow pickles small
    sub = out.subset([3, 0])
    assert np.array_equal(sub.flow[0], out.flow[3]) and np.array_equal(read_item(sub.flow, 1), out.flow[0])
    assert isinstance(pickle.loads(pickle.dumps(sub.flow)), VolunteerNormFlow)
    with pytest.raises(ValueError, match="unknown volunteer normalisation"):
        apply_volunteer_norm(fs, "zscore")
    with pytest.raises(ValueError, match="already"):
        apply_volunteer_norm(out, "baseline")


def test_baseline_uses_the_frame_rate_and_falls_back_when_the_first_second_has_no_face() -> None:
    flow = np.arange(40, dtype=np.float64)[:, None].repeat(2, 1)
    valid = np.ones(40, bool)
    (mean, _), = baseline_statistics([flow], [valid], [10.0], ["v"]).values()
    assert np.allclose(mean, 4.5)  # the first 10 steps at 10 fps
    valid[:30] = False  # no face in the first second: all valid steps instead
    (mean, scale), = baseline_statistics([flow], [valid], [30.0], ["v"]).values()
    assert np.allclose(mean, 34.5)
    constant = baseline_statistics([np.ones((40, 2))], [np.ones(40, bool)], [30.0], ["v"])["v"]
    assert np.allclose(constant[1], STD_FLOOR)  # a still channel is not blown up
    assert baseline_statistics([flow], [np.zeros(40, bool)], [30.0], ["v"]) == {}  # no face at all: left as is


def test_lazy_sets_read_their_frame_rate_and_normalise_like_in_memory_sets(tmp_path: Path) -> None:
    fs = _two_faces()
    rows = []
    for i, vid in enumerate(fs.video_ids):
        _features(fs, i, fps=15.0).save(tmp_path / f"{vid}.npz")
        rows.append({"video_id": vid, "volunteer_id": fs.volunteers[i], "fold": "all", "label": int(fs.labels[i]),
                     "features_npz": f"{vid}.npz"})
    lazy = load_manifest(write_manifest(tmp_path / "m.csv", rows))["all"]
    assert lazy.fps == [15.0] * 4
    memory = apply_volunteer_norm(replace(fs, fps=[15.0] * 4), "baseline")
    streamed = apply_volunteer_norm(lazy, "baseline")
    assert all(np.allclose(streamed.flow[k], memory.flow[k], atol=1e-6) for k in range(4))
    assert streamed.subset([1]).clips.refs[0].path.endswith("a2.npz")  # clips stay lazy


def test_training_stores_the_option_and_prediction_applies_it(tmp_path: Path) -> None:
    data = make_synthetic_set(n_volunteers=2, videos_per_volunteer=3, clip_size=16, clips_per_video=2, flow_steps=40)
    mc = model_config("lbe", hidden=8)
    tc = TrainConfig(epochs=1, batch_size=4, volunteer_norm="baseline")
    result = train_model(mc, data, data, tc)
    run = save_run(tmp_path / "run", result, mc, tc, split_id="toy", data_fingerprint="x", synthetic=True)
    config = json.loads((run / "model" / "config.json").read_text())
    assert config["train"]["volunteer_norm"] == "baseline"
    predictor = load_reaction_run(run)
    assert predictor.volunteer_norm == "baseline"
    # one video, no volunteer: standardised by its own first second
    alone = apply_volunteer_norm(data.subset([0]), "baseline")
    expected = result.model.eval().video_probs(make_batch(alone, [0], rng=None, need_clips=False, need_flow=True))
    got = predictor.predict(_features(data, 0))
    assert np.allclose(got["lbe"], expected["lbe"][0].numpy(), atol=1e-6)
    raw = result.model.video_probs(make_batch(data, [0], rng=None, need_clips=False, need_flow=True))
    assert not np.allclose(got["lbe"], raw["lbe"][0].numpy(), atol=1e-4)  # the option really changes the input
    # with the volunteer's other videos, their first seconds join the baseline
    volunteer = [i for i, v in enumerate(data.volunteers) if v == data.volunteers[0]]
    pooled = apply_volunteer_norm(data.subset(volunteer), "baseline")
    expected = result.model.video_probs(make_batch(pooled, [0], rng=None, need_clips=False, need_flow=True))
    got = predictor.predict(_features(data, volunteer[0]), baseline=[_features(data, i) for i in volunteer[1:]])
    assert np.allclose(got["lbe"], expected["lbe"][0].numpy(), atol=1e-6)


def test_cli_train_flag_reaches_the_run(tmp_path: Path) -> None:
    home = tmp_path / "home"
    cmd = [sys.executable, "-m", "app", "--home", str(home), "train", "--synthetic", "--variant", "lbe", "--epochs",
           "1", "--hidden", "8", "--batch-size", "8", "--volunteer-norm", "baseline", "--run-id", "norm"]
    done = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    config = json.loads((home / "runs" / "norm" / "model" / "config.json").read_text())
    assert config["train"]["volunteer_norm"] == "baseline"
    evaluated = subprocess.run([sys.executable, "-m", "app", "--home", str(home), "evaluate",
                                str(home / "runs" / "norm"), "--synthetic"], cwd=REPO, capture_output=True, text=True,
                               timeout=300)
    assert evaluated.returncode == 0 and "lbe: accuracy" in evaluated.stdout, evaluated.stderr[-2000:]
