"""Does the landmark tracker hold on turned faces? Detections, lost frames and jitter per video.

    python -m bench.bench_tracker [--faces NAME ...] [--yaws 0 15 30] [--seconds 3]

For every offline face (``data.faces.available_faces``) and head turn (yaw, rendered by
``data.reaction_video``), two 3 s clips: the face at rest (blinks, the kit's small head sway)
and a smile (same sway). Each is written as H.264, decoded to grey as the extractor does and
tracked with the extractor's settings (``FeatureConfig.redetect_every``,
``lost_redetect_every``). Printed per clip: detector runs (the schedule alone gives 3 per 90
frames; the bar is <= 5), lost frames, fits the quality gate rejected, landmark error against
the generator's ground truth and landmark jitter (% of the inter-ocular distance, see
``bench/face_motion.py``), and the tracker's CPU time per frame.
"""
from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

import numpy as np

from bench.face_motion import chosen_faces, face_parser, landmark_error, landmark_jitter, write_clip
from data.reaction_video import ReactionSpec


def _track(path: Path):
    from core.reaction.descriptor import FeatureConfig
    from core.reaction.landmarks import get_backend
    from core.reaction.tracking import FaceTracker
    from core.reaction.video import iter_frames_gray

    config = FeatureConfig()
    tracker = FaceTracker(get_backend(config.backend), redetect_every=config.redetect_every,
                          lost_redetect_every=config.lost_redetect_every)
    points, cpu = [], 0.0
    for _, gray, _, _ in iter_frames_gray(path):
        t = time.process_time()
        points.append(tracker.step(gray))
        cpu += time.process_time() - t
    found = np.array([p is not None for p in points])
    landmarks = np.stack([p if p is not None else np.zeros((68, 2), np.float32) for p in points])
    return landmarks, found, tracker.stats, cpu / max(len(points), 1)


def main(argv: list[str] | None = None) -> int:
    parser = face_parser(__doc__.splitlines()[0])
    args = parser.parse_args(argv)
    faces = chosen_faces(args)
    print(f"{len(faces)} faces x yaw {args.yaws} x 2 clips of {args.seconds:g} s; load {os.getloadavg()[0]:.1f}")
    per_yaw: dict[float, list[tuple[int, int, int, float, float, float]]] = {yaw: [] for yaw in args.yaws}
    with tempfile.TemporaryDirectory() as tmp:
        for face in faces:
            for yaw in args.yaws:
                for kind in ("neutral", "smile"):
                    spec = ReactionSpec(kind, duration_s=args.seconds, seed=args.seed, face=face, yaw_deg=yaw)
                    points, found, stats, cpu = _track(write_clip(spec, Path(tmp), kind))
                    err, jit = landmark_error(points, found, spec), landmark_jitter(points, found, spec)
                    per_yaw[yaw].append((stats.detections, int((~found).sum()), stats.degraded_fits, err, jit, cpu))
                    print(f"{face:<14} yaw {yaw:>4g} {kind:<8}: {len(found)} frames, detections {stats.detections:>3}, "
                          f"lost {(~found).sum():>3}, rejected fits {stats.degraded_fits:>3} | landmark error "
                          f"{100 * err:.2f} % IOD, jitter {100 * jit:.2f} % IOD | tracking {1000 * cpu:.1f} ms CPU/frame",
                          flush=True)
    for yaw, rows in per_yaw.items():
        m = np.array(rows, np.float64)
        print(f"yaw {yaw:>4g}: {len(m)} videos, detections per video mean {m[:, 0].mean():.1f} max {m[:, 0].max():.0f}, "
              f"videos over 5: {(m[:, 0] > 5).sum()}, lost frames {m[:, 1].sum():.0f} (videos with any: "
              f"{(m[:, 1] > 0).sum()}), rejected fits {m[:, 2].sum():.0f} | landmark error {100 * np.nanmean(m[:, 3]):.2f} "
              f"% IOD, jitter {100 * np.nanmean(m[:, 4]):.2f} % IOD | tracking {1000 * m[:, 5].mean():.1f} ms CPU/frame")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
