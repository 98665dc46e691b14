"""The demo's explanation of the landmark model (LBE): which face regions and seconds drove it.

Integrated gradients over the video's 72-d descriptor sequence (``models/training/attribution.py``),
shown as the 36 region shares filled on the video's face (the frame of the decisive moment,
aligned to the canonical shape the descriptor is computed in) and a per-second timeline.
Computed only when asked: the first answer of the Reaction tab does not wait for it.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from core.errors import IPEError
from core.labels import CLASS_NAMES


@dataclass
class LBEExplanation:
    face: np.ndarray  # RGB figure: region shares on the aligned face
    timeline: np.ndarray  # RGB figure: share per second and region group
    top_regions: list[tuple[str, float]]  # (region, share) largest first
    group_shares: dict[str, float]
    target: str
    probs: dict[str, float]
    peak_time_s: float
    delta: float
    seconds: float

    def table(self) -> list[list[Any]]:
        return [[name, f"{100 * share:.1f}%"] for name, share in self.top_regions]

    def summary_markdown(self) -> str:
        from models.training.attribution_report import GROUP_LABELS

        groups = ", ".join(f"{GROUP_LABELS[g]} {100 * s:.0f}%" for g, s in
                           sorted(self.group_shares.items(), key=lambda kv: -kv[1]))
        return (f"LBE explained for **{self.target}** (its probability {self.probs.get(self.target, 0.0):.2f}); "
                f"integrated gradients, shares of |attribution| by region group: {groups}. "
                f"Decisive moment at {self.peak_time_s:.2f} s. Completeness error {abs(self.delta):.3f} logits; "
                f"{self.seconds:.2f} s.")


def explain_lbe(predictor: Any, features: Any, video: str | Path, *, target: str | int | None = None,
                config: Any = None, top: int = 8) -> LBEExplanation:
    """Integrated gradients of the LBE of ``predictor`` (a ``ReactionPredictor``) on ``features``
    (a ``ReactionFeatures`` of ``video``), its input prepared as ``predictor.predict`` prepares it."""
    import time

    from core.reaction.alignment import align_face
    from core.reaction.video import read_video
    from models.training.attribution import AttributionConfig, attribute_sequence
    from models.training.attribution_report import face_figure, region_label, timeline_figure
    from models.training.data import FeatureSet
    from models.training.volunteer_norm import apply_volunteer_norm

    lbe = predictor.model.lbe
    if lbe is None:
        raise IPEError("this run has no landmark model (LBE) to explain; pick a plm-ipe, lbe or fusion run")
    if not np.any(features.flow_valid):
        raise IPEError("no two consecutive frames with a face: the LBE saw no motion to explain")
    start = time.perf_counter()
    # a run trained with per-volunteer normalisation sees the flow standardised by the video's first second
    flow = apply_volunteer_norm(FeatureSet.from_features([("video", "volunteer", 0, features)]),
                                predictor.volunteer_norm).flow[0]
    try:
        result = attribute_sequence(lbe, flow, features.flow_valid, timestamps_s=features.timestamps_s,
                                    fps=features.fps, target=target, config=config or AttributionConfig())
    except ValueError as err:
        raise IPEError(str(err)) from err
    step = result.peak_step() if result.step_region.sum() > 0 else int(np.flatnonzero(features.flow_valid)[0])
    index = step + 1  # a step is the motion from frame ``step`` to this frame, both with a face
    frame = read_video(video, max_frames=index + 1).frames[-1]
    crop, points, _ = align_face(frame, features.landmarks[index], size=224)
    name = CLASS_NAMES[result.target]
    face = face_figure(crop, points, result.region_shares, f"LBE -> {name}: regions (at {result.step_times_s[step]:.2f} s)")
    return LBEExplanation(
        face=face, timeline=timeline_figure(result),
        top_regions=[(region_label(k), share) for k, share in result.top_regions(top)],
        group_shares=result.group_shares, target=name,
        probs={c: float(p) for c, p in zip(CLASS_NAMES, result.probs)},
        peak_time_s=float(result.step_times_s[step]), delta=result.delta, seconds=time.perf_counter() - start,
    )
