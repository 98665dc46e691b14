"""Where the server's CPU goes when it normalises one browser-recorded take, stage by stage.

    nice python -m bench.bench_normalise [--seconds 10] [--repeat 3] [--presets veryfast superfast ultrafast]

One process, one take at a time: the pre-encoded VP8 WebM that ``bench/bench_capture_browser.py``
replays (640x480, 30 fps, ~2.5 Mbit/s, from the generated face video). Stages, each timed by this
process's CPU time (``time.process_time``: every thread, libx264's included) per recorded second:
demux + VP8 decode; + the copy of each picture's YUV planes (what the writer takes from a frame);
the whole normalisation (``core.collection.take_normalise.normalise_take``: decode, the
constant-30-fps writer, libx264) with the kit's settings; then libx264 alone at other presets and
thread counts (same container, codec, size and frame rate; only the encoder's effort differs), with
the file size each gives; and fsync of the stored file. The figures of several volunteers at once
are ``bench/bench_capture_browser.py``'s.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))


def _cpu(fn, repeat: int) -> float:
    """Median CPU seconds of ``fn()`` over ``repeat`` calls."""
    costs = []
    for _ in range(repeat):
        start = time.process_time()
        fn()
        costs.append(time.process_time() - start)
    return statistics.median(costs)


def _decode(source: Path, planes: bool) -> int:
    import av

    n = 0
    with av.open(str(source)) as container:
        for frame in container.decode(container.streams.video[0]):
            if planes:
                frame.to_ndarray(format="yuv420p")
            n += 1
    return n


def _encode(pictures: list, dest: Path, preset: str, threads: int | None) -> int:
    import av

    with av.open(str(dest), mode="w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=30)
        stream.width, stream.height, stream.pix_fmt = 640, 480, "yuv420p"
        options = {"preset": preset, "tune": "zerolatency", "crf": "20"}
        if threads:
            options["threads"] = str(threads)
        stream.options = options
        for k, yuv in enumerate(pictures):
            frame = av.VideoFrame.from_ndarray(yuv, format="yuv420p")
            frame.pts = k
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return dest.stat().st_size


def main(argv: list[str] | None = None) -> int:
    import av

    from bench.bench_capture_browser import make_take
    from core.collection.config import CollectionConfig
    from core.collection.take_normalise import normalise_take

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--presets", nargs="+", default=["veryfast", "superfast", "ultrafast"])
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        take = make_take(work / "take.webm", args.seconds)
        config = CollectionConfig(max_record_seconds=args.seconds)
        per_s = 1.0 / args.seconds
        rows = [("demux + VP8 decode", _cpu(lambda: _decode(take, False), args.repeat) * per_s, None),
                ("+ YUV planes copied", _cpu(lambda: _decode(take, True), args.repeat) * per_s, None),
                ("whole normalisation (kit: veryfast, x264's own threads)",
                 _cpu(lambda: normalise_take(take, work / "kit.mp4", config), args.repeat) * per_s,
                 (work / "kit.mp4").stat().st_size)]
        with av.open(str(take)) as container:
            pictures = [f.to_ndarray(format="yuv420p") for f in container.decode(container.streams.video[0])]
        for preset in args.presets:
            for threads in (None, 1):
                dest = work / f"{preset}-{threads}.mp4"
                cost = _cpu(lambda d=dest, p=preset, n=threads: _encode(pictures, d, p, n), args.repeat) * per_s
                rows.append((f"libx264 alone, {preset}, threads={threads or 'auto'}", cost, dest.stat().st_size))
        start = time.perf_counter()
        with open(work / "kit.mp4", "rb+") as handle:
            os.fsync(handle.fileno())
        fsync_ms = (time.perf_counter() - start) * 1000
    print(f"one {args.seconds:g} s take, {len(pictures)} frames; CPU-s per recorded second (median of {args.repeat}); "
          f"load average {os.getloadavg()[0]:.1f}")
    for name, cost, size in rows:
        print(f"  {name:58s} {cost:.4f}" + (f"   file {size / 1e6:.2f} MB" if size else ""))
    print(f"  fsync of the stored file (wall)                            {fsync_ms:.1f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
