"""``load_reaction_run(folder) -> ReactionPredictor`` for the demo and scripts.

``predict(features)`` takes a ``ReactionFeatures`` (``core/reaction/descriptor.py``) and returns
``{"pbe": [3] | None, "lbe": [3] | None, "fused": [3], "clip_probs": (N, 3) | None}`` in class order
(negative, neutral, positive). A variant without one estimator gives ``None`` for it, and its
``fused`` is the output it reports (the PBE or LBE itself; EarlyFusion's weighted sum). A run
trained with per-volunteer normalisation (``config.json`` ``train.volunteer_norm``) gets its
input normalised the same way (``models/training/volunteer_norm.py``).
"""
from __future__ import annotations

from pathlib import Path
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from core.labels import CLASS_NAMES
from models.training.data import FeatureSet
from models.training.run_folder import load_model


class ReactionPredictor:
    def __init__(self, model: Any, config: dict[str, Any], folder: Path) -> None:
        self.model = model.eval()
        self.config = config
        self.folder = folder
        self.class_names = CLASS_NAMES

    @property
    def variant(self) -> str:
        return self.config["variant"]

    @property
    def c3d_model(self) -> torch.nn.Module | None:
        return self.model.pbe

    @property
    def target_layers(self) -> list[torch.nn.Module]:
        return self.model.pbe.target_layers if self.model.pbe is not None else []

    @property
    def volunteer_norm(self) -> str:
        """The per-volunteer normalisation the run was trained with ("none" for runs saved before the option)."""
        return (self.config.get("train") or {}).get("volunteer_norm", "none")

    def _batch(self, features: Any, baseline: Sequence[Any], *, clips: bool) -> Any:
        from models.training.data import make_batch
        from models.training.volunteer_norm import apply_volunteer_norm

        records = [("video", "volunteer", 0, features)] + [(f"baseline-{k}", "volunteer", 0, b)
                                                           for k, b in enumerate(baseline)]
        fs = apply_volunteer_norm(FeatureSet.from_features(records), self.volunteer_norm)
        return make_batch(fs, [0], rng=None, need_clips=clips and self.model.pbe is not None,
                          need_flow=self.model.lbe is not None, clip_norm=self.model.config.clip_norm)

    def predict(self, features: Any, baseline: Sequence[Any] = ()) -> dict[str, Any]:
        """Class probabilities of one video. With a run trained with ``volunteer_norm="baseline"``
        the video's flow is standardised with the first second of itself plus ``baseline`` (other
        ``ReactionFeatures`` of the same volunteer, when there are any), as in training."""
        batch = self._batch(features, baseline, clips=True)
        with torch.no_grad():
            probs = self.model.video_probs(batch)
        out: dict[str, Any] = {k: (probs[k][0].tolist() if k in probs else None) for k in ("pbe", "lbe")}
        primary = self.config.get("primary_head", "fused")
        out["fused"] = probs["fused"][0].tolist() if "fused" in probs else out[primary]
        out["clip_probs"] = probs["clip_probs"].numpy().astype(np.float32) if "clip_probs" in probs else None
        return out

    def predict_lbe(self, features: Any, baseline: Sequence[Any] = ()) -> list[float] | None:
        """The landmark model's probabilities alone (no clips are prepared, the C3D is not run): a
        first answer while the pixel model works; ``None`` for a variant without an LBE."""
        if self.model.lbe is None:
            return None
        batch = self._batch(features, baseline, clips=False)
        with torch.no_grad():
            return self.model.lbe(batch.flow, batch.valid, batch.lengths).float().softmax(-1)[0].tolist()


def load_reaction_run(folder: str | Path) -> ReactionPredictor:
    """A run folder (``<runs>/<id>/`` with ``model/``) or a checkpoint folder; never unpickles."""
    model, config = load_model(folder)
    return ReactionPredictor(model, config, Path(folder))
