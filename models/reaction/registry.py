"""``build_model(variant, **cfg)``: every model variant of the comparison by name."""
from __future__ import annotations

from dataclasses import replace
from typing import Any

from models.reaction.c3d import C3DConfig
from models.reaction.lbe import LBEConfig
from models.reaction.mutual import MutualConfig
from models.reaction.plm_ipe import ModelConfig, ReactionModel

# variant -> (streams, training strategy, reported heads)
_SPECS: dict[str, tuple[tuple[str, ...], str, tuple[str, ...]]] = {
    "pbe": (("pbe",), "independent", ("pbe",)),
    "lbe": (("lbe",), "independent", ("lbe",)),
    "early-fusion": (("pbe", "lbe"), "early-fusion", ("fused",)),
    "late-fusion": (("pbe", "lbe"), "independent", ("pbe", "lbe", "fused")),
    "plm-ipe": (("pbe", "lbe"), "mutual", ("pbe", "lbe", "fused")),
    "plm-ipe-t2": (("pbe", "lbe"), "mutual", ("pbe", "lbe", "fused")),  # KL scaled by T^2
}
VARIANTS: tuple[str, ...] = tuple(_SPECS)
PRIMARY_HEAD = {"pbe": "pbe", "lbe": "lbe", "early-fusion": "fused", "late-fusion": "fused",
                "plm-ipe": "fused", "plm-ipe-t2": "fused"}

# The CPU-size setting (docs/c3d_learning.md): a C3D small enough to train on a laptop CPU in
# minutes, with what it needs to learn at that size. Not the paper's; the defaults stay the paper's.
CPU_PRESET: dict[str, dict[str, Any]] = {
    "model": {"width": 1 / 16, "fc_dim": 128, "hidden": 128, "dropout": 0.1, "norm": "batch", "clip_norm": "standardise"},
    "train": {"batch_size": 16, "lr_pbe": 1e-3, "lr_lbe": 2e-3, "warmup_steps_pbe": 30},
}


def model_config(variant: str, **cfg: Any) -> ModelConfig:
    """Resolve a ModelConfig from keyword settings.

    Accepted keys: ``c3d`` / ``lbe`` / ``mutual`` (dicts or dataclasses), or flat shortcuts
    ``width``, ``fc_dim``, ``dropout``, ``feature``, ``norm``, ``init``, ``clip_size``, ``hidden``, ``temperature``, ``t2_scale``,
    ``kl_weight``, ``kl_direction``, ``fusion_lambda``, ``early_beta_l``, ``clip_norm``.
    """
    if variant not in _SPECS:
        raise ValueError(f"unknown model variant {variant!r}; choose one of {', '.join(VARIANTS)}")

    def as_cfg(value: Any, cls: type) -> Any:
        return cls(**value) if isinstance(value, dict) else (value if value is not None else cls())

    c3d = as_cfg(cfg.pop("c3d", None), C3DConfig)
    lbe = as_cfg(cfg.pop("lbe", None), LBEConfig)
    mutual = as_cfg(cfg.pop("mutual", None), MutualConfig)
    flat_c3d = {k: cfg.pop(k) for k in ("width", "fc_dim", "dropout", "feature", "norm", "init") if k in cfg}
    if "clip_size" in cfg:
        flat_c3d["size"] = cfg.pop("clip_size")
    c3d = replace(c3d, **flat_c3d)
    if "hidden" in cfg:
        lbe = replace(lbe, hidden=cfg.pop("hidden"))
    flat_mut = {k: cfg.pop(k) for k in ("temperature", "t2_scale", "kl_weight", "fusion_lambda") if k in cfg}
    if "kl_direction" in cfg:
        flat_mut["direction"] = cfg.pop("kl_direction")
    if variant == "plm-ipe-t2":
        flat_mut["t2_scale"] = True
    mutual = replace(mutual, **flat_mut)
    config = ModelConfig(variant=variant, c3d=c3d, lbe=lbe, mutual=mutual, **cfg)
    return config


def build_from_config(config: ModelConfig) -> ReactionModel:
    streams, strategy, heads = _SPECS[config.variant]
    return ReactionModel(config, streams=streams, strategy=strategy, heads=heads)


def build_model(variant: str, **cfg: Any) -> ReactionModel:
    """A fresh model of ``variant`` (see VARIANTS); ``cfg`` as in :func:`model_config`."""
    return build_from_config(model_config(variant, **cfg))
