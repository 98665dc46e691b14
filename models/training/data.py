"""Training data over precomputed reaction features: in memory, or streamed from feature files.

A ``FeatureSet`` holds, per video: its clips (N, 16, H, W, 3) uint8 RGB, its 72-d flow
sequence (T-1, 72) with validity (False where no face), its class (0 negative, 1 neutral,
2 positive) and its volunteer. Sources: in-memory arrays (tests, ``models/training/synthetic.py``),
a manifest CSV (``video_id,volunteer_id,fold,label,features_npz``) or the store (split +
feature cache, ``core/reaction/feature_cache.py``).

Memory: sets read from feature files (manifest, store) are **lazy**: ``clips`` and ``flow``
are :class:`models.training.npz_arrays.LazyArrays` that point into the uncompressed npz files and read
one clip (or one flow sequence) per access, so RAM stays bounded whatever the dataset size
(the paper's 3,345 videos hold ~36 GB of uint8 clips). Only labels, ids and the per-frame
validity flags are kept in RAM. Batches are built by ``models/training/loader.py`` (a torch DataLoader
with workers, pinned memory on CUDA and prefetching).

Clip sampling: during training, each epoch visits **every training video once**, in an order
shuffled with ``(seed, epoch)``, and draws **one clip uniformly at random per video** (a fresh
draw every epoch; ``models.training.loader.EpochBatchSampler``). At evaluation **all** clips of a video
are scored and their probabilities averaged (``ReactionModel.video_probs``). The flow sequence
is used whole; ``models/training/volunteer_norm.py`` can standardise it per volunteer (an option).
"""
from __future__ import annotations

import csv
import json
import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch

from core.reaction.clips import CLIP_NORMS, CLIP_STD_FLOOR, SPORTS1M_MEAN_BGR
from core.errors import IPEError
from core.reaction.video_list import FEATURE_MANIFEST_COLUMNS
from core.reaction.video_list import parse_label as parse_class
from core.labels import CLASS_NAMES
from models.training.npz_arrays import LazyArrays, LazyArrayError, npz_member, read_item, shape_of, take

MANIFEST_COLUMNS = FEATURE_MANIFEST_COLUMNS  # written by `python -m app extract --videos`
DEFAULT_FPS = 30.0


class DatasetError(IPEError):
    """Training data is missing or malformed."""


@dataclass
class FeatureSet:
    video_ids: list[str]
    volunteers: list[str]
    labels: np.ndarray  # (V,) int64 in 0..2
    clips: Sequence[np.ndarray]  # each (N_i, 16, H, W, 3) uint8; a list, or LazyArrays (read on access)
    flow: Sequence[np.ndarray]  # each (T_i, 72) float32; a list, or LazyArrays
    flow_valid: list[np.ndarray]  # each (T_i,) bool
    synthetic: bool = False
    fps: list[float] | None = None  # frames per second of each video (None: 30 each)
    # the extractor settings the features were made with ({"extractor", "version", "config_key", "config"});
    # None for generated tensors
    features: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        n = len(self.video_ids)
        self.labels = np.asarray(self.labels, dtype=np.int64)
        if self.fps is None:
            self.fps = [DEFAULT_FPS] * n
        if not (len(self.volunteers) == len(self.clips) == len(self.flow) == len(self.flow_valid) == self.labels.shape[0]
                == len(self.fps) == n):
            raise DatasetError("feature set fields have different lengths")
        if n and (self.labels.min() < 0 or self.labels.max() >= len(CLASS_NAMES)):
            raise DatasetError(f"labels must be 0..{len(CLASS_NAMES) - 1}")
        for i, vid in enumerate(self.video_ids):
            shape = shape_of(self.clips, i)
            dtype = self.clips.dtype(i) if isinstance(self.clips, LazyArrays) else self.clips[i].dtype
            if len(shape) != 5 or shape[0] < 1 or shape[-1] != 3 or dtype != np.uint8:
                raise DatasetError(f"video {vid}: clips must be (N>=1, 16, H, W, 3) uint8, got {shape} {dtype}")

    def __len__(self) -> int:
        return len(self.video_ids)

    @property
    def lazy(self) -> bool:
        """True when clips are read from files on access (bounded RAM)."""
        return isinstance(self.clips, LazyArrays)

    def subset(self, indices: Sequence[int]) -> "FeatureSet":
        idx = list(indices)
        return FeatureSet([self.video_ids[i] for i in idx], [self.volunteers[i] for i in idx], self.labels[idx],
                          take(self.clips, idx), _take(self.flow, idx), [self.flow_valid[i] for i in idx],
                          self.synthetic, [self.fps[i] for i in idx], self.features)

    def by_volunteers(self, volunteers: set[str]) -> "FeatureSet":
        return self.subset([i for i, v in enumerate(self.volunteers) if v in volunteers])

    @property
    def clip_shape(self) -> tuple[int, ...]:
        return tuple(shape_of(self.clips, 0)[1:]) if len(self.clips) else ()

    def clip_counts(self) -> np.ndarray:
        """(V,) number of clips of each video (metadata only, nothing is read)."""
        return np.array([shape_of(self.clips, i)[0] for i in range(len(self))], np.int64)

    def fingerprint(self) -> str:
        """sha256 over ids, labels, volunteers, shapes, every flow sequence and a content sample of
        the clips (the middle frame of the first and last clip at a 16-pixel stride); the same for
        in-memory and lazy sets, and it reads only two clips per video."""
        h = hashlib.sha256()
        for i in range(len(self)):
            cshape, fshape = shape_of(self.clips, i), shape_of(self.flow, i)
            h.update(f"{self.video_ids[i]}|{self.volunteers[i]}|{int(self.labels[i])}|{cshape}|{fshape}".encode())
            for k in sorted({0, cshape[0] - 1}):
                clip = read_item(self.clips, i, k)
                h.update(np.ascontiguousarray(clip[clip.shape[0] // 2, ::16, ::16]).tobytes())
            h.update(np.ascontiguousarray(read_item(self.flow, i), dtype=np.float32).tobytes())
        return h.hexdigest()[:16]

    def class_counts(self) -> list[int]:
        return np.bincount(self.labels, minlength=len(CLASS_NAMES)).tolist()

    @classmethod
    def from_npz(cls, records: Sequence[tuple[str, str, int, str | Path]]) -> "FeatureSet":
        """Lazy set from ``(video_id, volunteer_id, label, features.npz)`` records: clips and flow
        stay in the files (see :mod:`models.training.npz_arrays`); only the validity flags are read."""
        ids, vols, labels, clips, flow, valid, fps = [], [], [], [], [], [], []
        settings: dict[str, dict[str, Any]] = {}
        for video_id, volunteer, label, path in records:
            try:
                clip_ref, flow_ref = npz_member(path, "clips"), npz_member(path, "flow72")
                fv, rate = _flow_valid_and_fps(path, flow_ref.shape[0])
                found = _feature_settings(path)
            except LazyArrayError as err:
                raise DatasetError(f"video {video_id}: {err}") from err
            if found is not None:
                settings.setdefault(found["config_key"], {**found, "example": video_id})
            fps.append(rate)
            ids.append(video_id)
            vols.append(volunteer)
            labels.append(int(label))
            clips.append(clip_ref)
            flow.append(flow_ref)
            valid.append(fv)
        if len(settings) > 1:
            examples = ", ".join(f"{s['example']} ({key})" for key, s in settings.items())
            raise DatasetError(f"the videos were extracted with {len(settings)} different settings (e.g. {examples}); "
                               "extract them all with the same settings before training on them together")
        features = next(({k: v for k, v in s.items() if k != "example"} for s in settings.values()), None)
        return cls(ids, vols, np.array(labels, np.int64), LazyArrays(clips), LazyArrays(flow), valid, fps=fps,
                   features=features)

    @classmethod
    def from_features(cls, records: Sequence[tuple[str, str, int, Any]]) -> "FeatureSet":
        """From ``(video_id, volunteer_id, label, ReactionFeatures)`` records."""
        ids, vols, labels, clips, flow, valid, fps = [], [], [], [], [], [], []
        for video_id, volunteer, label, feats in records:
            fps.append(float(getattr(feats, "fps", DEFAULT_FPS) or DEFAULT_FPS))
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
        metas = [getattr(feats, "meta", None) or {} for *_, feats in records]
        keys = {m.get("config_key") for m in metas}
        features = ({k: metas[0].get(k) for k in ("extractor", "version", "config_key", "config")}
                    if len(keys) == 1 and None not in keys else None)
        return cls(ids, vols, np.array(labels, np.int64), clips, flow, valid, fps=fps, features=features)


def _take(arrays: Sequence[np.ndarray], indices: Sequence[int]) -> Sequence[np.ndarray]:
    from models.training.volunteer_norm import VolunteerNormFlow

    return arrays.take(indices) if isinstance(arrays, VolunteerNormFlow) else take(arrays, indices)


def parse_label(value: str) -> int:
    try:
        return parse_class(value)
    except ValueError as err:
        raise DatasetError(str(err)) from None


def _feature_settings(path: str | Path) -> dict[str, Any] | None:
    """The extractor settings stored in a feature file's ``meta`` (None when it has none)."""
    with np.load(path, allow_pickle=False) as data:
        if "meta" not in data.files:
            return None
        try:
            meta = json.loads(str(data["meta"]))
        except ValueError:
            return None
    if not isinstance(meta, dict) or "config_key" not in meta:
        return None
    return {k: meta.get(k) for k in ("extractor", "version", "config_key", "config")}


def _flow_valid_and_fps(path: str | Path, steps: int) -> tuple[np.ndarray, float]:
    """The (steps,) flow validity of a feature file (``flow_valid``, else derived from ``face_found``:
    a flow step needs a face in both frames) and its frame rate."""
    with np.load(path, allow_pickle=False) as data:
        fps = float(data["fps"]) if "fps" in data.files else DEFAULT_FPS
        if "flow_valid" in data.files:
            return np.asarray(data["flow_valid"], bool)[:steps], fps
        ff = np.asarray(data["face_found"], bool)
    return (ff[1:] & ff[:-1])[:steps], fps


def load_manifest(path: str | Path) -> dict[str, FeatureSet]:
    """Read a manifest CSV; returns one lazy FeatureSet per fold (e.g. "train", "test")."""
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"manifest {path} not found; write a CSV with columns {','.join(MANIFEST_COLUMNS)}")
    with open(path, newline="") as handle:
        rows = list(csv.DictReader(handle))
    if not rows or any(c not in rows[0] for c in MANIFEST_COLUMNS):
        if rows and "path" in rows[0]:
            raise DatasetError(f"{path} lists videos, not features: run `python -m app extract --videos {path}` "
                               "and train on the feature manifest it writes")
        raise DatasetError(f"manifest {path} must have columns {','.join(MANIFEST_COLUMNS)}")
    folds: dict[str, list] = {}
    for row in rows:
        npz = Path(row["features_npz"])
        npz = npz if npz.is_absolute() else path.parent / npz
        if not npz.is_file():
            raise DatasetError(f"{row['video_id']}: feature file {npz} is missing; run `python -m app extract` "
                               "(or `extract --videos LIST`) again")
        folds.setdefault(row["fold"].strip(), []).append(
            (row["video_id"], row["volunteer_id"], parse_label(row["label"]), npz))
    return {fold: FeatureSet.from_npz(recs) for fold, recs in folds.items()}


def write_manifest(path: str | Path, rows: Sequence[dict[str, Any]]) -> Path:
    path = Path(path)
    with open(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(MANIFEST_COLUMNS))
        writer.writeheader()
        for row in rows:
            writer.writerow({k: row[k] for k in MANIFEST_COLUMNS})
    return path


def _cached_feature_path(home: Any, sha: str, feature_key: str | None) -> Path | None:
    """The cached feature file of one video: under ``feature_key`` (default: the default FeatureConfig's
    key), else the only cached version there is; several versions and no key -> DatasetError."""
    from core.reaction.descriptor import EXTRACTOR, FeatureConfig

    key = feature_key or FeatureConfig().key()
    path = home.features / EXTRACTOR / key / sha[:2] / f"{sha}.npz"
    if path.is_file():
        return path
    if feature_key:
        return None
    found = sorted((home.features / EXTRACTOR).glob(f"*/{sha[:2]}/{sha}.npz"))
    if len(found) > 1:
        raise DatasetError(f"video {sha[:12]} has features from {len(found)} extractor settings; pass --feature-key "
                           f"(one of {', '.join(p.parts[-3] for p in found)})")
    return found[0] if found else None


def load_from_store(home: Any, split_name: str = "default", feature_key: str | None = None
                    ) -> tuple[dict[str, FeatureSet], dict[str, Any]]:
    """Train/test lazy FeatureSets from the store: ``ok`` views with a rating, the named split, cached features."""
    from core.labels import score_to_class
    from core.collection.splits import load_split, split_thresholds
    from core.store import Store

    with Store.open(home, read_only=True) as store:
        with store.snapshot():  # one consistent read while the collection app may be committing
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
            path = _cached_feature_path(store.home, view["video_sha256"], feature_key)
            if path is None:
                missing += 1
                continue
            folds.setdefault(fold, []).append(
                (view["view_id"], view["volunteer_id"], score_to_class(view["rating"], thresholds), path))
    if missing:
        raise DatasetError(f"{missing} rated videos have no cached features; run `python -m app extract` first")
    if not folds:
        raise DatasetError("no rated videos in the split; collect data first")
    return {f: FeatureSet.from_npz(r) for f, r in folds.items()}, {"split": split_name, "thresholds": thresholds.as_dict()}


@dataclass
class Batch:
    labels: torch.Tensor  # (B,)
    clips: torch.Tensor | None = None  # (B or M, 3, 16, H, W) float
    clip_owner: torch.Tensor | None = None  # (M,) video index of each clip (evaluation)
    flow: torch.Tensor | None = None  # (B, T, 72)
    valid: torch.Tensor | None = None  # (B, T) bool
    lengths: torch.Tensor | None = None  # (B,)


def clips_to_input(clips_uint8: torch.Tensor, norm: str = "unit", channels_last: bool = False) -> torch.Tensor:
    """(N, 16, H, W, 3) uint8 RGB -> (N, 3, 16, H, W) float; same maths as core.reaction.clips.clips_to_tensor_input."""
    x = clips_uint8.float()
    if norm == "unit":
        x = x / 127.5 - 1.0
    elif norm == "sports1m":
        x = x.flip(-1) - torch.as_tensor(SPORTS1M_MEAN_BGR, device=x.device)
    elif norm == "standardise":
        dims = tuple(range(1, x.dim()))
        x = (x - x.mean(dims, keepdim=True)) / x.std(dims, keepdim=True).clamp(min=CLIP_STD_FLOOR)
    elif norm == "temporal":
        x = x - x.mean(1, keepdim=True)  # dim 1: the clip's frames
        dims = tuple(range(1, x.dim()))
        x = x / x.std(dims, keepdim=True).clamp(min=CLIP_STD_FLOOR)
    else:
        raise ValueError(f"unknown clip normalisation {norm!r}; use one of {', '.join(CLIP_NORMS)}")
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


def collate(fs: FeatureSet, picks: Sequence[tuple[int, int | None]], *, need_clips: bool,
            need_flow: bool) -> dict[str, torch.Tensor]:
    """Host-side batch (CPU tensors, clips still uint8) for ``(video, clip)`` picks.

    ``clip`` an int: that one clip of the video (training); ``None``: all its clips (evaluation,
    with ``clip_owner`` saying which video each clip belongs to). Lazy sets read only these clips.
    """
    videos = [v for v, _ in picks]
    out = {"index": torch.as_tensor(videos, dtype=torch.int64), "labels": torch.from_numpy(fs.labels[videos])}
    if need_clips:
        if all(k is not None for _, k in picks):
            out["clips"] = torch.from_numpy(np.stack([read_item(fs.clips, v, k) for v, k in picks]))
        else:
            parts = [read_item(fs.clips, v) if k is None else read_item(fs.clips, v, k)[None] for v, k in picks]
            out["clips"] = torch.from_numpy(np.concatenate(parts))
            out["clip_owner"] = torch.from_numpy(np.repeat(np.arange(len(picks)), [len(p) for p in parts]))
    if need_flow:
        x, v, lengths = _pad_flow([read_item(fs.flow, i) for i in videos], [fs.flow_valid[i] for i in videos])
        out.update(flow=torch.from_numpy(x), valid=torch.from_numpy(v), lengths=torch.from_numpy(lengths))
    return out


def to_device(host: dict[str, torch.Tensor], device: torch.device | str = "cpu", *, clip_norm: str = "unit",
              channels_last: bool = False) -> Batch:
    """Move a :func:`collate` batch to ``device`` (``non_blocking``: overlaps with compute when the
    host tensors are pinned) and normalise the clips there (uint8 travels, 4x less than float)."""
    device = torch.device(device)
    nb = device.type == "cuda"
    batch = Batch(labels=host["labels"].to(device, non_blocking=nb))
    if "clips" in host:
        batch.clips = clips_to_input(host["clips"].to(device, non_blocking=nb), clip_norm, channels_last)
        if "clip_owner" in host:
            batch.clip_owner = host["clip_owner"].to(device, non_blocking=nb)
    if "flow" in host:
        batch.flow = host["flow"].to(device, non_blocking=nb)
        batch.valid = host["valid"].to(device, non_blocking=nb)
        batch.lengths = host["lengths"]  # stays on the CPU: pack_padded_sequence wants it there
    return batch


def make_batch(fs: FeatureSet, indices: Sequence[int], *, rng: np.random.Generator | None, need_clips: bool,
               need_flow: bool, device: torch.device | str = "cpu", clip_norm: str = "unit",
               channels_last: bool = False) -> Batch:
    """One batch; ``rng`` given: one random clip per video (training); ``None``: all clips (evaluation)."""
    idx = [int(i) for i in indices]
    counts = [shape_of(fs.clips, i)[0] for i in idx]
    picks = [(i, int(rng.integers(n)) if rng is not None else None) for i, n in zip(idx, counts)]
    return to_device(collate(fs, picks, need_clips=need_clips, need_flow=need_flow), device, clip_norm=clip_norm,
                     channels_last=channels_last)
