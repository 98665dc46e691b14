"""``build_model(variant, **cfg)``: every model variant of the comparison by name."""
from __future__ import annotations

from dataclasses import replace
from typing import Any

from models.reaction.c3d import C3DConfig
from models.reaction.lbe import LBEConfig
from models.reaction.mutual import MutualConfig
from models.reaction.plm_ipe import ModelConfig, ReactionModel
from models.reaction.variants import CPU_PRESET, PRIMARY_HEAD, SPECS as _SPECS, VARIANTS

__all__ = ["CPU_PRESET", "PRIMARY_HEAD", "VARIANTS", "build_from_config", "build_model", "model_config"]

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
