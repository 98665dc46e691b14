"""Training data over precomputed reaction features (in memory, from npz files, or a manifest).

A ``FeatureSet`` holds, per video: its clips (N, 16, H, W, 3) uint8 RGB, its 72-d flow
sequence (T-1, 72) with validity (False where no face), its class (0 negative, 1 neutral,
2 positive) and its volunteer. Sources: in-memory arrays (tests, ``models/synthetic.py``),
``ReactionFeatures`` npz files from the feature cache (``core/feature_cache.py``), a manifest CSV
(``video_id,volunteer_id,fold,label,features_npz``) or the store (split + feature cache).

Clip sampling: during training each step draws **one random clip per video** (a fresh draw
every epoch); at evaluation **all** clips of a video are scored and their probabilities
averaged (``ReactionModel.video_probs``). The flow sequence is used whole.
"""
from __future__ import annotations

import csv
import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Sequence

import numpy as np
import torch

from core.clips import SPORTS1M_MEAN_BGR
from core.errors import IPEError
from core.labels import CLASS_NAMES

MANIFEST_COLUMNS = ("video_id", "volunteer_id", "fold", "label", "features_npz")


class DatasetError(IPEError):
    """Training data is missing or malformed."""


@dataclass
class FeatureSet:
    video_ids: list[str]
    volunteers: list[str]
    labels: np.ndarray  # (V,) int64 in 0..2
    clips: list[np.ndarray]  # each (N_i, 16, H, W, 3) uint8
    flow: list[np.ndarray]  # each (T_i, 72) float32
    flow_valid: list[np.ndarray]  # each (T_i,) bool
    synthetic: bool = False

    def __post_init__(self) -> None:
        n = len(self.video_ids)
        self.labels = np.asarray(self.labels, dtype=np.int64)
        if not (len(self.volunteers) == len(self.clips) == len(self.flow) == len(self.flow_valid) == self.labels.shape[0] == n):
            raise DatasetError("feature set fields have different lengths")
        if n and (self.labels.min() < 0 or self.labels.max() >= len(CLASS_NAMES)):
            raise DatasetError(f"labels must be 0..{len(CLASS_NAMES) - 1}")
        for vid, c in zip(self.video_ids, self.clips):
            if c.ndim != 5 or c.shape[0] < 1 or c.shape[-1] != 3 or c.dtype != np.uint8:
                raise DatasetError(f"video {vid}: clips must be (N>=1, 16, H, W, 3) uint8, got {c.shape} {c.dtype}")

    def __len__(self) -> int:
        return len(self.video_ids)

    def subset(self, indices: Sequence[int]) -> "FeatureSet":
        idx = list(indices)
        return FeatureSet([self.video_ids[i] for i in idx], [self.volunteers[i] for i in idx], self.labels[idx],
                          [self.clips[i] for i in idx], [self.flow[i] for i in idx], [self.flow_valid[i] for i in idx],
                          self.synthetic)

    def by_volunteers(self, volunteers: set[str]) -> "FeatureSet":
        return self.subset([i for i, v in enumerate(self.volunteers) if v in volunteers])

    @property
    def clip_shape(self) -> tuple[int, ...]:
        return tuple(self.clips[0].shape[1:]) if self.clips else ()

    def fingerprint(self) -> str:
        """sha256 over ids, labels, volunteers, shapes and a content sample of every array."""
        h = hashlib.sha256()
        for i in range(len(self)):
            h.update(f"{self.video_ids[i]}|{self.volunteers[i]}|{int(self.labels[i])}|{self.clips[i].shape}|{self.flow[i].shape}".encode())
            h.update(np.ascontiguousarray(self.clips[i][:, :, ::16, ::16]).tobytes())
            h.update(np.ascontiguousarray(self.flow[i], dtype=np.float32).tobytes())
        return h.hexdigest()[:16]

    def class_counts(self) -> list[int]:
        return np.bincount(self.labels, minlength=len(CLASS_NAMES)).tolist()

    @classmethod
    def from_features(cls, records: Sequence[tuple[str, str, int, Any]]) -> "FeatureSet":
        """From ``(video_id, volunteer_id, label, ReactionFeatures)`` records."""
        ids, vols, labels, clips, flow, valid = [], [], [], [], [], []
        for video_id, volunteer, label, feats in records:
            ids.append(video_id)
            vols.append(volunteer)
            labels.append(int(label))
            clips.append(np.asarray(feats.clips, dtype=np.uint8))
            f = np.asarray(feats.flow72, dtype=np.float32)
            fv = getattr(feats, "flow_valid", None)
            if fv is None:  # derive from face_found: a flow step needs a face in both frames
                ff = np.asarray(feats.face_found, bool)
                fv = ff[1:] & ff[:-1]
            flow.append(f)
            valid.append(np.asarray(fv, bool)[: len(f)])
        return cls(ids, vols, np.array(labels, np.int64), clips, flow, valid)


def parse_label(value: str) -> int:
    value = value.strip()
    if value in CLASS_NAMES:
        return CLASS_NAMES.index(value)
    try:
        k = int(value)
    except ValueError:
        raise DatasetError(f"label {value!r} is neither a class name ({', '.join(CLASS_NAMES)}) nor 0..2") from None
    if not 0 <= k < len(CLASS_NAMES):
        raise DatasetError(f"label {k} is out of range 0..{len(CLASS_NAMES) - 1}")
    return k


def load_manifest(path: str | Path) -> dict[str, FeatureSet]:
    """Read a manifest CSV; returns one FeatureSet per fold (e.g. "train", "test")."""
    from core.descriptor import ReactionFeatures

    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"manifest {path} not found; write a CSV with columns {','.join(MANIFEST_COLUMNS)}")
    with open(path, newline="") as handle:
        rows = list(csv.DictReader(handle))
    if not rows or any(c not in rows[0] for c in MANIFEST_COLUMNS):
        raise DatasetError(f"manifest {path} must have columns {','.join(MANIFEST_COLUMNS)}")
    folds: dict[str, list] = {}
    for row in rows:
        npz = Path(row["features_npz"])
        npz = npz if npz.is_absolute() else path.parent / npz
        if not npz.is_file():
            raise DatasetError(f"{row['video_id']}: feature file {npz} is missing; run `python -m app extract` first")
        folds.setdefault(row["fold"].strip(), []).append(
            (row["video_id"], row["volunteer_id"], parse_label(row["label"]), ReactionFeatures.load(npz)))
    return {fold: FeatureSet.from_features(recs) for fold, recs in folds.items()}


def write_manifest(path: str | Path, rows: Sequence[dict[str, Any]]) -> Path:
    path = Path(path)
    with open(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(MANIFEST_COLUMNS))
        writer.writeheader()
        for row in rows:
            writer.writerow({k: row[k] for k in MANIFEST_COLUMNS})
    return path


def _cached_features(home: Any, sha: str, feature_key: str | None) -> Any:
    """The cached features of one video: under ``feature_key`` (default: the default FeatureConfig's
    key), else the only cached version there is; several versions and no key -> DatasetError."""
    from core.descriptor import EXTRACTOR, FeatureConfig, ReactionFeatures

    key = feature_key or FeatureConfig().key()
    path = home.features / EXTRACTOR / key / sha[:2] / f"{sha}.npz"
    if path.is_file():
        return ReactionFeatures.load(path)
    if feature_key:
        return None
    found = sorted((home.features / EXTRACTOR).glob(f"*/{sha[:2]}/{sha}.npz"))
    if len(found) > 1:
        raise DatasetError(f"video {sha[:12]} has features from {len(found)} extractor settings; pass --feature-key "
                           f"(one of {', '.join(p.parts[-3] for p in found)})")
    return ReactionFeatures.load(found[0]) if found else None


def load_from_store(home: Any, split_name: str = "default", feature_key: str | None = None
                    ) -> tuple[dict[str, FeatureSet], dict[str, Any]]:
    """Train/test FeatureSets from the store: ``ok`` views with a rating, the named split, cached features."""
    from core.labels import score_to_class
    from core.splits import load_split, split_thresholds
    from core.store import Store

    with Store.open(home, read_only=True) as store:
        split = load_split(store, split_name)
        if split is None:
            raise DatasetError(f"no split named {split_name!r}; run `python -m app split --name {split_name}` first")
        thresholds = split_thresholds(store, split_name)  # the class thresholds the split was made with
        views = store.list_views(status="ok")
        folds: dict[str, list] = {}
        missing = 0
        for view in views:
            fold = split.get(view["volunteer_id"])
            if fold is None or view.get("rating") is None:
                continue
            feats = _cached_features(store.home, view["video_sha256"], feature_key)
            if feats is None:
                missing += 1
                continue
            folds.setdefault(fold, []).append(
                (view["view_id"], view["volunteer_id"], score_to_class(view["rating"], thresholds), feats))
    if missing:
        raise DatasetError(f"{missing} rated videos have no cached features; run `python -m app extract` first")
    if not folds:
        raise DatasetError("no rated videos in the split; collect data first")
    return {f: FeatureSet.from_features(r) for f, r in folds.items()}, {"split": split_name, "thresholds": thresholds.as_dict()}


@dataclass
class Batch:
    labels: torch.Tensor  # (B,)
    clips: torch.Tensor | None = None  # (B or M, 3, 16, H, W) float
    clip_owner: torch.Tensor | None = None  # (M,) video index of each clip (evaluation)
    flow: torch.Tensor | None = None  # (B, T, 72)
    valid: torch.Tensor | None = None  # (B, T) bool
    lengths: torch.Tensor | None = None  # (B,)


def clips_to_input(clips_uint8: torch.Tensor, norm: str = "unit", channels_last: bool = False) -> torch.Tensor:
    """(N, 16, H, W, 3) uint8 RGB -> (N, 3, 16, H, W) float; same maths as core.clips.clips_to_tensor_input."""
    x = clips_uint8.float()
    if norm == "unit":
        x = x / 127.5 - 1.0
    elif norm == "sports1m":
        x = x.flip(-1) - torch.as_tensor(SPORTS1M_MEAN_BGR, device=x.device)
    else:
        raise ValueError(f"unknown clip normalisation {norm!r}; use 'unit' or 'sports1m'")
    x = x.permute(0, 4, 1, 2, 3)
    return x.contiguous(memory_format=torch.channels_last_3d) if channels_last else x.contiguous()


def _pad_flow(flows: list[np.ndarray], valids: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    t = max(1, max(len(f) for f in flows))
    dim = flows[0].shape[1] if flows[0].ndim == 2 else 72
    x = np.zeros((len(flows), t, dim), np.float32)
    v = np.zeros((len(flows), t), bool)
    lengths = np.ones(len(flows), np.int64)
    for i, (f, fv) in enumerate(zip(flows, valids)):
        x[i, : len(f)] = f
        v[i, : len(f)] = fv
        lengths[i] = max(1, len(f))
    return x, v, lengths


def make_batch(fs: FeatureSet, indices: Sequence[int], *, rng: np.random.Generator | None, need_clips: bool,
               need_flow: bool, device: torch.device | str = "cpu", clip_norm: str = "unit",
               channels_last: bool = False) -> Batch:
    """One batch; ``rng`` given: one random clip per video (training); ``None``: all clips (evaluation)."""
    idx = list(indices)
    batch = Batch(labels=torch.as_tensor(fs.labels[idx], device=device))
    if need_clips:
        if rng is not None:
            chosen = [fs.clips[i][rng.integers(len(fs.clips[i]))] for i in idx]
            owner = None
        else:
            chosen = [c for i in idx for c in fs.clips[i]]
            owner = torch.as_tensor(np.repeat(np.arange(len(idx)), [len(fs.clips[i]) for i in idx]), device=device)
        raw = torch.from_numpy(np.stack(chosen)).to(device, non_blocking=True)
        batch.clips = clips_to_input(raw, clip_norm, channels_last)
        batch.clip_owner = owner
    if need_flow:
        x, v, lengths = _pad_flow([fs.flow[i] for i in idx], [fs.flow_valid[i] for i in idx])
        batch.flow = torch.from_numpy(x).to(device)
        batch.valid = torch.from_numpy(v).to(device)
        batch.lengths = torch.from_numpy(lengths)
    return batch


def train_batches(fs: FeatureSet, batch_size: int, rng: np.random.Generator, **kw: Any) -> Iterator[Batch]:
    order = rng.permutation(len(fs))
    for start in range(0, len(fs), batch_size):
        yield make_batch(fs, order[start:start + batch_size], rng=rng, **kw)


def eval_batches(fs: FeatureSet, batch_size: int, **kw: Any) -> Iterator[tuple[np.ndarray, Batch]]:
    for start in range(0, len(fs), batch_size):
        idx = np.arange(start, min(len(fs), start + batch_size))
        yield idx, make_batch(fs, idx, rng=None, **kw)
