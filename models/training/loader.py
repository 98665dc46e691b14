"""Streaming batches for training and evaluation: batch samplers + a torch DataLoader.

Every random choice is made in the main process by the batch sampler, from ``(seed, epoch)``
alone, so a run gives the same batches whatever the number of DataLoader workers, and every
DDP rank agrees on the epoch's order. Workers only read the chosen clips (lazily, see
``models/training/npz_arrays.py``) and collate them (``models.training.data.collate``); the training loop moves
each batch to the device with ``non_blocking`` copies from pinned memory (``models.training.data.to_device``).

Clip sampling per epoch (:class:`EpochBatchSampler`): every video once, in a random order, one
clip drawn uniformly from the video's clips; ``batch_size`` videos per global batch. With
``world_size`` > 1 the epoch's order is padded to a multiple of ``world_size`` by repeating its
first videos (as ``torch.utils.data.DistributedSampler`` does) and rank ``r`` takes positions
``r, r + world_size, ...`` in batches of ``ceil(batch_size / world_size)``: all ranks run the
same number of steps and a global batch still holds ``batch_size`` videos (the paper's 32).
"""
from __future__ import annotations

import math
import os
from typing import Any, Iterator, Sequence

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from models.training.data import Batch, FeatureSet, collate, to_device

Pick = tuple[int, "int | None"]  # (video index, clip index or None for all clips)


class EpochBatchSampler(Sampler[list[Pick]]):
    """Training batches of ``(video, clip)`` picks; call :meth:`set_epoch` before each epoch."""

    def __init__(self, clip_counts: Sequence[int], batch_size: int, *, seed: int = 0, rank: int = 0,
                 world_size: int = 1) -> None:
        if batch_size < world_size:
            raise ValueError(f"batch size {batch_size} is smaller than the {world_size} processes; "
                             "use a batch size of at least one video per process")
        if not 0 <= rank < world_size:
            raise ValueError(f"rank {rank} is outside 0..{world_size - 1}")
        self.counts = np.asarray(clip_counts, np.int64)
        if len(self.counts) == 0 or self.counts.min() < 1:
            raise ValueError("every video needs at least one clip")
        self.batch_size, self.seed, self.rank, self.world_size = batch_size, seed, rank, world_size
        self.local_batch = math.ceil(batch_size / world_size)
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def epoch_picks(self, epoch: int) -> list[Pick]:
        """All ranks' picks of ``epoch`` in global order (before sharding)."""
        rng = np.random.default_rng([self.seed, epoch])
        order = rng.permutation(len(self.counts))
        clips = rng.integers(0, self.counts)  # one uniform draw per video, indexed by video
        return [(int(v), int(clips[v])) for v in order]

    def _shard(self) -> list[Pick]:
        picks = self.epoch_picks(self.epoch)
        padded = len(picks) + (-len(picks)) % self.world_size
        picks = (picks * math.ceil(padded / len(picks)))[:padded]
        return picks[self.rank::self.world_size]

    def __iter__(self) -> Iterator[list[Pick]]:
        shard = self._shard()
        for start in range(0, len(shard), self.local_batch):
            yield shard[start:start + self.local_batch]

    def __len__(self) -> int:
        per_rank = math.ceil(len(self.counts) / self.world_size)
        return math.ceil(per_rank / self.local_batch)


class EvalBatchSampler(Sampler[list[Pick]]):
    """Every video of ``indices`` (default: all) once, with all its clips: at most ``batch_size``
    videos and ``clip_budget`` clips per batch (a video with more clips goes alone)."""

    def __init__(self, clip_counts: Sequence[int], batch_size: int, *, clip_budget: int = 256,
                 indices: Sequence[int] | None = None) -> None:
        self.counts = np.asarray(clip_counts, np.int64)
        self.indices = list(range(len(self.counts))) if indices is None else [int(i) for i in indices]
        self.batches: list[list[Pick]] = []
        current: list[Pick] = []
        clips = 0
        for v in self.indices:
            n = int(self.counts[v])
            if current and (len(current) >= batch_size or clips + n > clip_budget):
                self.batches.append(current)
                current, clips = [], 0
            current.append((v, None))
            clips += n
        if current:
            self.batches.append(current)

    def __iter__(self) -> Iterator[list[Pick]]:
        return iter(self.batches)

    def __len__(self) -> int:
        return len(self.batches)


class PickDataset(Dataset):
    """``dataset[picks]`` -> one collated host batch (the loader runs with ``batch_size=None``)."""

    def __init__(self, fs: FeatureSet, *, need_clips: bool, need_flow: bool) -> None:
        self.fs, self.need_clips, self.need_flow = fs, need_clips, need_flow

    def __len__(self) -> int:
        return len(self.fs)

    def __getitem__(self, picks: list[Pick]) -> dict[str, torch.Tensor]:
        return collate(self.fs, picks, need_clips=self.need_clips, need_flow=self.need_flow)


def auto_workers(device: torch.device | str, local_world_size: int = 1) -> int:
    """DataLoader workers when not set: 0 on CPU (the cores train), else the CPUs per process
    minus one for the training loop, at most 8."""
    if torch.device(device).type != "cuda":
        return 0
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, min(8, cpus // max(1, local_world_size) - 1))


def make_loader(fs: FeatureSet, sampler: Sampler, *, need_clips: bool, need_flow: bool, num_workers: int = 0,
                pin_memory: bool = False, prefetch_factor: int = 4, persistent: bool = False) -> DataLoader:
    """A DataLoader over ``sampler``'s batches: ``num_workers`` processes read and collate,
    ``prefetch_factor`` batches per worker are read ahead, host tensors pinned on CUDA."""
    kw: dict[str, Any] = {}
    if num_workers > 0:
        kw = dict(prefetch_factor=prefetch_factor, persistent_workers=persistent)
    return DataLoader(PickDataset(fs, need_clips=need_clips, need_flow=need_flow), sampler=sampler, batch_size=None,
                      num_workers=num_workers, pin_memory=pin_memory, **kw)


def eval_batches(fs: FeatureSet, batch_size: int, *, need_clips: bool, need_flow: bool,
                 device: torch.device | str = "cpu", clip_norm: str = "unit", channels_last: bool = False,
                 num_workers: int | None = None, clip_budget: int = 256) -> Iterator[tuple[np.ndarray, Batch]]:
    """Every video once, with all its clips, streamed through :func:`make_loader` (at most
    ``batch_size`` videos and, unless one video has more, ``clip_budget`` clips per batch;
    ``num_workers`` None: :func:`auto_workers`)."""
    if num_workers is None:
        num_workers = auto_workers(device)
    sampler = EvalBatchSampler(fs.clip_counts() if need_clips else np.ones(len(fs), np.int64), batch_size,
                               clip_budget=clip_budget)
    loader = make_loader(fs, sampler, need_clips=need_clips, need_flow=need_flow, num_workers=num_workers,
                         pin_memory=torch.device(device).type == "cuda")
    for host in loader:
        yield host["index"].numpy(), to_device(host, device, clip_norm=clip_norm, channels_last=channels_last)
