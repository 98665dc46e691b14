"""A SYNTHETIC dataset shaped like SentiGarment, built from real offline face photos.

SentiGarment (PLM-IPE paper) has 3,345 reaction videos of 120 volunteers, each rated 0-100
and split into negative / neutral / positive (1,169 / 842 / 1,334). This module writes a
stand-in of the same shape so the feature, training and evaluation code can run end to end
without the private data: each volunteer wears one real face (a built-in photo of
:mod:`data.faces`, or a photo file) with a small appearance change of its own (scale, shift,
brightness, mirror), and each video shows an expression that depends on the class of its
rating, with some label noise (the face does not always match the rating, as in real data):

- positive: a smile grows after a reaction latency and holds; bigger for higher ratings;
- negative: mostly a frown (brows down, mouth corners down), sometimes a poker face (nothing);
- neutral: mixed: nothing, or a faint smile or frown that comes and goes again.

Every volunteer has their own expressiveness (how big their expressions are), reaction
latency and speed, so the same rating looks different on different people.

Why the dynamics are this strong: with weaker, later expressions (intensity 0.4-1.0 x 0.6-1.0,
onset up to 1.35 s, ramp 0.3-0.8 s) the per-frame motion was ~0.005-0.01 inter-ocular
distances, at the level of dlib's jitter, and a logistic regression on per-video flow
statistics reached only 0.55 (chance 0.33). So liked and disliked outfits get intensity
~0.6-1.5 of the full expression (a full smile moves each mouth corner ~0.13 IOD), onset
0.15-0.9 s (a reaction latency) and ramp 0.25-0.55 s, and most 16-frame clips show the
expression or its onset.

Faces and folds come from a protocol (``data/synthetic_protocol.py``): ``leave-faces-out``
(default: held-out volunteers wear identities never seen in training) or ``seen-faces``.

    python -m data.synthetic_reactions OUT [--videos 3345] [--volunteers 120] [--seconds 3] [--workers 2]
        [--per-volunteer N] [--protocol leave-faces-out|seen-faces] [--test-fraction 0.2] [--faces a,b,photo.jpg]

Output::

    OUT/README.txt                       says SYNTHETIC and how it was made
    OUT/plan.json                        the settings (a folder holds one plan; another is refused)
    OUT/videos/<volunteer_id>/<video_id>.mp4
    OUT/manifest.csv                     one row per video (face_id, fold, protocol included),
                                         written when every video exists

``job_landmarks(job)`` gives a planned video's ground-truth landmark trajectories (shift and
mirroring applied, iBUG order kept), for checking a landmark tracker on the dataset.

The plan (who watches which outfit, ratings, dynamics, faces, folds) is a pure function of the
arguments; rendering runs in worker processes and is resumable: finished videos (renamed into
place only when complete) are skipped on a second run.
"""
from __future__ import annotations

import argparse
import csv
import os
from collections.abc import Mapping
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

from core.errors import MediaError
from data.synthetic_plan import (  # noqa: F401 (the plan's names are part of this module's interface)
    CLASS_SHARES,
    GENERATOR_VERSION,
    Appearance,
    Style,
    VideoJob,
    plan_dataset,
    subset_per_volunteer,
)
from data.synthetic_protocol import DEFAULT_PROTOCOL, PROTOCOL_NOTES, PROTOCOLS

MANIFEST_COLUMNS = [
    "video_id", "volunteer_id", "session", "outfit_index", "gender", "rating", "class", "path",
    "expression", "intensity", "onset_s", "ramp_s", "release_s", "face", "label_noise", "face_id", "fold", "protocol",
]


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
    from data.video_files import write_mp4

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
to another class; column label_noise). A volunteer is a photo plus a small change of scale,
position, brightness and mirroring; column face_id names the real person, and several
volunteers can share one (the base photos have their own resting expression, mostly a smile;
the class is carried by the change over the clip). Other people in a photo are blurred.
Protocol {protocol} (column fold): {protocol_note}.
Use it to exercise the pipeline, never to report results about people.
"""
def _link_or_copy(source: Path, target: Path) -> None:
    import shutil

    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".tmp-{target.name}")
    try:
        os.link(source, tmp)
    except OSError:  # another file system, or links not allowed
        shutil.copyfile(source, tmp)
    tmp.replace(target)


PLAN_FILE = "plan.json"  # the settings the videos were made with: a folder holds one plan


def _claim_folder(out: Path, plan: dict) -> None:
    """Write OUT/plan.json, or refuse a folder whose videos were made with another plan."""
    import json

    stamp = out / PLAN_FILE
    if stamp.is_file():
        old = json.loads(stamp.read_text())
        if old != plan:
            changed = sorted(k for k in plan.keys() | old.keys() if plan.get(k) != old.get(k))
            raise ValueError(f"{out} holds videos made with other settings ({', '.join(changed)} differ); "
                             "give another output folder")
        return
    if (out / "videos").is_dir():
        raise ValueError(f"{out} holds videos of an older generator (no {PLAN_FILE}); give another output folder")
    tmp = out / f".{PLAN_FILE}.tmp"
    tmp.write_text(json.dumps(plan, indent=2))
    tmp.replace(stamp)


def make_synthetic_dataset(
    out_dir: str | Path, *, n_volunteers: int = 120, n_videos: int = 3345, duration_s: float = 3.0, fps: int = 30,
    seed: int = 0, faces: list[str] | None = None, progress: bool = True, workers: int | None = None,
    n_outfits: int = 64, label_noise: float = 0.08, per_volunteer: int | None = None,
    protocol: str = DEFAULT_PROTOCOL, test_fraction: float = 0.2, twins: Mapping[str, Path] | None = None,
) -> Path:
    """Render the dataset into ``out_dir`` (resumable) and return the path of its manifest.csv.

    ``per_volunteer``: render only each volunteer's first N planned videos (a subset of the same
    plan, for quick learnability checks); the manifest then lists that subset. ``twins``:
    ``{video_id: file}`` of already rendered videos of an identical job (e.g. the same held-out
    video under the other protocol), linked (or copied) instead of rendered again.
    """
    from data.faces import available_faces

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    faces = list(faces) if faces else available_faces(default_only=True)
    jobs = plan_dataset(n_volunteers=n_volunteers, n_videos=n_videos, duration_s=duration_s, fps=fps, seed=seed,
                        faces=faces, n_outfits=n_outfits, label_noise=label_noise, protocol=protocol,
                        test_fraction=test_fraction)
    plan = {"generator_version": GENERATOR_VERSION, "n_volunteers": n_volunteers, "n_videos": n_videos,
            "duration_s": duration_s, "fps": fps, "seed": seed, "n_outfits": n_outfits, "label_noise": label_noise,
            "faces": faces, "protocol": protocol, "test_fraction": test_fraction}
    _claim_folder(out, plan)
    if per_volunteer is not None:
        jobs = subset_per_volunteer(jobs, per_volunteer)
    used_faces = sorted({j.appearance.face for j in jobs})
    settings = {**plan, "faces": used_faces, "per_volunteer": per_volunteer, "rendered": len(jobs)}
    (out / "README.txt").write_text(README.format(args=settings, n_videos=n_videos, n_volunteers=n_volunteers,
                                                  faces=", ".join(used_faces), noise=label_noise,
                                                  version=GENERATOR_VERSION, protocol=protocol,
                                                  protocol_note=PROTOCOL_NOTES[protocol]))
    for job in jobs:
        twin = (twins or {}).get(job.video_id)
        if twin is not None and Path(twin).is_file() and not (out / job.relpath).is_file():
            _link_or_copy(Path(twin), out / job.relpath)
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
                "face": j.appearance.face, "label_noise": int(j.label_noise), "face_id": j.face_id, "fold": j.fold,
                "protocol": protocol,
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
    parser.add_argument("--protocol", choices=PROTOCOLS, default=DEFAULT_PROTOCOL,
                        help="leave-faces-out: held-out volunteers wear faces no training volunteer wears; "
                             "seen-faces: they wear training volunteers' faces")
    parser.add_argument("--test-fraction", type=float, default=0.2, help="share of volunteers held out (§4.1: 0.2)")
    parser.add_argument("--faces", default=None,
                        help="comma-separated built-in face names and/or photo paths (default: the built-in "
                             "default pool, docs/synthetic_faces.md)")
    args = parser.parse_args(argv)
    faces = [f.strip() for f in args.faces.split(",") if f.strip()] if args.faces else None
    print(make_synthetic_dataset(args.out, n_volunteers=args.volunteers, n_videos=args.videos,
                                 duration_s=args.seconds, seed=args.seed, workers=args.workers,
                                 per_volunteer=args.per_volunteer, protocol=args.protocol,
                                 test_fraction=args.test_fraction, faces=faces))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
