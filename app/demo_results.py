"""What the demo's service hands the interface: a run to choose, a reaction video's answer, an
image's answer (plain data with the Markdown and tables the page shows)."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from core.labels import CLASS_NAMES


@dataclass(frozen=True)
class RunChoice:
    label: str
    path: Path

    @property
    def value(self) -> str:
        """What the interface passes back: the run's folder name (never a server path)."""
        return self.path.name


@dataclass
class ReactionAnalysis:
    probs: dict[str, list[float] | None]
    clip_probs: np.ndarray | None
    clip_times: list[tuple[float, float]]
    annotated_frames: list[tuple[np.ndarray | Path, str]]  # a kept answer's frames are JPEG files
    cam_frames: list[tuple[np.ndarray, str]]
    timings_s: dict[str, float] = field(default_factory=dict)
    variant: str = ""
    faces_found: int = 0
    frames: int = 0
    complete: bool = False  # False while only the landmark model has answered
    kept: bool = False  # True when this is the answer kept for an example (app/demo_answers.py)

    def probabilities(self, head: str) -> dict[str, float]:
        values = self.probs.get(head)
        return {} if values is None else {name: float(p) for name, p in zip(CLASS_NAMES, values)}

    def timeline_table(self) -> list[list[Any]]:
        if self.clip_probs is None:
            return []
        return [[i + 1, f"{a:.2f}-{b:.2f} s", *[round(float(p), 3) for p in row]]
                for i, ((a, b), row) in enumerate(zip(self.clip_times, self.clip_probs))]

    def summary_markdown(self) -> str:
        head = "fused" if self.complete else "lbe"
        probs = self.probabilities(head)
        best = max(probs, key=probs.get) if probs else "?"
        timing = ", ".join(f"{k} {v:.2f} s" for k, v in self.timings_s.items())
        step = "" if self.complete else " by the landmark model; the pixel model (C3D) is still working…"
        time_note = (f"Kept answer: this example was analysed once by this model, which took {timing}." if self.kept
                     else f"Time: {timing}.")
        return f"**{best}** ({self.variant}){step}; face found in {self.faces_found} of {self.frames} frames. {time_note}"


@dataclass
class PreferenceAnalysis:
    p_preferred: float
    overlay: np.ndarray
    heat: np.ndarray
    method: str
    seconds: float

    def probabilities(self) -> dict[str, float]:
        return {"preferred": self.p_preferred, "not preferred": 1.0 - self.p_preferred}

    def summary_markdown(self) -> str:
        return f"P(preferred) = {self.p_preferred:.3f}; {self.method} heat map in {self.seconds:.2f} s."
