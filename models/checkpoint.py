"""Safe checkpoints: a folder with ``model.safetensors`` and ``config.json``.

Nothing is ever unpickled. ``config.json`` carries ``format`` (this module's tag), ``kind``
(which model family, e.g. ``"plm-ipe"`` or ``"preference-cnn"``) and whatever the caller
needs to rebuild the model (architecture args, class map, thresholds, split id, data
fingerprint, metrics, code version). Writes are atomic: both files go to temporary names,
are fsynced, then renamed; ``config.json`` is renamed last, so a folder without it is an
interrupted save and is refused on load.
"""
from __future__ import annotations

import json
import os
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
    return config


def load_checkpoint(folder: str | os.PathLike[str], kind: str | None = None) -> tuple[dict, dict[str, Any]]:
    """Return ``(state_dict, config)``; never unpickles."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    config = read_config(folder, kind)
    weights = Path(folder) / WEIGHTS
    if not weights.is_file():
        raise CheckpointError(f"{weights} is missing; the checkpoint is incomplete")
    try:
        state = load_file(str(weights))
    except (SafetensorError, OSError, ValueError) as err:
        raise CheckpointError(f"{weights} is not a readable safetensors file: {err}") from err
    return state, config


def plain_state_dict(module: Any) -> dict[str, Any]:
    """``module.state_dict()`` with contiguous tensors and without the prefixes DDP (``module.``) and
    ``torch.compile`` (``_orig_mod.``) add, so a checkpoint loads into the plain model."""
    return {k.replace("_orig_mod.", "").replace("module.", ""): v.contiguous() for k, v in module.state_dict().items()}
