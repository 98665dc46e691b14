"""The plan of the SYNTHETIC SentiGarment-shaped set: who watches what, how they react, which face.

A pure, seeded function of its arguments (``plan_dataset``); ``data/synthetic_reactions.py``
renders and writes it, ``data/synthetic_protocol.py`` gives the faces and folds. See
``data/synthetic_reactions.py`` for the class dynamics and why they are what they are.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from core.labels import CLASS_NAMES, LabelThresholds, score_to_class
from data.synthetic_protocol import DEFAULT_PROTOCOL, assign_faces

# class shares of SentiGarment (negative, neutral, positive) = (1169, 842, 1334) / 3345
CLASS_SHARES = np.array([1169, 842, 1334], dtype=np.float64) / 3345
# 1: the first version (weak, late expressions); 2: clear class dynamics with per-volunteer style;
# 3: the same dynamics, faces and folds from a protocol (data/synthetic_protocol.py)
GENERATOR_VERSION = 3


@dataclass(frozen=True)
class Appearance:
    """A volunteer's look: which photo, and how it sits in the frame."""

    face: str
    face_width: float  # face box width as a fraction of the frame width
    shift: tuple[int, int]  # pixels, (dx, dy)
    brightness: float  # gain on the frame
    mirror: bool


@dataclass(frozen=True)
class Style:
    """A volunteer's way of reacting: how big, how soon and how fast."""

    expressiveness: float  # multiplies every intensity
    latency_s: float  # mean reaction onset after the video starts
    ramp_s: float  # mean time an expression takes to build up


@dataclass(frozen=True)
class VideoJob:
    """Everything a worker needs to render one video (a picklable plan row)."""

    video_id: str
    volunteer_id: str
    session: int
    outfit_index: int
    gender: str
    rating: int
    label: str  # the class of the rating
    expression: str
    intensity: float
    onset_s: float
    ramp_s: float
    release_s: float | None  # when the expression fades again (None: it holds)
    label_noise: bool
    appearance: Appearance
    duration_s: float
    fps: int
    seed: int
    relpath: str
    face_id: str = ""  # the person the face shows (data.faces.face_identity)
    fold: str = "train"  # "train" or "test", set by the protocol


def _expression_for(cls: int, strength: float, rng: np.random.Generator) -> tuple[str, float, bool]:
    """(expression, intensity before the volunteer's expressiveness, fades again?) for a class.

    ``strength`` in [0, 1] is how far the rating is from neutral: a higher rating, a bigger smile.
    """
    jitter = float(rng.normal(0.0, 0.08))
    if cls == 2:  # liked: a smile grows and holds
        return "smile", float(np.clip(0.6 + 0.6 * strength + jitter, 0.45, 1.3)), False
    if cls == 0:  # disliked: mostly a frown, sometimes a poker face
        if rng.random() < 0.8:
            return "frown", float(np.clip(0.6 + 0.6 * strength + jitter, 0.45, 1.3)), False
        return "neutral", 0.0, False
    # no strong opinion: mixed -- nothing, or a faint smile or frown that comes and goes
    kind = str(rng.choice(["neutral", "smile", "frown"], p=[0.4, 0.3, 0.3]))
    return kind, (0.0 if kind == "neutral" else float(rng.uniform(0.2, 0.45))), kind != "neutral"


def _rating_for(cls: int, rng: np.random.Generator, thresholds: LabelThresholds) -> int:
    """A rating inside the class's band (the slider starts at 50, so no pile-up at 0 or 100)."""
    lo, hi = {0: (0, thresholds.negative_max), 1: (thresholds.negative_max + 1, thresholds.positive_min - 1),
              2: (thresholds.positive_min, 100)}[cls]
    return int(np.clip(round(lo + (hi - lo) * float(rng.beta(1.6, 1.6))), lo, hi))


def plan_dataset(
    *, n_volunteers: int = 120, n_videos: int = 3345, duration_s: float = 3.0, fps: int = 30, seed: int = 0,
    faces: list[str] | None = None, n_outfits: int = 64, label_noise: float = 0.08,
    thresholds: LabelThresholds = LabelThresholds(), protocol: str = DEFAULT_PROTOCOL, test_fraction: float = 0.2,
) -> list[VideoJob]:
    """The whole dataset as a list of jobs; deterministic for the arguments.

    ``faces``: built-in face names or photo paths (default: the built-in default pool,
    ``data.faces.available_faces(default_only=True)``). ``protocol`` decides which face each volunteer wears and who is held out
    (``data/synthetic_protocol.py``); the reactions themselves do not depend on it.
    """
    from data.faces import available_faces, is_face_path

    if n_volunteers < 1 or n_videos < n_volunteers:
        raise ValueError(f"need at least one video per volunteer: {n_videos} videos for {n_volunteers} volunteers")
    faces = list(faces) if faces else available_faces(default_only=True)
    unknown = sorted(f for f in set(faces) - set(available_faces()) if not is_face_path(f))
    if unknown:
        raise ValueError(f"unknown faces {unknown}; available offline: {', '.join(available_faces())}; "
                         "or give photo paths")
    rng = np.random.default_rng([seed, 17])
    # videos per volunteer: a spread around the mean, summing exactly to n_videos, each >= 1
    weights = rng.gamma(4.0, 1.0, size=n_volunteers)
    counts = 1 + np.floor(weights / weights.sum() * (n_videos - n_volunteers)).astype(int)
    for i in rng.permutation(n_volunteers)[: n_videos - counts.sum()]:
        counts[i] += 1
    jobs: list[VideoJob] = []
    sessions_of: dict[str, int] = {}
    for v in range(n_volunteers):
        volunteer_id = f"sv{v + 1:03d}"
        look = Appearance(
            face="",  # given by the protocol once every volunteer's sessions are known
            face_width=float(rng.uniform(0.28, 0.40)),
            shift=(int(rng.integers(-40, 41)), int(rng.integers(-25, 26))),
            brightness=float(rng.uniform(0.8, 1.15)),
            mirror=bool(rng.random() < 0.5),
        )
        # a volunteer's own taste: class shares drawn around SentiGarment's
        shares = rng.dirichlet(CLASS_SHARES * 12)
        style = Style(expressiveness=float(np.clip(rng.lognormal(0.0, 0.2), 0.7, 1.4)),
                      latency_s=float(rng.uniform(0.25, 0.7)), ramp_s=float(rng.uniform(0.3, 0.45)))
        n = int(counts[v])
        n_sessions = int(min(n, rng.choice([1, 1, 2, 3])))
        sessions = np.sort(rng.integers(1, n_sessions + 1, size=n))
        sessions[: n_sessions] = np.arange(1, n_sessions + 1)  # every session has a video
        sessions = np.sort(sessions)
        sessions_of[volunteer_id] = n_sessions
        outfits = np.concatenate([rng.permutation(n_outfits) for _ in range(n // n_outfits + 1)])[:n]
        for k in range(n):
            cls = int(rng.choice(3, p=shares))
            rating = _rating_for(cls, rng, thresholds)
            noisy = bool(rng.random() < label_noise)
            shown = int(rng.choice([c for c in range(3) if c != cls])) if noisy else cls
            strength = min(1.0, abs(rating - 50) / 50 * 1.25) if not noisy else float(rng.uniform(0.2, 0.8))
            expression, intensity, fades = _expression_for(shown, strength, rng)
            onset = float(np.clip(style.latency_s + rng.normal(0.0, 0.15), 0.15, min(0.9, 0.4 * duration_s)))
            ramp = float(np.clip(style.ramp_s + rng.normal(0.0, 0.05), 0.25, 0.55))
            release = round(onset + ramp + float(rng.uniform(0.3, 0.8)), 3) if fades else None
            video_id = f"{volunteer_id}-{k + 1:03d}"
            jobs.append(VideoJob(
                video_id=video_id, volunteer_id=volunteer_id, session=int(sessions[k]), outfit_index=int(outfits[k]),
                gender="", rating=rating, label=CLASS_NAMES[score_to_class(rating, thresholds)], expression=expression,
                intensity=round(intensity * style.expressiveness, 3), onset_s=round(onset, 3), ramp_s=round(ramp, 3),
                release_s=release, label_noise=noisy, appearance=look,
                duration_s=duration_s, fps=fps, seed=int(rng.integers(0, 2**31 - 1)),
                relpath=f"videos/{volunteer_id}/{video_id}.mp4",
            ))
    given = assign_faces(list(sessions_of.items()), faces, protocol=protocol, test_fraction=test_fraction, seed=seed)
    return [replace(j, gender=given[j.volunteer_id].gender, face_id=given[j.volunteer_id].face_id,
                    fold=given[j.volunteer_id].fold,
                    appearance=replace(j.appearance, face=given[j.volunteer_id].face)) for j in jobs]


def subset_per_volunteer(jobs: list[VideoJob], per_volunteer: int) -> list[VideoJob]:
    """Each volunteer's first ``per_volunteer`` jobs, in plan order."""
    if per_volunteer < 1:
        raise ValueError("per_volunteer must be at least 1")
    taken: dict[str, int] = {}
    out = []
    for job in jobs:
        if taken.get(job.volunteer_id, 0) < per_volunteer:
            taken[job.volunteer_id] = taken.get(job.volunteer_id, 0) + 1
            out.append(job)
    return out
