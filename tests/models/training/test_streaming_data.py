"""The streaming data path: lazy npz members, the epoch sampler, bounded memory, same training result."""
from __future__ import annotations

import tracemalloc
import zipfile

import numpy as np
import pytest
import torch

from core.reaction.descriptor import ReactionFeatures
from models.training.data import FeatureSet, collate, load_manifest, write_manifest
from models.training.loader import EpochBatchSampler, EvalBatchSampler, make_loader
from models.training.npz_arrays import LazyArrays, npz_member
from models.reaction.registry import model_config
from models.training.synthetic import make_synthetic_set
from models.training.train import CLIP_SAMPLING, TrainConfig, train_model

torch.set_num_threads(1)
TINY = dict(width=1 / 16, fc_dim=16, hidden=8, clip_size=16)


def _features(fs: FeatureSet, i: int) -> ReactionFeatures:
    t = len(fs.flow[i]) + 1
    return ReactionFeatures(np.zeros((t, 68, 2), np.float32), np.ones(t, bool), fs.flow[i], fs.flow_valid[i],
                            fs.clips[i], np.arange(t) / 30.0, 30.0, {"synthetic": True})


def _lazy_copy(fs: FeatureSet, folder) -> FeatureSet:
    """The same videos written as feature files and read back lazily through a manifest."""
    rows = []
    for i, vid in enumerate(fs.video_ids):
        path = folder / f"{vid}.npz"
        _features(fs, i).save(path)
        rows.append({"video_id": vid, "volunteer_id": fs.volunteers[i], "fold": "all", "label": int(fs.labels[i]),
                     "features_npz": path.name})
    lazy = load_manifest(write_manifest(folder / "manifest.csv", rows))["all"]
    lazy.synthetic = fs.synthetic
    return lazy


@pytest.fixture(scope="module")
def sets(tmp_path_factory):
    fs = make_synthetic_set(n_volunteers=3, videos_per_volunteer=4, clip_size=16, clips_per_video=3, flow_steps=10, seed=2)
    return fs, _lazy_copy(fs, tmp_path_factory.mktemp("feats"))


def test_npz_member_reads_one_clip_without_loading_the_file(tmp_path) -> None:
    clips = np.random.default_rng(0).integers(0, 256, (5, 16, 20, 24, 3), dtype=np.uint8)
    fs = make_synthetic_set(n_volunteers=1, videos_per_volunteer=1, clip_size=16, flow_steps=6)
    feats = _features(fs, 0)
    feats.clips = clips
    feats.save(tmp_path / "f.npz")
    ref = npz_member(tmp_path / "f.npz", "clips")
    assert ref.shape == clips.shape and ref.dtype == "|u1" and ref.offset is not None
    for k in (0, 3, -1):
        assert np.array_equal(ref.read(k), clips[k])
    assert np.array_equal(ref.read(), clips) and np.array_equal(ref.open(), clips)
    with pytest.raises(IndexError):
        ref.read(5)
    # a compressed npz cannot be mapped: it is decompressed instead, same values
    np.savez_compressed(tmp_path / "c.npz", clips=clips)
    cref = npz_member(tmp_path / "c.npz", "clips")
    assert cref.offset is None and np.array_equal(cref.read(2), clips[2])
    with zipfile.ZipFile(tmp_path / "f.npz") as zf:  # the premise: ReactionFeatures.save stores, not deflates
        assert zf.getinfo("clips.npy").compress_type == zipfile.ZIP_STORED


def test_lazy_set_matches_the_in_memory_set(sets) -> None:
    fs, lazy = sets
    assert lazy.lazy and not fs.lazy and isinstance(lazy.clips, LazyArrays)
    assert lazy.fingerprint() == fs.fingerprint()
    assert lazy.clip_counts().tolist() == fs.clip_counts().tolist() == [3] * len(fs)
    sub = lazy.subset([4, 1])
    assert sub.lazy and np.array_equal(sub.clips[0], fs.clips[4]) and np.array_equal(sub.flow[1], fs.flow[1])
    picks = [(2, 1), (0, 2)]
    a = collate(fs, picks, need_clips=True, need_flow=True)
    b = collate(lazy, picks, need_clips=True, need_flow=True)
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_epoch_sampler_one_clip_per_video_per_epoch_and_ddp_shards() -> None:
    counts = [1, 4, 2, 7, 3, 5, 2]
    sampler = EpochBatchSampler(counts, 3, seed=5)
    epochs = []
    for epoch in range(3):
        sampler.set_epoch(epoch)
        batches = list(sampler)
        assert len(batches) == len(sampler) == 3 and [len(b) for b in batches] == [3, 3, 1]
        picks = [p for b in batches for p in b]
        assert sorted(v for v, _ in picks) == list(range(len(counts)))  # every video exactly once
        assert all(0 <= k < counts[v] for v, k in picks)
        epochs.append(picks)
    assert epochs[0] != epochs[1]  # a fresh order and fresh clips each epoch
    sampler.set_epoch(1)
    assert [p for b in sampler for p in b] == epochs[1]  # reproducible from (seed, epoch)
    # two ranks: same padded order split by rank, equal step counts, together every video
    shards = []
    for rank in (0, 1):
        s = EpochBatchSampler(counts, 3, seed=5, rank=rank, world_size=2)
        s.set_epoch(1)
        shards.append([p for b in s for p in b])
        assert len(list(s)) == len(s) == 2
    assert len(shards[0]) == len(shards[1]) == 4
    assert {p for s in shards for p in s} == set(epochs[1])
    with pytest.raises(ValueError, match="batch size"):
        EpochBatchSampler(counts, 1, world_size=2)


def test_loader_memory_stays_bounded(tmp_path) -> None:
    """Training batches read one clip per video (not the video, not the set); evaluation a budget of clips."""
    fs = make_synthetic_set(n_volunteers=4, videos_per_volunteer=6, clip_size=32, clips_per_video=12, flow_steps=8)
    lazy = _lazy_copy(fs, tmp_path)
    total = sum(c.nbytes for c in fs.clips)
    del fs
    sampler = EpochBatchSampler(lazy.clip_counts(), 4, seed=0)
    loader = make_loader(lazy, sampler, need_clips=True, need_flow=True)
    tracemalloc.start()
    try:
        seen = 0
        for host in loader:
            assert host["clips"].shape == (len(host["labels"]), 16, 32, 32, 3) and host["clips"].dtype == torch.uint8
            seen += len(host["labels"])
        _, peak_train = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        eval_loader = make_loader(lazy, EvalBatchSampler(lazy.clip_counts(), 32, clip_budget=24),
                                  need_clips=True, need_flow=True)
        owners = [host["clip_owner"].max().item() + 1 for host in eval_loader]
        _, peak_eval = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert seen == len(lazy) and sum(owners) == len(lazy) and max(owners) == 2  # 24-clip budget: 2 videos a batch
    clip = 16 * 32 * 32 * 3
    assert total == 288 * clip
    # a batch of 4 clips read + stacked + the previous batch ~ 12 clips; reading whole videos (12 clips each) would
    # exceed 16, loading the set 288
    assert peak_train < 16 * clip, peak_train / clip
    assert peak_eval < 4 * 24 * clip, peak_eval / clip


def test_training_is_the_same_in_memory_lazy_and_with_workers(sets) -> None:
    fs, lazy = sets
    mc = model_config("plm-ipe", **TINY, dropout=0.0)
    runs = {}
    for name, data, workers in (("memory", fs, 0), ("lazy", lazy, 0), ("lazy+2 workers", lazy, 2)):
        result = train_model(mc, data, None, TrainConfig(epochs=2, batch_size=4, num_workers=workers, seed=1))
        runs[name] = result
    ref = runs["memory"].model.state_dict()
    for name in ("lazy", "lazy+2 workers"):
        other = runs[name].model.state_dict()
        assert all(torch.equal(ref[k], other[k]) for k in ref), name
    row = runs["lazy+2 workers"].history[-1]
    assert 0.0 <= row["data_wait_fraction"] <= 1.0 and row["data_wait_seconds"] <= row["epoch_seconds"]
    assert row["videos_per_second"] > 0 and runs["lazy+2 workers"].extra["num_workers"] == 2
    assert runs["lazy"].extra["lazy_data"] is True and runs["lazy"].extra["clip_sampling"] == CLIP_SAMPLING
