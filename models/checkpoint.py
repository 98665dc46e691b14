"""Safe checkpoints: a folder with ``model.safetensors`` and ``config.json``.

Nothing is ever unpickled. ``config.json`` carries ``format`` (this module's tag), ``kind``
(which model family, e.g. ``"plm-ipe"`` or ``"preference-cnn"``) and whatever the caller
needs to rebuild the model (architecture args, class map, thresholds, split id, data
fingerprint, metrics, code version). Writes are atomic: both files go to temporary names,
are fsynced, then renamed; ``config.json`` is renamed last, so a folder without it is an
interrupted save and is refused on load.

A checkpoint folder may come from anyone (the demo loads runs from the data home), so its
size is bounded before it is read (``MAX_CONFIG_BYTES``, ``MAX_WEIGHTS_BYTES``) and a model is
built from ``config.json`` only through :func:`build_checked`, which first builds it on
PyTorch's meta device (no memory) and refuses a config whose parameters do not match the
weights file: a config asking for a bigger model than its weights fails before any allocation.
Input sizes, which set how much memory each prediction takes and do not show in the weights,
are checked against ``INPUT_BOUNDS`` when the config is read.
"""
from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from core.errors import CheckpointError
from core.files import atomic_write_bytes

FORMAT = "ipe-checkpoint/1"
# The model families, written as ``kind`` into every checkpoint's config.json.
REACTION_KIND = "plm-ipe"            # a reaction model: ``plm-ipe/<variant>``
PREFERENCE_KIND = "preference-cnn"   # a labeler's preference CNN


def reaction_kind(variant: str) -> str:
    return f"{REACTION_KIND}/{variant}"


WEIGHTS = "model.safetensors"
CONFIG = "config.json"
MAX_CONFIG_BYTES = 1 << 20  # a config is a few KB
MAX_WEIGHTS_BYTES = 1 << 30  # the paper's C3D + LSTM is about 0.3 GB in float32
# config.json paths of input sizes -> the largest accepted (the paper: 112x112x16 clips, 28 or 224 px images)
INPUT_BOUNDS: dict[tuple[str, ...], int] = {
    ("input", "size"): 1024, ("input", "channels"): 4, ("model", "image_size"): 1024, ("model", "in_channels"): 4,
    ("architecture", "c3d", "size"): 448, ("architecture", "c3d", "clip_len"): 128,
    ("architecture", "lbe", "input_dim"): 4096,
}


def _check_inputs(config: dict[str, Any], config_path: Path) -> None:
    for path, most in INPUT_BOUNDS.items():
        value: Any = config
        for key in path:
            value = value.get(key) if isinstance(value, dict) else None
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 1 <= value <= most:
            raise CheckpointError(f"{config_path}: {'.'.join(path)} = {value!r} is outside 1..{most}; "
                                  "the file was changed or is not from this kit")


def save_checkpoint(folder: str | os.PathLike[str], state_dict: dict, config: dict[str, Any], kind: str) -> Path:
    """Write ``state_dict`` (tensors) and ``config`` (JSON-able) into ``folder`` atomically."""
    from safetensors.torch import save

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    tensors = {name: tensor.detach().cpu().contiguous() for name, tensor in state_dict.items()}
    meta = {"format": FORMAT, "kind": kind, **config}
    try:
        payload = json.dumps(meta, indent=2, sort_keys=True, default=str).encode()
    except (TypeError, ValueError) as err:
        raise CheckpointError(f"checkpoint config is not JSON-serialisable: {err}") from err
    (folder / CONFIG).unlink(missing_ok=True)  # an old config must not vouch for new weights
    atomic_write_bytes(folder / WEIGHTS, save(tensors))
    atomic_write_bytes(folder / CONFIG, payload)
    return folder


def read_config(folder: str | os.PathLike[str], kind: str | None = None) -> dict[str, Any]:
    """Read and check ``config.json``; ``kind`` (if given) must match."""
    folder = Path(folder)
    if folder.is_file():
        raise CheckpointError(
            f"{folder} is a file; a checkpoint is a folder holding {WEIGHTS} and {CONFIG}. "
            "Pickled .pt/.pth files are never loaded: re-export the weights with safetensors."
        )
    config_path = folder / CONFIG
    if not config_path.is_file():
        raise CheckpointError(
            f"no {CONFIG} in {folder}: not a checkpoint of this kit, or an interrupted save; train again"
        )
    if config_path.stat().st_size > MAX_CONFIG_BYTES:
        raise CheckpointError(f"{config_path} is over {MAX_CONFIG_BYTES // 1024} KB; not a config of this kit")
    try:
        config = json.loads(config_path.read_text())
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise CheckpointError(f"{config_path} is not valid JSON: {err}") from err
    if not isinstance(config, dict) or config.get("format") != FORMAT:
        raise CheckpointError(f"{config_path} is not a checkpoint of this kit (format {config.get('format')!r} if any)")
    if kind is not None and config.get("kind") != kind:
        raise CheckpointError(
            f"{folder} holds a {config.get('kind')!r} model, but a {kind!r} model was expected"
        )
    _check_inputs(config, config_path)
    return config


def load_checkpoint(folder: str | os.PathLike[str], kind: str | None = None) -> tuple[dict, dict[str, Any]]:
    """Return ``(state_dict, config)``; never unpickles."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    config = read_config(folder, kind)
    weights = Path(folder) / WEIGHTS
    if not weights.is_file():
        raise CheckpointError(f"{weights} is missing; the checkpoint is incomplete")
    if weights.stat().st_size > MAX_WEIGHTS_BYTES:
        raise CheckpointError(f"{weights} is {weights.stat().st_size / 2**30:.1f} GiB, over the "
                              f"{MAX_WEIGHTS_BYTES / 2**30:.0f} GiB this kit loads")
    try:
        state = load_file(str(weights))
    except (SafetensorError, OSError, ValueError) as err:
        raise CheckpointError(f"{weights} is not a readable safetensors file: {err}") from err
    return state, config


def plain_state_dict(module: Any) -> dict[str, Any]:
    """``module.state_dict()`` with contiguous tensors and without the prefixes DDP (``module.``) and
    ``torch.compile`` (``_orig_mod.``) add, so a checkpoint loads into the plain model."""
    return {k.replace("_orig_mod.", "").replace("module.", ""): v.contiguous() for k, v in module.state_dict().items()}


def build_checked(build: Callable[[], Any], state: dict, folder: str | os.PathLike[str]) -> Any:
    """``build()`` (a torch module made from a checkpoint's config, or a tuple whose first item
    is that module) once the module's parameters and buffers match ``state`` by name and shape.

    ``build`` runs first on the meta device, where tensors have shapes but no memory, so a
    config asking for a huge model is refused (:class:`CheckpointError`) before anything is
    allocated; the real build then allocates no more than the weights file holds.
    """
    import torch

    try:
        with torch.device("meta"):
            probe = build()
        module = probe[0] if isinstance(probe, tuple) else probe
        expected = {name: tuple(t.shape) for name, t in module.state_dict().items()}
    except (TypeError, ValueError, KeyError, AttributeError, RuntimeError) as err:
        raise CheckpointError(f"{folder}: config.json does not describe a model this kit can build: {err}") from err
    found = {name: tuple(t.shape) for name, t in state.items()}
    if expected != found:
        missing = sorted(set(expected) - set(found))[:3]
        unexpected = sorted(set(found) - set(expected))[:3]
        shapes = [f"{n}: config {expected[n]}, weights {found[n]}"
                  for n in sorted(set(expected) & set(found)) if expected[n] != found[n]][:3]
        raise CheckpointError(f"{folder}: config.json does not match the weights (missing {missing}, unexpected "
                              f"{unexpected}, shapes {shapes}); the folder was changed or is not from this kit")
    return build()
