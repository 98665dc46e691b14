"""Train one variant, save it as a run folder, load it back.

Paper settings are the defaults (§4.2): Adam lr 1e-4 for the PBE, Adam lr 5e-3 (betas 0.9,
0.999) for the LBE, batch 32, 500 epochs. Each step of an epoch draws one random clip per
video (``models/data.py``). Evaluation on the held-out set uses every clip.

Devices: CPU by default. On CUDA the PBE forward/backward runs under bf16 autocast with
channels-last-3D clips (``amp="auto"``), optionally ``torch.compile`` (``compile=True``).

Several GPUs / machines (documented, not wired into the CLI): launch with PyTorch's own launcher,
``torchrun --nproc_per_node=8 -m app train ...``; in each process call
``torch.distributed.init_process_group("nccl")``, pick ``cuda:LOCAL_RANK``, wrap ``model.pbe`` and
``model.lbe`` each in ``DistributedDataParallel`` (they have separate optimisers, and the mutual
step backpropagates them separately, so wrap them separately, not the parent), and shard the
epoch's permutation by ``rank::world_size`` (same seed on every rank). ``wrap_ddp`` below does the
wrapping; only rank 0 should write the run folder.

Run folder: ``<runs>/<run_id>/model/`` (checkpoint via ``models/checkpoint.py``, kind
``plm-ipe/<variant>``) + ``metrics.json`` + ``history.json``.
"""
from __future__ import annotations

import contextlib
import json
import os
import subprocess
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

from core.labels import CLASS_NAMES, LabelThresholds
from models.baselines import early_fusion_step, independent_step
from models.checkpoint import load_checkpoint, save_checkpoint
from models.data import FeatureSet, train_batches
from models.evaluate import evaluate_model
from models.plm_ipe import ModelConfig, ReactionModel, mutual_step
from models.registry import PRIMARY_HEAD, build_from_config

KIND_PREFIX = "plm-ipe"


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


@dataclass
class TrainResult:
    model: ReactionModel
    history: list[dict[str, Any]]
    metrics: dict[str, Any]
    seconds: float
    extra: dict[str, Any] = field(default_factory=dict)


def code_version() -> str:
    """``git describe`` of the checkout, else the package version, else "unknown"."""
    repo = Path(__file__).resolve().parents[1]
    try:
        out = subprocess.run(["git", "describe", "--always", "--dirty", "--tags"], cwd=repo, capture_output=True,
                             text=True, timeout=10, check=False)
        if out.returncode == 0 and out.stdout.strip():
            return out.stdout.strip()
    except (OSError, subprocess.SubprocessError):
        pass
    try:
        from importlib.metadata import PackageNotFoundError, version
        return version("ipe-kit")
    except (ImportError, PackageNotFoundError):
        return "unknown"


def _autocast_factory(config: TrainConfig, device: torch.device) -> Callable[[], contextlib.AbstractContextManager]:
    use = config.amp == "bf16" or (config.amp == "auto" and device.type == "cuda")
    if not use:
        return contextlib.nullcontext
    return lambda: torch.autocast(device.type, dtype=torch.bfloat16)


def wrap_ddp(model: ReactionModel, local_rank: int) -> ReactionModel:
    """Wrap each estimator in DDP (call after init_process_group, see the module docstring)."""
    from torch.nn.parallel import DistributedDataParallel as DDP

    for name in ("pbe", "lbe"):
        sub = getattr(model, name)
        if sub is not None:
            setattr(model, name, DDP(sub, device_ids=[local_rank]))
    return model


def make_optimizers(model: ReactionModel, config: TrainConfig) -> dict[str, torch.optim.Optimizer]:
    opts: dict[str, torch.optim.Optimizer] = {}
    if model.pbe is not None:
        opts["pbe"] = torch.optim.Adam(model.pbe.parameters(), lr=config.lr_pbe, betas=config.betas)
    if model.lbe is not None:
        opts["lbe"] = torch.optim.Adam(model.lbe.parameters(), lr=config.lr_lbe, betas=config.betas)
    return opts


def train_step(model: ReactionModel, batch: Any, optimizers: dict, autocast: Callable) -> dict[str, float]:
    if model.strategy == "mutual":
        return mutual_step(model, batch, optimizers, autocast=autocast)
    if model.strategy == "early-fusion":
        return early_fusion_step(model, batch, optimizers, autocast=autocast)
    return independent_step(model, batch, optimizers, autocast=autocast)


def train_model(model_config: ModelConfig, train_set: FeatureSet, eval_set: FeatureSet | None = None,
                config: TrainConfig = TrainConfig(), *, progress: bool = False) -> TrainResult:
    """Train ``model_config.variant`` on ``train_set``; evaluate on ``eval_set`` every ``eval_every`` epochs."""
    if len(train_set) == 0:
        raise ValueError("the training set is empty")
    torch.manual_seed(config.seed)
    rng = np.random.default_rng(config.seed)
    device = torch.device(config.device)
    model = build_from_config(model_config).to(device)
    channels_last = config.channels_last == "on" or (config.channels_last == "auto" and device.type == "cuda")
    if channels_last and model.pbe is not None:
        model.pbe.to(memory_format=torch.channels_last_3d)
    if config.compile and model.pbe is not None:
        model.pbe.compile()
    autocast = _autocast_factory(config, device)
    optimizers = make_optimizers(model, config)
    history: list[dict[str, Any]] = []
    batch_kw = dict(need_clips=model.pbe is not None, need_flow=model.lbe is not None, device=device,
                    clip_norm=model_config.clip_norm, channels_last=channels_last)
    start = time.perf_counter()
    epochs = range(config.epochs)
    if progress:
        from tqdm import tqdm
        epochs = tqdm(epochs, desc=f"train {model_config.variant}", unit="epoch")
    for epoch in epochs:
        model.train()
        sums: dict[str, float] = {}
        steps = 0
        for batch in train_batches(train_set, config.batch_size, rng, **batch_kw):
            stats = train_step(model, batch, optimizers, autocast)
            for k, v in stats.items():
                sums[k] = sums.get(k, 0.0) + v
            steps += 1
        row: dict[str, Any] = {"epoch": epoch + 1}
        for k, v in sums.items():
            row[k.replace("correct_", "train_acc_")] = v / len(train_set) if k.startswith("correct_") else v / steps
        last = epoch + 1 == config.epochs
        if eval_set is not None and len(eval_set) and (last or (config.eval_every and (epoch + 1) % config.eval_every == 0)):
            ev = evaluate_model(model, eval_set, batch_size=config.batch_size, device=device, autocast=autocast,
                                channels_last=channels_last)
            for head, m in ev.items():
                row[f"eval_acc_{head}"] = m["accuracy"]
                row[f"eval_macro_f1_{head}"] = m["macro_f1"]
        history.append(row)
    seconds = time.perf_counter() - start
    metrics: dict[str, Any] = {}
    if eval_set is not None and len(eval_set):
        metrics = evaluate_model(model, eval_set, batch_size=config.batch_size, device=device, autocast=autocast,
                                 channels_last=channels_last)
    return TrainResult(model.cpu(), history, metrics, seconds)


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
    save_checkpoint(run_dir / "model", _contiguous_state(result.model), config, kind=f"{KIND_PREFIX}/{model_config.variant}")
    summary = {"variant": model_config.variant, "primary_head": config["primary_head"], "metrics": result.metrics,
               "split_id": split_id, "synthetic_data": synthetic}
    _atomic_json(run_dir / "metrics.json", summary)
    _atomic_json(run_dir / "history.json", result.history)
    return run_dir


def _atomic_json(path: Path, data: Any) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(data, indent=2, default=str))
    os.replace(tmp, path)


def find_checkpoint(folder: str | Path) -> Path:
    """The checkpoint folder of a run: ``folder`` itself or ``folder/model``."""
    folder = Path(folder)
    return folder if (folder / "config.json").is_file() or not (folder / "model").is_dir() else folder / "model"


def load_model(folder: str | Path) -> tuple[ReactionModel, dict[str, Any]]:
    """Rebuild a trained model from a run folder (or its checkpoint folder); nothing unpickled."""
    from core.errors import CheckpointError

    state, config = load_checkpoint(find_checkpoint(folder))
    if not str(config.get("kind", "")).startswith(KIND_PREFIX + "/"):
        raise CheckpointError(f"{folder} holds a {config.get('kind')!r} model, not a reaction (plm-ipe) model")
    model = build_from_config(ModelConfig.from_dict(config["architecture"]))
    missing, unexpected = model.load_state_dict(state, strict=False)
    if missing or unexpected:
        raise CheckpointError(f"{folder}: weights do not match the architecture (missing {missing[:3]}, unexpected {unexpected[:3]})")
    model.eval()
    return model, config
