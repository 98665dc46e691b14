"""Which checkpoint of a run the demo loads, which extractor settings it uses, and which runs are DEMO.

- A run folder may hold several checkpoints: a train run has ``model/`` (the last epoch) and
  ``best/`` (the best evaluated epoch, picked on the test fold, so optimistic); a compare run has
  ``runs/<variant>-s<seed>/model`` for every variant and seed. The demo shows the method of the
  paper: the PLM-IPE checkpoint (then the T^2 variant, then any other), ``model/`` before ``best/``,
  the lowest seed first. A preference run (``train-preference``) holds the Fashion-MNIST source
  model and target models from scratch and by transfer: the demo shows the transfer one.
- A reaction checkpoint stores the feature-extraction settings its data was made with
  (``config["features"]["config"]``, a ``FeatureConfig`` as a dict); new videos are extracted with
  the same settings, so the model sees what it was trained on. Older runs without them get the
  defaults. A setting this machine cannot honour (an unknown field, a landmark backend whose
  weights are absent) is refused with a :class:`CheckpointError` saying what to do.
- DEMO runs (``python -m app demo-models``) are the folders named ``demo-*`` holding a
  ``MODEL_CARD.md``; they are listed first and labelled "DEMO".
"""
from __future__ import annotations

from typing import Any

from core.errors import CheckpointError
from core.store.runs import CheckpointInfo, RunInfo
from models.checkpoint import REACTION_KIND

DEMO_PREFIX = "demo-"
MODEL_CARD = "MODEL_CARD.md"
# the variants in the order the demo prefers them: the paper's method first
VARIANT_PREFERENCE = ("plm-ipe", "plm-ipe-t2", "late-fusion", "early-fusion", "pbe", "lbe")


def is_demo(run: RunInfo) -> bool:
    return run.path.name.startswith(DEMO_PREFIX) and (run.path / MODEL_CARD).is_file()


def _seed_of(ckpt: CheckpointInfo) -> int:
    seed = ckpt.config.get("train", {}).get("seed") if isinstance(ckpt.config.get("train"), dict) else None
    return seed if isinstance(seed, int) else 0


def preference_key(ckpt: CheckpointInfo) -> tuple:
    """Sort key: PLM-IPE first, ``model/`` before ``best/``, lowest seed, then by path. Among preference
    models: the target-domain model learnt by transfer, then from scratch, the source-domain one last."""
    if not ckpt.kind.startswith(REACTION_KIND):
        return ckpt.config.get("domain") == "fashion-mnist", "transfer" not in ckpt.path.name, str(ckpt.path)
    variant = ckpt.kind.split("/", 1)[1] if "/" in ckpt.kind else ""
    rank = VARIANT_PREFERENCE.index(variant) if variant in VARIANT_PREFERENCE else len(VARIANT_PREFERENCE)
    is_best = ckpt.path.name == "best" or ckpt.config.get("checkpoint") == "best"
    return rank, is_best, _seed_of(ckpt), str(ckpt.path)


def pick_checkpoint(checkpoints: list[CheckpointInfo]) -> CheckpointInfo:
    """The checkpoint the demo loads among those of one family (see the module's docstring)."""
    return min(checkpoints, key=preference_key)


def feature_config(checkpoint_config: dict[str, Any], max_seconds: float) -> Any:
    """The ``FeatureConfig`` a reaction checkpoint was trained with (defaults when it stores none),
    capped at the demo's ``max_seconds``; a setting this machine cannot honour -> CheckpointError."""
    from core.reaction.descriptor import FeatureConfig
    from core.reaction.landmarks import BackendUnavailableError, get_backend

    stored = checkpoint_config.get("features")
    settings = stored.get("config") if isinstance(stored, dict) else None
    if not isinstance(settings, dict):
        return FeatureConfig(max_seconds=max_seconds)
    try:
        config = FeatureConfig(**{**settings, "max_seconds": max_seconds})
    except (TypeError, ValueError) as err:
        raise CheckpointError(f"this run's feature-extraction settings cannot be used by this version of the kit "
                              f"({err}); retrain it with `python -m app train`, or pick another run") from err
    try:
        get_backend(config.backend)
    except BackendUnavailableError as err:
        raise CheckpointError(f"this run was trained on features from the {config.backend!r} landmark backend, which "
                              f"this machine cannot run: {err}") from err
    return config
