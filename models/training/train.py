"""Train one variant, save it as a run folder, load it back.

Paper settings are the defaults (§4.2): Adam lr 1e-4 for the PBE, Adam lr 5e-3 (betas 0.9,
0.999) for the LBE, batch 32, 500 epochs. Evaluation on the held-out set uses every clip.

Data: batches stream through a torch DataLoader (``models/training/loader.py``): clips are read lazily
from the feature files (``models/training/npz_arrays.py``), so RAM stays bounded at any dataset size.
Clip sampling per epoch (``CLIP_SAMPLING``): every training video once, in an order shuffled
with ``(seed, epoch)``, one clip drawn uniformly at random from its clips. ``num_workers``
(default: 0 on CPU, up to 8 on CUDA) reads ahead ``prefetch_factor`` batches per worker into
pinned memory; batches go to the GPU with ``non_blocking`` copies. Each history row records
``data_wait_fraction``: the share of the epoch's training-loop time spent blocked waiting
for the next batch (``1 - data_wait_fraction`` bounds the GPU busy share of the step time;
steps end with a host sync, so host time tracks device time).

Devices: CPU by default. On CUDA the PBE forward/backward runs under bf16 autocast with
channels-last-3D clips (``amp="auto"``), optionally ``torch.compile`` (``compile=True``).

Several GPUs / machines: ``torchrun --nproc_per_node=N -m app train ...`` (see
``models/training/distributed.py``). ``train_model`` sees the initialised process group, shards every
epoch across ranks (a global batch stays ``batch_size`` videos), wraps the PBE and the LBE in
DDP separately, sums the history's statistics over ranks and evaluates each rank's share of the
held-out videos; the caller saves the run on rank 0 only.

Run folder: ``<runs>/<run_id>/model/`` (checkpoint via ``models/checkpoint.py``, kind
``plm-ipe/<variant>``) + ``metrics.json`` + ``history.json``.
"""
from __future__ import annotations

import contextlib
import subprocess
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

from core.files import atomic_write_json
from core.labels import CLASS_NAMES, LabelThresholds
from models.reaction.baselines import early_fusion_step, independent_step
from models.checkpoint import REACTION_KIND, load_checkpoint, reaction_kind, save_checkpoint
from models.training.data import FeatureSet, to_device
from models.training.distributed import (DistContext, all_gather_objects, all_reduce_sums, current, ddp_unwrapped,
                                unwrap_ddp, wrap_ddp)
from models.training.evaluate import classification_metrics, predict_set
from models.training.loader import EpochBatchSampler, auto_workers, make_loader
from models.reaction.plm_ipe import ModelConfig, ReactionModel, mutual_step
from models.reaction.lbe import fit_input_norm
from models.training.npz_arrays import read_item
from models.training.volunteer_norm import apply_volunteer_norm
from models.reaction.registry import PRIMARY_HEAD, build_from_config

CLIP_SAMPLING = ("per epoch: every training video once, in an order shuffled with (seed, epoch), one clip drawn "
                 "uniformly at random from the video's clips; batches of batch_size videos (split across DDP ranks)")


@dataclass(frozen=True)
class TrainConfig:
    epochs: int = 500
    batch_size: int = 32
    lr_pbe: float = 1e-4
    lr_lbe: float = 5e-3
    betas: tuple[float, float] = (0.9, 0.999)
    seed: int = 0
    device: str = "cpu"
    amp: str = "auto"  # "auto": bf16 autocast on CUDA, none on CPU; "bf16"; "off"
    channels_last: str = "auto"  # "auto": on CUDA only; "on"; "off"
    compile: bool = False
    eval_every: int = 1  # epochs between held-out evaluations (0: only at the end)
    num_workers: int = -1  # DataLoader workers; -1: auto (0 on CPU, up to 8 on CUDA)
    prefetch_factor: int = 4  # batches read ahead per worker
    warmup_steps_pbe: int = 0  # PBE learning rate ramps linearly from lr/steps to lr over these steps (0: paper, none)
    volunteer_norm: str = "none"  # "baseline": flow standardised by each volunteer's first seconds (volunteer_norm.py)


@dataclass
class TrainResult:
    model: ReactionModel
    history: list[dict[str, Any]]
    metrics: dict[str, Any]
    seconds: float
    extra: dict[str, Any] = field(default_factory=dict)


def code_version() -> str:
    """``git describe`` of the checkout, else the version in ``pyproject.toml``, else "unknown"."""
    repo = Path(__file__).resolve().parents[2]
    try:
        out = subprocess.run(["git", "describe", "--always", "--dirty", "--tags"], cwd=repo, capture_output=True,
                             text=True, timeout=10, check=False)
        if out.returncode == 0 and out.stdout.strip():
            return out.stdout.strip()
    except (OSError, subprocess.SubprocessError):
        pass
    try:
        import tomllib

        return "v" + tomllib.loads((repo / "pyproject.toml").read_text())["project"]["version"]
    except (OSError, KeyError, ValueError):
        return "unknown"


def _autocast_factory(config: TrainConfig, device: torch.device) -> Callable[[], contextlib.AbstractContextManager]:
    use = config.amp == "bf16" or (config.amp == "auto" and device.type == "cuda")
    if not use:
        return contextlib.nullcontext
    return lambda: torch.autocast(device.type, dtype=torch.bfloat16)


def make_optimizers(model: ReactionModel, config: TrainConfig) -> dict[str, torch.optim.Optimizer]:
    opts: dict[str, torch.optim.Optimizer] = {}
    if model.pbe is not None:
        opts["pbe"] = torch.optim.Adam(model.pbe.parameters(), lr=config.lr_pbe, betas=config.betas)
    if model.lbe is not None:
        opts["lbe"] = torch.optim.Adam(model.lbe.parameters(), lr=config.lr_lbe, betas=config.betas)
    return opts


def make_warmups(optimizers: dict[str, torch.optim.Optimizer], config: TrainConfig) -> list[Any]:
    """Per-step linear warm-up schedulers (stepped after every optimiser step); none by default."""
    steps = config.warmup_steps_pbe
    if steps <= 0 or "pbe" not in optimizers:
        return []
    return [torch.optim.lr_scheduler.LambdaLR(optimizers["pbe"], lambda k: min(1.0, (k + 1) / steps))]


def train_step(model: ReactionModel, batch: Any, optimizers: dict, autocast: Callable) -> dict[str, float]:
    if model.strategy == "mutual":
        return mutual_step(model, batch, optimizers, autocast=autocast)
    if model.strategy == "early-fusion":
        return early_fusion_step(model, batch, optimizers, autocast=autocast)
    return independent_step(model, batch, optimizers, autocast=autocast)


def train_model(model_config: ModelConfig, train_set: FeatureSet, eval_set: FeatureSet | None = None,
                config: TrainConfig = TrainConfig(), *, progress: bool = False) -> TrainResult:
    """Train ``model_config.variant`` on ``train_set``; evaluate on ``eval_set`` every ``eval_every`` epochs.

    Under ``torchrun`` (an initialised process group, ``models/training/distributed.py``) every rank calls
    this with the same sets and config; the returned model and metrics are the same on every rank.
    """
    if len(train_set) == 0:
        raise ValueError("the training set is empty")
    train_set = apply_volunteer_norm(train_set, config.volunteer_norm)
    eval_set = apply_volunteer_norm(eval_set, config.volunteer_norm) if eval_set is not None else None
    ctx = current()
    torch.manual_seed(config.seed)
    device = torch.device(config.device)
    model = build_from_config(model_config)
    if model.lbe is not None:  # the same statistics on every rank: each reads the whole training set
        fit_input_norm(model.lbe, (read_item(train_set.flow, i) for i in range(len(train_set))), train_set.flow_valid)
    model = model.to(device)
    channels_last = config.channels_last == "on" or (config.channels_last == "auto" and device.type == "cuda")
    if channels_last and model.pbe is not None:
        model.pbe.to(memory_format=torch.channels_last_3d)
    if config.compile and model.pbe is not None:
        model.pbe.compile()
    wrap_ddp(model, ctx, device, find_unused_parameters=model.pbe is not None and model_config.c3d.feature == "fc6")
    autocast = _autocast_factory(config, device)
    optimizers = make_optimizers(model, config)
    warmups = make_warmups(optimizers, config)
    need_clips, need_flow = model.pbe is not None, model.lbe is not None
    workers = config.num_workers if config.num_workers >= 0 else auto_workers(device, ctx.local_world_size)
    sampler = EpochBatchSampler(train_set.clip_counts(), config.batch_size, seed=config.seed, rank=ctx.rank,
                                world_size=ctx.world_size)
    loader = make_loader(train_set, sampler, need_clips=need_clips, need_flow=need_flow, num_workers=workers,
                         pin_memory=device.type == "cuda", prefetch_factor=config.prefetch_factor, persistent=True)
    eval_kw = dict(batch_size=config.batch_size, device=device, autocast=autocast, channels_last=channels_last)
    history: list[dict[str, Any]] = []
    metrics: dict[str, Any] = {}
    start = time.perf_counter()
    epochs = range(config.epochs)
    if progress and ctx.is_main:
        from tqdm import tqdm
        epochs = tqdm(epochs, desc=f"train {model_config.variant}", unit="epoch")
    for epoch in epochs:
        model.train()
        sampler.set_epoch(epoch)
        row = _train_epoch(model, loader, optimizers, autocast, ctx, device, model_config.clip_norm, channels_last,
                           warmups)
        row = {"epoch": epoch + 1, **row}
        last = epoch + 1 == config.epochs
        if eval_set is not None and len(eval_set) and (last or (config.eval_every and (epoch + 1) % config.eval_every == 0)):
            metrics = _evaluate(model, eval_set, ctx, **eval_kw)  # after the last epoch: the run's metrics
            for head, m in metrics.items():
                row[f"eval_acc_{head}"] = m["accuracy"]
                row[f"eval_macro_f1_{head}"] = m["macro_f1"]
        history.append(row)
    if not metrics and eval_set is not None and len(eval_set):  # epochs=0: the untrained model's metrics
        metrics = _evaluate(model, eval_set, ctx, **eval_kw)
    seconds = time.perf_counter() - start  # training + held-out evaluations
    unwrap_ddp(model)
    extra = {"clip_sampling": CLIP_SAMPLING, "world_size": ctx.world_size, "num_workers": workers,
             "data_wait_fraction": _overall_wait(history), "lazy_data": train_set.lazy}
    return TrainResult(model.cpu(), history, metrics, seconds, extra)


def _train_epoch(model: ReactionModel, loader: Any, optimizers: dict, autocast: Callable, ctx: DistContext,
                 device: torch.device, clip_norm: str, channels_last: bool, warmups: list[Any] = ()) -> dict[str, Any]:
    """One pass over the loader; statistics summed over ranks; the time blocked on data recorded."""
    sums: dict[str, float] = {}
    steps = seen = 0
    wait = 0.0
    t0 = time.perf_counter()
    batches = iter(loader)
    while True:
        t_wait = time.perf_counter()
        host = next(batches, None)
        wait += time.perf_counter() - t_wait
        if host is None:
            break
        batch = to_device(host, device, clip_norm=clip_norm, channels_last=channels_last)
        stats = train_step(model, batch, optimizers, autocast)  # ends with a host sync (float(loss))
        for warmup in warmups:
            warmup.step()
        for k, v in stats.items():
            sums[k] = sums.get(k, 0.0) + v
        steps += 1
        seen += int(host["labels"].shape[0])
    loop = time.perf_counter() - t0
    totals = all_reduce_sums({**sums, "_steps": steps, "_seen": seen, "_wait": wait, "_loop": loop}, ctx, device)
    n_steps, n_seen = totals.pop("_steps"), totals.pop("_seen")
    wait_s, loop_s = totals.pop("_wait") / ctx.world_size, totals.pop("_loop") / ctx.world_size
    row: dict[str, Any] = {}
    for k, v in totals.items():
        row[k.replace("correct_", "train_acc_")] = v / n_seen if k.startswith("correct_") else v / n_steps
    row.update(epoch_seconds=round(loop_s, 4), data_wait_seconds=round(wait_s, 4),
               data_wait_fraction=round(wait_s / loop_s, 4) if loop_s > 0 else 0.0,
               videos_per_second=round(n_seen / loop_s, 2) if loop_s > 0 else 0.0)
    return row


def _overall_wait(history: list[dict[str, Any]]) -> float:
    loop = sum(r.get("epoch_seconds", 0.0) for r in history)
    return round(sum(r.get("data_wait_seconds", 0.0) for r in history) / loop, 4) if loop > 0 else 0.0


def _evaluate(model: ReactionModel, fs: FeatureSet, ctx: DistContext, **kw: Any) -> dict[str, dict[str, Any]]:
    """Held-out metrics; under DDP each rank predicts every ``world_size``-th video, results gathered."""
    with ddp_unwrapped(model):
        if not ctx.enabled:
            probs = predict_set(model, fs, **kw)
        else:
            mine = list(range(ctx.rank, len(fs), ctx.world_size))
            part = predict_set(model, fs.subset(mine), **kw) if mine else {}
            probs = {}
            for idx, p in all_gather_objects((mine, part), ctx):
                for head, values in p.items():
                    probs.setdefault(head, np.zeros((len(fs), values.shape[1]), np.float32))[idx] = values
    return {head: classification_metrics(fs.labels, p.argmax(1)) for head, p in probs.items()}


def _contiguous_state(model: ReactionModel) -> dict[str, torch.Tensor]:
    sd = model.state_dict()
    return {k.replace("_orig_mod.", "").replace("module.", ""): v.contiguous() for k, v in sd.items()}


def save_run(run_dir: str | Path, result: TrainResult, model_config: ModelConfig, train_config: TrainConfig, *,
             split_id: str | None, data_fingerprint: str | None, thresholds: LabelThresholds = LabelThresholds(),
             synthetic: bool = False, extra: dict[str, Any] | None = None) -> Path:
    """Write ``run_dir/model`` (checkpoint), ``metrics.json`` and ``history.json``."""
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    config = {
        "variant": model_config.variant, "architecture": model_config.to_dict(), "train": asdict(train_config),
        "class_map": {str(i): n for i, n in enumerate(CLASS_NAMES)}, "score_thresholds": thresholds.as_dict(),
        "split_id": split_id, "data_fingerprint": data_fingerprint, "metrics": result.metrics,
        "primary_head": PRIMARY_HEAD[model_config.variant], "code_version": code_version(),
        "train_seconds": round(result.seconds, 3), "synthetic_data": synthetic, **(extra or {}),
    }
    save_checkpoint(run_dir / "model", _contiguous_state(result.model), config, kind=reaction_kind(model_config.variant))
    summary = {"variant": model_config.variant, "primary_head": config["primary_head"], "metrics": result.metrics,
               "split_id": split_id, "synthetic_data": synthetic}
    _atomic_json(run_dir / "metrics.json", summary)
    _atomic_json(run_dir / "history.json", result.history)
    return run_dir


def _atomic_json(path: Path, data: Any) -> None:
    atomic_write_json(path, data, indent=2, default=str)


def find_checkpoint(folder: str | Path) -> Path:
    """The checkpoint folder of a run: ``folder`` itself or ``folder/model``."""
    folder = Path(folder)
    return folder if (folder / "config.json").is_file() or not (folder / "model").is_dir() else folder / "model"


def load_model(folder: str | Path) -> tuple[ReactionModel, dict[str, Any]]:
    """Rebuild a trained model from a run folder (or its checkpoint folder); nothing unpickled."""
    from core.errors import CheckpointError

    state, config = load_checkpoint(find_checkpoint(folder))
    if not str(config.get("kind", "")).startswith(REACTION_KIND + "/"):
        raise CheckpointError(f"{folder} holds a {config.get('kind')!r} model, not a reaction (plm-ipe) model")
    model = build_from_config(ModelConfig.from_dict(config["architecture"]))
    missing, unexpected = model.load_state_dict(state, strict=False)
    if missing or unexpected:
        raise CheckpointError(f"{folder}: weights do not match the architecture (missing {missing[:3]}, unexpected {unexpected[:3]})")
    model.eval()
    return model, config
