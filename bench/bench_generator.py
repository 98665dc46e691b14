"""How long a 3 s reaction clip (640x480, 30 fps) takes to render and write, per expression.

    python -m bench.bench_generator [--seconds 3] [--repeats 3]

Prints the median wall time of rendering, MP4 writing and Y4M writing; the face setup
(dlib detection + landmarks on the photo, done once per process) is timed separately.
"""
from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from data.reaction_video import EXPRESSIONS, ReactionSpec, render_reaction, write_mp4, write_y4m


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    t0 = time.perf_counter()
    render_reaction(ReactionSpec("neutral", duration_s=1 / 30))
    print(f"face setup (once per process): {time.perf_counter() - t0:.3f} s")
    print(f"{'expression':<10} {'render':>8} {'mp4':>8} {'y4m':>8} {'total':>8}  ({args.seconds:g} s clip, median of {args.repeats})")
    with tempfile.TemporaryDirectory() as tmp:
        for expression in EXPRESSIONS:
            times: dict[str, list[float]] = {"render": [], "mp4": [], "y4m": []}
            for r in range(args.repeats):
                spec = ReactionSpec(expression, duration_s=args.seconds, seed=r)
                t = time.perf_counter()
                frames = render_reaction(spec)
                times["render"].append(time.perf_counter() - t)
                t = time.perf_counter()
                write_mp4(frames, Path(tmp) / "c.mp4")
                times["mp4"].append(time.perf_counter() - t)
                t = time.perf_counter()
                write_y4m(frames, Path(tmp) / "c.y4m")
                times["y4m"].append(time.perf_counter() - t)
            med = {k: statistics.median(v) for k, v in times.items()}
            print(f"{expression:<10} {med['render']:8.3f} {med['mp4']:8.3f} {med['y4m']:8.3f} "
                  f"{med['render'] + med['mp4']:8.3f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
