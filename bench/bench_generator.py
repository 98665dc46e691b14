"""How long a 3 s reaction clip (640x480, 30 fps) takes to render and write, per expression.

    python -m bench.bench_generator [--seconds 3] [--repeats 3] [--synthetic 8]

Prints the median wall time of rendering, MP4 writing and Y4M writing, and the CPU time of
this process beside it (on a shared, loaded box the CPU time is the steadier figure); the
face setup (dlib detection + landmarks on the photo, done once per process) is timed separately.
"""
from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from data.reaction_video import EXPRESSIONS, ReactionSpec, render_reaction
from data.video_files import write_mp4, write_y4m


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--synthetic", type=int, default=0, metavar="N",
                        help="also time N videos of data.synthetic_reactions (all cores)")
    args = parser.parse_args(argv)
    t0, c0 = time.perf_counter(), time.process_time()
    render_reaction(ReactionSpec("neutral", duration_s=1 / 30))
    print(f"face setup (once per process): {time.perf_counter() - t0:.3f} s wall, {time.process_time() - c0:.3f} s CPU")
    print(f"{'expression':<10} {'render':>8} {'mp4':>8} {'y4m':>8} {'r+mp4':>8}   wall s | CPU s: "
          f"{'render':>7} {'mp4':>7} {'y4m':>7}  ({args.seconds:g} s clip, median of {args.repeats})")
    with tempfile.TemporaryDirectory() as tmp:
        for expression in EXPRESSIONS:
            times: dict[str, list[float]] = {"render": [], "mp4": [], "y4m": []}
            cpu: dict[str, list[float]] = {"render": [], "mp4": [], "y4m": []}
            for r in range(args.repeats):
                spec = ReactionSpec(expression, duration_s=args.seconds, seed=r)
                t, c = time.perf_counter(), time.process_time()
                frames = render_reaction(spec)
                times["render"].append(time.perf_counter() - t)
                cpu["render"].append(time.process_time() - c)
                t, c = time.perf_counter(), time.process_time()
                write_mp4(frames, Path(tmp) / "c.mp4")
                times["mp4"].append(time.perf_counter() - t)
                cpu["mp4"].append(time.process_time() - c)
                t, c = time.perf_counter(), time.process_time()
                write_y4m(frames, Path(tmp) / "c.y4m")
                times["y4m"].append(time.perf_counter() - t)
                cpu["y4m"].append(time.process_time() - c)
            med = {k: statistics.median(v) for k, v in times.items()}
            mc = {k: statistics.median(v) for k, v in cpu.items()}
            print(f"{expression:<10} {med['render']:8.3f} {med['mp4']:8.3f} {med['y4m']:8.3f} "
                  f"{med['render'] + med['mp4']:8.3f}          {mc['render']:7.3f} {mc['mp4']:7.3f} {mc['y4m']:7.3f}")
        if args.synthetic:
            from data.synthetic_reactions import make_synthetic_dataset

            t = time.perf_counter()
            manifest = make_synthetic_dataset(Path(tmp) / "synthetic", n_volunteers=max(1, args.synthetic // 4),
                                              n_videos=args.synthetic, duration_s=args.seconds, progress=False)
            wall = time.perf_counter() - t
            size = sum(p.stat().st_size for p in manifest.parent.rglob("*.mp4"))
            print(f"synthetic dataset: {args.synthetic} videos of {args.seconds:g} s in {wall:.1f} s wall "
                  f"({wall / args.synthetic:.2f} s/video incl. worker start-up), {size / args.synthetic / 1e3:.0f} kB/video")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
