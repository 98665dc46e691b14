"""Find trained runs on disk, without torch and without opening the store.

A *run* is a folder directly under ``home.runs`` (``python -m app train``,
``train-preference`` and ``compare`` each write one). It holds one or more checkpoint
folders (``config.json`` with ``format == "ipe-checkpoint/1"``, see
``models/checkpoint.py``), possibly the run folder itself, and optionally
``metrics.json``, ``report.md`` and PNG figures. Discovery only reads JSON, so listing
runs is cheap and safe even when a checkpoint is broken: such a run is listed with its
``problem`` instead of raising.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

CHECKPOINT_FORMAT = "ipe-checkpoint/1"  # keep equal to models.checkpoint.FORMAT (torch-free copy)
MAX_DEPTH = 3


@dataclass(frozen=True)
class CheckpointInfo:
    path: Path
    kind: str
    config: dict[str, Any]


@dataclass(frozen=True)
class RunInfo:
    run_id: str
    path: Path
    checkpoints: tuple[CheckpointInfo, ...]
    metrics: dict[str, Any] = field(default_factory=dict)
    figures: tuple[Path, ...] = ()
    report: Path | None = None
    problem: str | None = None

    @property
    def kinds(self) -> tuple[str, ...]:
        return tuple(sorted({c.kind for c in self.checkpoints}))

    def checkpoint(self, kind_prefix: str) -> CheckpointInfo | None:
        """The first checkpoint whose kind starts with ``kind_prefix`` (sorted by path)."""
        for ckpt in self.checkpoints:
            if ckpt.kind.startswith(kind_prefix):
                return ckpt
        return None


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None
    return data if isinstance(data, dict) else None


def _checkpoints_under(folder: Path, depth: int = 0) -> list[CheckpointInfo]:
    found: list[CheckpointInfo] = []
    config = _read_json(folder / "config.json")
    if config is not None and config.get("format") == CHECKPOINT_FORMAT:
        found.append(CheckpointInfo(folder, str(config.get("kind", "?")), config))
    if depth < MAX_DEPTH:
        for child in sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")):
            found.extend(_checkpoints_under(child, depth + 1))
    return found


def headline_metrics(data: dict[str, Any]) -> dict[str, Any]:
    """The figures a run list shows, from the ways runs write them: a reaction run nests them per
    head (``{"primary_head": h, "metrics": {h: {...}}}``), a comparison lists a ``summary`` (its
    PLM-IPE row), a checkpoint's config may hold them per head too; flat figures are kept as they are."""
    if isinstance(data.get("metrics"), dict):
        data = data["metrics"]
    if isinstance(data.get("summary"), list):
        rows = [r for r in data["summary"] if isinstance(r, dict)]
        row = next((r for r in rows if r.get("method") == "PLM-IPE"), rows[0] if rows else {})
        return {"accuracy": row.get("accuracy_mean"), "macro_f1": row.get("macro_f1_mean")} if row else {}
    heads = {k: v for k, v in data.items() if isinstance(v, dict) and "accuracy" in v}
    if heads:
        head = "fused" if "fused" in heads else next(iter(heads))
        return {"accuracy": heads[head].get("accuracy"), "macro_f1": heads[head].get("macro_f1")}
    return data


def describe_run(folder: str | Path) -> RunInfo:
    """Describe one run folder (or a bare checkpoint folder given by path)."""
    folder = Path(folder).resolve()
    if not folder.is_dir():
        return RunInfo(folder.name, folder, (), problem=f"{folder} is not a folder")
    checkpoints = tuple(_checkpoints_under(folder))
    metrics = headline_metrics(_read_json(folder / "metrics.json") or {})
    if not metrics and len(checkpoints) == 1:
        metrics = headline_metrics(dict(checkpoints[0].config.get("metrics") or {}))
    figures = tuple(sorted(folder.glob("*.png")))
    report = folder / "report.md"
    problem = None if checkpoints else "no checkpoint (model.safetensors + config.json) in this folder"
    return RunInfo(
        folder.name, folder, checkpoints, metrics, figures, report if report.is_file() else None, problem
    )


def discover_runs(runs_root: str | Path) -> list[RunInfo]:
    """Every run under ``runs_root``, newest first; an absent folder gives an empty list."""
    root = Path(runs_root)
    if not root.is_dir():
        return []
    runs = [describe_run(p) for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")]
    runs.sort(key=lambda r: r.path.stat().st_mtime, reverse=True)
    return runs
