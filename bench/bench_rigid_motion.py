"""Does rigid head motion leak into the 72-d descriptor? Rigid-only clips against smiles, per face.

    python -m bench.bench_rigid_motion [--faces NAME ...] [--yaws 0 15 30] [--seconds 3] [--legacy] [--expressions]

For every offline face (``data.faces.available_faces``) and head turn, renders two clips of
the same face: one where ONLY the head moves (±40 px shift, ±12° roll, ±10 % zoom, a
brightness ramp 0.8 -> 1.2; no expression, no blinks) and one with a full smile on a still
head. Both go through the extractor (H.264 file -> tracking -> descriptor). Printed per clip
pair: the mean region magnitude of the descriptor (mean of the 36 magnitudes over all valid
frame pairs) of each clip and their ratio rigid / smile (the bar: <= 0.25), the landmark
error against the generator's ground truth and the landmark jitter (both in % of the
inter-ocular distance, IOD; see ``bench/face_motion.py``), and the detector runs.
``--legacy`` runs the descriptor's previous behaviour (``FeatureConfig.legacy()``) too.
``--expressions`` also prints, per face (head straight), the mean region magnitude of the
kit's ordinary clips (each expression with blinks and the default small head sway): what a
model sees, where a neutral face should give much less than an expression.
"""
from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

import numpy as np

from bench.face_motion import chosen_faces, face_parser, landmark_error, landmark_jitter, rigid_spec, smile_spec, write_clip


def _magnitude(features) -> float:
    valid = features.flow_valid
    return float(features.flow72[valid, 36:].mean()) if valid.any() else float("nan")


def _expressions(faces: list[str], configs: dict, seconds: float, seed: int) -> None:
    from core.reaction.descriptor import extract_features
    from data.reaction_video import EXPRESSIONS, ReactionSpec

    table = {name: {e: [] for e in EXPRESSIONS} for name in configs}
    with tempfile.TemporaryDirectory() as tmp:
        for face in faces:
            for expression in EXPRESSIONS:
                spec = ReactionSpec(expression, duration_s=seconds, seed=seed, onset_s=0.5, ramp_s=0.5, face=face)
                path = write_clip(spec, Path(tmp), expression)
                for name, config in configs.items():
                    table[name][expression].append(_magnitude(extract_features(path, config)))
            print(f"{face:<14} " + " | ".join(
                f"{name}: " + " ".join(f"{e} {table[name][e][-1]:.4f}" for e in EXPRESSIONS) for name in configs), flush=True)
    for name in configs:
        means = {e: float(np.mean(v)) for e, v in table[name].items()}
        print(f"{name}: ordinary clips, mean region magnitude over {len(faces)} faces: "
              + ", ".join(f"{e} {m:.4f}" for e, m in means.items())
              + " | neutral / smile " + f"{means['neutral'] / max(means['smile'], 1e-9):.3f}")


def main(argv: list[str] | None = None) -> int:
    from core.reaction.descriptor import FeatureConfig, extract_features

    parser = face_parser(__doc__.splitlines()[0])
    parser.add_argument("--legacy", action="store_true", help="also measure FeatureConfig.legacy()")
    parser.add_argument("--expressions", action="store_true", help="also the kit's ordinary clips per expression")
    args = parser.parse_args(argv)
    faces = chosen_faces(args)
    configs = {"default": FeatureConfig()}
    if args.legacy:
        configs = {"legacy": FeatureConfig.legacy(), **configs}
    print(f"{len(faces)} faces x yaw {args.yaws} x {args.seconds:g} s clips; load {os.getloadavg()[0]:.1f}")
    ratios: dict[str, list[float]] = {name: [] for name in configs}
    rows: dict[str, list[tuple[float, float, float, float]]] = {name: [] for name in configs}
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        for face in faces:
            for yaw in args.yaws:
                rigid, smile = rigid_spec(face, yaw, args.seconds, args.seed), smile_spec(face, yaw, args.seconds, args.seed)
                paths = write_clip(rigid, Path(tmp), "rigid"), write_clip(smile, Path(tmp), "smile")
                for name, config in configs.items():
                    fr, fs = (extract_features(p, config) for p in paths)
                    ratio = _magnitude(fr) / max(_magnitude(fs), 1e-9)
                    err = (landmark_error(fr.landmarks, fr.face_found, rigid), landmark_error(fs.landmarks, fs.face_found, smile))
                    jit = landmark_jitter(fr.landmarks, fr.face_found, rigid)
                    ratios[name].append(ratio)
                    rows[name].append((err[0], err[1], jit, fr.meta["detections"] + fs.meta["detections"]))
                    print(f"{name:<8} {face:<14} yaw {yaw:>4g}: magnitude rigid {_magnitude(fr):.4f} smile "
                          f"{_magnitude(fs):.4f} ratio {ratio:.3f} | landmark error rigid {100 * err[0]:.2f} "
                          f"smile {100 * err[1]:.2f} % IOD, jitter (rigid) {100 * jit:.2f} % IOD | detections "
                          f"{fr.meta['detections']}+{fs.meta['detections']}, lost {(~fr.face_found).sum()}+"
                          f"{(~fs.face_found).sum()}", flush=True)
    for name in configs:
        r = np.array(ratios[name])
        m = np.array(rows[name])
        print(f"{name}: rigid/smile magnitude ratio over {len(r)} face x pose pairs: median {np.median(r):.3f}, "
              f"mean {r.mean():.3f}, max {r.max():.3f}; pairs <= 0.25: {(r <= 0.25).sum()}/{len(r)} | "
              f"landmark error rigid {100 * m[:, 0].mean():.2f} smile {100 * m[:, 1].mean():.2f} % IOD, "
              f"jitter {100 * m[:, 2].mean():.2f} % IOD, detections per clip {m[:, 3].mean() / 2:.1f}")
    if args.expressions:
        _expressions(faces, configs, args.seconds, args.seed)
    print(f"{time.perf_counter() - t0:.0f} s wall")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
