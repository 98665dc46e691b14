"""Figures of reaction-model runs: confusion matrices and training curves (PNG, matplotlib Agg).

Used by ``compare`` (``report.py``: several variants x seeds) and by a single ``train`` run.
"""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from core.labels import CLASS_NAMES


def _pyplot() -> Any:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def confusion_figure(path: str | Path, panels: Sequence[tuple[str, Any]], title: str) -> Path:
    """One confusion matrix (true rows x predicted columns) per ``(panel title, matrix)``."""
    plt = _pyplot()
    n = len(panels)
    cols = min(4, n)
    rows = (n + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(3.0 * cols, 3.0 * rows), squeeze=False)
    for ax in axes.flat[n:]:
        ax.axis("off")
    for ax, (name, matrix) in zip(axes.flat, panels):
        conf = np.asarray(matrix)
        ax.imshow(conf, cmap="Blues", vmin=0)
        for (i, j), v in np.ndenumerate(conf):
            ax.text(j, i, str(v), ha="center", va="center", fontsize=8,
                    color="white" if v > conf.max() / 2 else "black")
        ax.set_title(name, fontsize=9)
        ax.set_xticks(range(len(CLASS_NAMES)), [c[:3] for c in CLASS_NAMES], fontsize=7)
        ax.set_yticks(range(len(CLASS_NAMES)), [c[:3] for c in CLASS_NAMES], fontsize=7)
        ax.set_xlabel("predicted", fontsize=7)
        ax.set_ylabel("true", fontsize=7)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return Path(path)


def curves_figure(path: str | Path, histories: dict[str, list[list[dict[str, Any]]]], *, over: str = "") -> Path:
    """Training loss and held-out accuracy per epoch; ``histories``: name -> one history per seed
    (averaged over seeds; ``over`` names that in the titles)."""
    plt = _pyplot()
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(10, 3.6))
    for variant, runs in histories.items():
        for key_prefix, ax in (("loss_", ax_loss), ("eval_acc_", ax_acc)):
            keys = sorted({k for h in runs for row in h for k in row if k.startswith(key_prefix)})
            for key in keys:
                epochs = sorted({row["epoch"] for h in runs for row in h if key in row})
                if not epochs:
                    continue
                means = [np.mean([row[key] for h in runs for row in h if row["epoch"] == e and key in row]) for e in epochs]
                ax.plot(epochs, means, marker="." if len(epochs) < 30 else None,
                        label=f"{variant}:{key.removeprefix(key_prefix)}")
    ax_loss.set_title(f"training loss{over}")
    ax_acc.set_title(f"held-out accuracy{over}")
    for ax in (ax_loss, ax_acc):
        ax.set_xlabel("epoch")
        ax.legend(fontsize=6)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return Path(path)
