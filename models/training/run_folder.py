"""A trained reaction model's run folder: write it, find its checkpoint, load it back.

``<run>/model/`` (the last epoch: ``model.safetensors`` + ``config.json`` with architecture, training
settings, class map, score thresholds, split, data fingerprint, extractor settings, metrics, code
version), ``<run>/best/`` (the best evaluated epoch, when there was one), ``metrics.json``,
``history.json``, optionally ``curves.png`` / ``confusion.png``, and while training ``train_state/``
(``resume.py``).
"""
from __future__ import annotations

import subprocess
from dataclasses import asdict
from pathlib import Path
from typing import Any

from core.errors import CheckpointError
from core.files import atomic_write_json
from core.labels import CLASS_NAMES, LabelThresholds
from models.checkpoint import REACTION_KIND, build_checked, load_checkpoint, plain_state_dict, reaction_kind, save_checkpoint
from models.reaction.plm_ipe import ModelConfig, ReactionModel
from models.reaction.registry import PRIMARY_HEAD, build_from_config
from models.training.train import TrainConfig, TrainResult


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


def save_run(run_dir: str | Path, result: TrainResult, model_config: ModelConfig, train_config: TrainConfig, *,
             split_id: str | None, data_fingerprint: str | None, thresholds: LabelThresholds = LabelThresholds(),
             synthetic: bool = False, extra: dict[str, Any] | None = None, features: dict[str, Any] | None = None,
             figures: bool = False) -> Path:
    """Write ``run_dir/model`` (the last epoch's checkpoint), ``run_dir/best`` (the best evaluation's, when
    there was one), ``metrics.json`` and ``history.json``; with ``figures``, ``curves.png`` and
    ``confusion.png``. ``features``: the extractor settings the data was made with (the demo extracts
    new videos with the same)."""
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    config = {
        "variant": model_config.variant, "architecture": model_config.to_dict(), "train": asdict(train_config),
        "class_map": {str(i): n for i, n in enumerate(CLASS_NAMES)}, "score_thresholds": thresholds.as_dict(),
        "split_id": split_id, "data_fingerprint": data_fingerprint, "metrics": result.metrics,
        "primary_head": PRIMARY_HEAD[model_config.variant], "code_version": code_version(),
        "train_seconds": round(result.seconds, 3), "synthetic_data": synthetic, "features": features,
        "best_epoch": result.best.get("epoch"), **(extra or {}),
    }
    kind = reaction_kind(model_config.variant)
    save_checkpoint(run_dir / "model", plain_state_dict(result.model), config, kind=kind)
    if result.best_state:
        best_config = {**config, "metrics": result.best["metrics"], "checkpoint": "best",
                       "selected_on": "the held-out fold (optimistic: pick on a validation fold to report it)"}
        save_checkpoint(run_dir / "best", result.best_state, best_config, kind=kind)
    summary = {"variant": model_config.variant, "primary_head": config["primary_head"], "metrics": result.metrics,
               "best": {k: v for k, v in result.best.items()}, "split_id": split_id, "synthetic_data": synthetic}
    _atomic_json(run_dir / "metrics.json", summary)
    _atomic_json(run_dir / "history.json", result.history)
    if figures:
        from models.training.figures import confusion_figure, curves_figure

        curves_figure(run_dir / "curves.png", {model_config.variant: [result.history]})
        panels = [(head, m["confusion"]) for head, m in result.metrics.items()]
        if panels:
            confusion_figure(run_dir / "confusion.png", panels, f"{model_config.variant}: held-out confusion (last epoch)")
    return run_dir


def _atomic_json(path: Path, data: Any) -> None:
    atomic_write_json(path, data, indent=2, default=str)


def find_checkpoint(folder: str | Path) -> Path:
    """The checkpoint folder of a run: ``folder`` itself or ``folder/model``."""
    folder = Path(folder)
    return folder if (folder / "config.json").is_file() or not (folder / "model").is_dir() else folder / "model"


def load_model(folder: str | Path) -> tuple[ReactionModel, dict[str, Any]]:
    """Rebuild a trained model from a run folder (or its checkpoint folder); nothing unpickled."""
    state, config = load_checkpoint(find_checkpoint(folder))
    if not str(config.get("kind", "")).startswith(REACTION_KIND + "/"):
        raise CheckpointError(f"{folder} holds a {config.get('kind')!r} model, not a reaction (plm-ipe) model")
    model = build_checked(lambda: build_from_config(ModelConfig.from_dict(config["architecture"])), state, folder)
    missing, unexpected = model.load_state_dict(state, strict=False)
    if missing or unexpected:
        raise CheckpointError(f"{folder}: weights do not match the architecture (missing {missing[:3]}, unexpected {unexpected[:3]})")
    model.eval()
    return model, config
