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
import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

from models.reaction.baselines import early_fusion_step, independent_step
from core.errors import CheckpointError
from models.checkpoint import plain_state_dict
from models.training.data import FeatureSet, to_device
from models.training.distributed import (DistContext, all_gather_objects, all_reduce_sums, barrier, current,
                                         ddp_unwrapped, unwrap_ddp, wrap_ddp)
from models.training.evaluate import classification_metrics, predict_set
from models.training.loader import EpochBatchSampler, auto_workers, make_loader
from models.reaction.plm_ipe import ModelConfig, ReactionModel, mutual_step
from models.reaction.lbe import fit_input_norm
from models.training.config import TrainConfig
from models.training.npz_arrays import read_item
from models.training.resume import TrainingState, load_state, restore_rng, rng_state, save_state
from models.training.volunteer_norm import apply_volunteer_norm
from models.reaction.registry import PRIMARY_HEAD, build_from_config

CLIP_SAMPLING = ("per epoch: every training video once, in an order shuffled with (seed, epoch), one clip drawn "
                 "uniformly at random from the video's clips; batches of batch_size videos (split across DDP ranks)")


@dataclass
class TrainResult:
    model: ReactionModel
    history: list[dict[str, Any]]
    metrics: dict[str, Any]
    seconds: float
    extra: dict[str, Any] = field(default_factory=dict)
    best: dict[str, Any] = field(default_factory=dict)  # {"epoch", "macro_f1", "metrics"} of the best evaluation
    best_state: dict[str, torch.Tensor] = field(default_factory=dict)


def resolve_device(name: str) -> str:
    """``auto``: the first CUDA device when there is one, else the CPU; anything else as given."""
    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return name




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
                config: TrainConfig = TrainConfig(), *, progress: bool = False,
                run_dir: str | Path | None = None) -> TrainResult:
    """Train ``model_config.variant`` on ``train_set``; evaluate on ``eval_set`` every ``eval_every`` epochs.

    With ``run_dir``, the training state is saved there every ``checkpoint_every`` epochs and a state
    already there is resumed (same configs required; ``epochs`` may grow). The best evaluation
    (macro-F1 of the primary head) is kept beside the last. Under ``torchrun`` (an initialised process
    group, ``models/training/distributed.py``) every rank calls this with the same sets and config; the
    returned model and metrics are the same on every rank, and rank 0 alone writes the state.
    """
    if len(train_set) == 0:
        raise ValueError("the training set is empty")
    train_set = apply_volunteer_norm(train_set, config.volunteer_norm)
    eval_set = apply_volunteer_norm(eval_set, config.volunteer_norm) if eval_set is not None else None
    ctx = current()
    torch.manual_seed(config.seed)
    device = torch.device(resolve_device(config.device))
    configs = {"architecture": model_config.to_dict(), "train": {k: v for k, v in asdict(config).items() if k != "epochs"}}
    saved = load_state(run_dir) if run_dir is not None else None
    if saved is not None and json.loads(json.dumps(saved.configs, default=str)) != json.loads(json.dumps(configs, default=str)):
        raise CheckpointError(f"{run_dir} was started with other settings than these; resume it with the same "
                              "data, model and training flags (only --epochs may change), or start a new run")
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
    best: dict[str, Any] = {}
    best_state: dict[str, torch.Tensor] = {}
    first = 0
    if saved is not None:
        with ddp_unwrapped(model):
            model.load_state_dict(saved.model)
        for name, opt in optimizers.items():
            opt.load_state_dict(saved.optimizers[name])
        for sched, sd in zip(warmups, saved.schedulers):
            sched.load_state_dict(sd)
        restore_rng(saved.rng)
        first, history, best, best_state = saved.epoch, saved.history, saved.best, saved.best_model
    primary = PRIMARY_HEAD[model_config.variant]
    start = time.perf_counter()
    epochs = range(first, config.epochs)
    bar = None
    if progress and ctx.is_main:
        from tqdm import tqdm
        epochs = bar = tqdm(epochs, desc=f"train {model_config.variant}", unit="epoch", initial=first, total=config.epochs)
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
            if primary in metrics and (not best or metrics[primary]["macro_f1"] > best["macro_f1"]):
                best = {"epoch": epoch + 1, "head": primary, "macro_f1": metrics[primary]["macro_f1"], "metrics": metrics}
                best_state = {k: v.detach().cpu().clone() for k, v in plain_state_dict(model).items()}
        history.append(row)
        if bar is not None:
            bar.set_postfix(_progress_fields(row, primary), refresh=False)
        if run_dir is not None and config.checkpoint_every and ((epoch + 1) % config.checkpoint_every == 0 or last):
            if ctx.is_main:
                save_state(run_dir, TrainingState(epoch + 1, history, best, plain_state_dict(model), best_state,
                                                  {n: o.state_dict() for n, o in optimizers.items()},
                                                  [s.state_dict() for s in warmups], rng_state(), configs))
            barrier(ctx)
    if not metrics and eval_set is not None and len(eval_set):  # epochs=0: the untrained model's metrics
        metrics = _evaluate(model, eval_set, ctx, **eval_kw)
    seconds = time.perf_counter() - start  # training + held-out evaluations
    unwrap_ddp(model)
    extra = {"clip_sampling": CLIP_SAMPLING, "world_size": ctx.world_size, "num_workers": workers,
             "data_wait_fraction": _overall_wait(history), "lazy_data": train_set.lazy}
    return TrainResult(model.cpu(), history, metrics, seconds, extra, best, best_state)


def _progress_fields(row: dict[str, Any], primary: str) -> dict[str, str]:
    """Loss and held-out accuracy for the progress bar."""
    fields = {k.removeprefix("loss_"): f"{v:.3f}" for k, v in row.items() if k.startswith("loss_")}
    if f"eval_acc_{primary}" in row:
        fields["held-out acc"] = f"{row[f'eval_acc_{primary}']:.3f}"
    return fields


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
