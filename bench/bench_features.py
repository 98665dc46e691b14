"""Frames per second of the full reaction descriptor on this machine, with a per-stage breakdown.

    nice python -m bench.bench_features [--videos 4] [--seconds 5] [--workers 1 2]

Generates reaction videos (640x480, 30 fps, H.264) from a real face, then runs
decode + detect/track + landmarks + align + Farneback flow + 36 regions + C3D clips
(``core.reaction.descriptor.extract_features``) on them with 1 and N worker processes.

Two figures per setting: the wall-clock rate (what you get now, on a machine shared with
others) and the CPU-bound rate (frames / CPU seconds per worker x workers, capped by the
cores): what the machine gives when nothing else runs. The stage breakdown is CPU time.
"""
from __future__ import annotations

import argparse
import os
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from data.reaction_video import EXPRESSIONS, ReactionSpec, make_reaction_video


def _extract(path: str) -> dict:
    import cv2

    from core.reaction.descriptor import extract_features

    cv2.setNumThreads(1)  # one process per core: OpenCV's own threads would only contend
    cpu = time.process_time()
    features = extract_features(path)
    return {"frames": features.meta["frames"], "timings": features.meta["timings_s"],
            "cpu_s": time.process_time() - cpu}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--videos", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    args = parser.parse_args(argv)
    cores = os.cpu_count() or 1
    print(f"{cores} cores, load average {os.getloadavg()[0]:.1f}; {args.videos} videos of {args.seconds:g} s")
    with tempfile.TemporaryDirectory() as tmp:
        paths = []
        for i in range(args.videos):
            spec = ReactionSpec(EXPRESSIONS[i % len(EXPRESSIONS)], duration_s=args.seconds, seed=i)
            paths.append(str(make_reaction_video(Path(tmp) / f"v{i}.mp4", spec)))
        _extract(paths[0])  # warm up: imports, dlib models
        for workers in args.workers:
            t = time.perf_counter()
            with ProcessPoolExecutor(max_workers=workers) as pool:
                results = list(pool.map(_extract, paths))
            wall = time.perf_counter() - t
            frames = sum(r["frames"] for r in results)
            cpu = sum(r["cpu_s"] for r in results)
            cpu_rate = frames / cpu * min(workers, cores)
            stages: dict[str, float] = {}
            for r in results:
                for k, v in r["timings"].items():
                    stages[k] = stages.get(k, 0.0) + v
            print(f"{workers} worker(s): {frames} frames in {wall:.2f} s wall = {frames / wall:.0f} frames/s now "
                  f"(load {os.getloadavg()[0]:.1f}); CPU-bound: {1000 * cpu / frames:.2f} ms CPU/frame -> "
                  f"{cpu_rate:.0f} frames/s ({cpu_rate / 30:.1f}x real time at 30 fps)")
            print("   CPU per frame (ms): " + ", ".join(
                f"{k} {1000 * v / frames:.2f}" for k, v in sorted(stages.items(), key=lambda kv: -kv[1])))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
