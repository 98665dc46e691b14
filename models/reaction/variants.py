"""The model variants of the comparison and their presets, as plain data (no torch), so the
command line can list and check them without loading PyTorch; ``registry.py`` builds them."""
from __future__ import annotations

from typing import Any

# variant -> (streams, training strategy, reported heads)
SPECS: dict[str, tuple[tuple[str, ...], str, tuple[str, ...]]] = {
    "pbe": (("pbe",), "independent", ("pbe",)),
    "lbe": (("lbe",), "independent", ("lbe",)),
    "early-fusion": (("pbe", "lbe"), "early-fusion", ("fused",)),
    "late-fusion": (("pbe", "lbe"), "independent", ("pbe", "lbe", "fused")),
    "plm-ipe": (("pbe", "lbe"), "mutual", ("pbe", "lbe", "fused")),
    "plm-ipe-t2": (("pbe", "lbe"), "mutual", ("pbe", "lbe", "fused")),  # KL scaled by T^2
}
VARIANTS: tuple[str, ...] = tuple(SPECS)
PRIMARY_HEAD = {"pbe": "pbe", "lbe": "lbe", "early-fusion": "fused", "late-fusion": "fused",
                "plm-ipe": "fused", "plm-ipe-t2": "fused"}

# The CPU-size setting (docs/c3d_learning.md): a C3D small enough to train on a laptop CPU in
# minutes, with what it needs to learn at that size. Not the paper's; the defaults stay the paper's.
CPU_PRESET: dict[str, dict[str, Any]] = {
    "model": {"width": 1 / 16, "fc_dim": 128, "hidden": 128, "dropout": 0.1, "norm": "batch", "clip_norm": "standardise"},
    "train": {"batch_size": 16, "lr_pbe": 1e-3, "lr_lbe": 2e-3, "warmup_steps_pbe": 30},
}
