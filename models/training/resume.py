"""Training state on disk, so a killed run continues where it stopped (``train --resume RUN``).

``<run>/train_state/`` holds, after every ``checkpoint_every`` epochs (written atomically, the
JSON last, so a folder without ``state.json`` is an interrupted save and is ignored):

- ``model.safetensors``  the model's weights after that epoch
- ``best.safetensors``   the weights of the best epoch so far (held-out macro-F1 of the primary head)
- ``optim.safetensors``  every optimiser's tensors, and the torch RNG state(s)
- ``state.json``         the epoch, the history so far, the best epoch and its metrics, the optimisers'
                         and warm-up schedulers' non-tensor state, and the configs the run was started with

Nothing is unpickled: tensors go through safetensors, everything else through JSON. Resuming with
the same data, configs and seed gives the same weights as a run that was never interrupted (the
data order depends only on (seed, epoch); dropout's RNG state is restored).
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from core.errors import CheckpointError
from core.files import atomic_write_bytes, atomic_write_json

STATE_DIR = "train_state"
FORMAT = "ipe-train-state/1"


@dataclass
class TrainingState:
    epoch: int                                 # epochs completed
    history: list[dict[str, Any]]
    best: dict[str, Any] = field(default_factory=dict)   # {"epoch", "macro_f1", "metrics"}
    model: dict[str, torch.Tensor] = field(default_factory=dict)
    best_model: dict[str, torch.Tensor] = field(default_factory=dict)
    optimizers: dict[str, dict[str, Any]] = field(default_factory=dict)
    schedulers: list[dict[str, Any]] = field(default_factory=list)
    rng: dict[str, torch.Tensor] = field(default_factory=dict)
    configs: dict[str, Any] = field(default_factory=dict)


def _split_optimizer(name: str, state_dict: dict[str, Any]) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """An optimiser's state dict -> (tensors keyed ``name/param/key``, the JSON-able rest)."""
    tensors: dict[str, torch.Tensor] = {}
    plain: dict[str, Any] = {"param_groups": state_dict["param_groups"], "state": {}}
    for param, entries in state_dict["state"].items():
        plain["state"][str(param)] = {}
        for key, value in entries.items():
            if torch.is_tensor(value):
                tensors[f"{name}/{param}/{key}"] = value.detach().cpu().contiguous()
            else:
                plain["state"][str(param)][key] = value
    return tensors, plain


def _join_optimizer(name: str, plain: dict[str, Any], tensors: dict[str, torch.Tensor]) -> dict[str, Any]:
    state: dict[int, dict[str, Any]] = {int(p): dict(v) for p, v in plain["state"].items()}
    prefix = f"{name}/"
    for key, value in tensors.items():
        if key.startswith(prefix):
            param, entry = key[len(prefix):].split("/", 1)
            state.setdefault(int(param), {})[entry] = value
    return {"state": state, "param_groups": plain["param_groups"]}


def rng_state() -> dict[str, torch.Tensor]:
    state = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        for i, s in enumerate(torch.cuda.get_rng_state_all()):
            state[f"cuda/{i}"] = s
    return state


def restore_rng(state: dict[str, torch.Tensor]) -> None:
    if "torch" in state:
        torch.set_rng_state(state["torch"])
    cuda = [state[k] for k in sorted(state) if k.startswith("cuda/")]
    if cuda and torch.cuda.is_available() and len(cuda) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all(cuda)


def save_state(run_dir: str | Path, state: TrainingState) -> Path:
    """Write ``run_dir/train_state`` atomically (``state.json`` last)."""
    from safetensors.torch import save

    folder = Path(run_dir) / STATE_DIR
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "state.json").unlink(missing_ok=True)  # an old state.json must not vouch for new tensors
    optim_tensors: dict[str, torch.Tensor] = {f"rng/{k}": v for k, v in state.rng.items()}
    optim_plain: dict[str, Any] = {}
    for name, sd in state.optimizers.items():
        tensors, plain = _split_optimizer(name, sd)
        optim_tensors.update(tensors)
        optim_plain[name] = plain
    atomic_write_bytes(folder / "model.safetensors", save(_cpu(state.model)))
    atomic_write_bytes(folder / "best.safetensors", save(_cpu(state.best_model or state.model)))
    atomic_write_bytes(folder / "optim.safetensors", save(optim_tensors))
    payload = {"format": FORMAT, "epoch": state.epoch, "history": state.history, "best": state.best,
               "optimizers": optim_plain, "schedulers": state.schedulers, "configs": state.configs}
    atomic_write_json(folder / "state.json", payload, indent=1, default=str)
    return folder


def load_state(run_dir: str | Path) -> TrainingState | None:
    """The saved state of ``run_dir``, or None if it has none (or only an interrupted save)."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    folder = Path(run_dir) / STATE_DIR
    if not (folder / "state.json").is_file():
        return None
    try:
        payload = json.loads((folder / "state.json").read_text())
        if payload.get("format") != FORMAT:
            raise CheckpointError(f"{folder}: not a training state of this kit (format {payload.get('format')!r})")
        model = load_file(folder / "model.safetensors")
        best = load_file(folder / "best.safetensors")
        optim = load_file(folder / "optim.safetensors")
    except (OSError, ValueError, KeyError, SafetensorError) as err:
        raise CheckpointError(f"{folder}: the saved training state is unreadable ({err}); "
                              "delete the folder to start the run again") from err
    rng = {k.removeprefix("rng/"): v for k, v in optim.items() if k.startswith("rng/")}
    optimizers = {name: _join_optimizer(name, plain, optim) for name, plain in payload["optimizers"].items()}
    return TrainingState(int(payload["epoch"]), list(payload["history"]), dict(payload.get("best") or {}), model,
                         best, optimizers, list(payload.get("schedulers") or []), rng, dict(payload["configs"]))


def _cpu(tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {k: v.detach().cpu().contiguous() for k, v in tensors.items()}
