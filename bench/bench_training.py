"""The issue's training benchmark in one run, on SYNTHETIC data (speed figures only, never results).

    nice -n 19 python -m bench.bench_training                 # CPU: toy sizes, a couple of minutes
    python -m bench.bench_training --device cuda              # GPU: paper-size C3D, 3,345 videos, batch 32

Prints, from one call:
1. the device's matmul peak, measured by timing a large matmul (bf16 on CUDA, fp32 on CPU);
2. C3D training throughput (forward + backward + Adam, ``bench.bench_c3d.measure``) for the kit's
   training path (bf16 autocast + channels-last-3D, + torch.compile on CUDA), for a true fp32 eager
   run of the same model (TF32 off) and, on CUDA, a TF32 eager run (PyTorch's default for cuDNN
   convolutions), in clips/s and % of the measured peak, and the kit path / fp32 ratio;
3. one PLM-IPE training at the paper's settings (Adam 1e-4 / 5e-3, batch 32) through the kit's
   own ``models.training.train.train_model`` and streaming data path, on a SYNTHETIC feature set of
   ``--videos`` videos written as feature files (``models/training/synthetic.py`` content at 112x112,
   ``--distinct`` distinct files, the manifest cycling through them), split 80/20 by volunteer:
   the measured per-epoch time, the data-wait fraction, the clip sampling per epoch, and the wall
   time of 500 epochs (measured when ``--epochs 500``, else EXTRAPOLATED and labelled so);
4. feature-extraction time: ``--extract-sample`` videos rendered from real offline faces with
   ``data.synthetic_reactions``, run through ``core.reaction.descriptor.extract_features``; the time for the
   whole set is EXTRAPOLATED from the per-video time (with ``--extract-workers`` processes).

``--json PATH`` writes every figure. On CPU the defaults shrink the C3D (``--width``, ``--fc-dim``),
the set and the clips per video and say so in the output.
"""
from __future__ import annotations

import argparse
import csv
import json
import math
import os
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from bench.bench_c3d import forward_flops, measure
from models.reaction.c3d import C3DConfig

PAPER_EPOCHS = 500
PAPER_VIDEOS = 3345
PAPER_VOLUNTEERS = 120


@dataclass(frozen=True)
class Settings:
    device: str
    videos: int
    volunteers: int
    clips_per_video: int
    flow_steps: int
    distinct: int
    epochs: int
    batch: int
    width: float
    fc_dim: int
    compile: bool
    workers: int
    eval_every: int
    c3d_steps: int
    extract_sample: int
    extract_seconds: float
    extract_workers: int


def matmul_peak(device: torch.device, *, n: int, iters: int, trials: int = 3) -> tuple[float, str]:
    """Measured TFLOP/s of an n x n x n matmul (best of ``trials`` timings): bf16 on CUDA, fp32 on CPU."""
    dtype = torch.bfloat16 if device.type == "cuda" else torch.float32
    a = torch.randn(n, n, device=device, dtype=dtype)
    b = torch.randn(n, n, device=device, dtype=dtype)
    for _ in range(2):
        a @ b
    best = math.inf
    for _ in range(trials):
        _sync(device)
        start = time.perf_counter()
        for _ in range(iters):
            a @ b
        _sync(device)
        best = min(best, time.perf_counter() - start)
    return 2.0 * n ** 3 * iters / best / 1e12, str(dtype).replace("torch.", "")


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def write_feature_set(folder: Path, s: Settings) -> tuple[Path, dict[str, Any]]:
    """SYNTHETIC feature files (``s.distinct`` of them) and a manifest of ``s.videos`` rows cycling
    through them; the last 20 % of the volunteers form the test fold."""
    from core.reaction.descriptor import ReactionFeatures
    from models.training.data import write_manifest
    from models.training.synthetic import make_synthetic_set

    start = time.perf_counter()
    pool = make_synthetic_set(n_volunteers=max(1, s.distinct // 3), videos_per_volunteer=3, clip_size=112,
                              clips_per_video=s.clips_per_video, flow_steps=s.flow_steps, seed=0)
    paths, labels = [], []
    for i in range(min(s.distinct, len(pool))):
        t = len(pool.flow[i]) + 1
        feats = ReactionFeatures(np.zeros((t, 68, 2), np.float32), np.ones(t, bool), pool.flow[i], pool.flow_valid[i],
                                 pool.clips[i], np.arange(t) / 30.0, 30.0, {"synthetic": True})
        path = folder / f"pool-{i:04d}.npz"
        feats.save(path)
        paths.append(path.name)
        labels.append(int(pool.labels[i]))
    n_test_vol = max(1, round(0.2 * s.volunteers))
    rows = []
    for j in range(s.videos):
        volunteer = j * s.volunteers // s.videos
        rows.append({"video_id": f"syn-{j:05d}", "volunteer_id": f"sv{volunteer:03d}", "label": labels[j % len(paths)],
                     "fold": "test" if volunteer >= s.volunteers - n_test_vol else "train",
                     "features_npz": paths[j % len(paths)]})
    manifest = write_manifest(folder / "manifest.csv", rows)
    info = {"distinct_files": len(paths), "bytes_per_file": (folder / paths[0]).stat().st_size,
            "seconds": time.perf_counter() - start}
    return manifest, info


def plm_ipe_training(manifest: Path, s: Settings) -> dict[str, Any]:
    """Train PLM-IPE through the kit's training path; per-epoch time, data wait, 500-epoch wall time."""
    from models.training.data import load_manifest
    from models.reaction.registry import model_config
    from models.training.train import CLIP_SAMPLING, TrainConfig, train_model

    folds = load_manifest(manifest)
    train, test = folds["train"], folds["test"]
    mc = model_config("plm-ipe", width=s.width, fc_dim=s.fc_dim)
    tc = TrainConfig(epochs=s.epochs, batch_size=s.batch, device=s.device, compile=s.compile, eval_every=0,
                     num_workers=s.workers)
    result = train_model(mc, train, test, tc)
    epoch_s = [row["epoch_seconds"] for row in result.history]
    steady = epoch_s[1:] if len(epoch_s) > 1 else epoch_s  # the first epoch holds compilation / warm-up
    per_epoch = float(np.mean(steady))
    eval_s = max(0.0, result.seconds - sum(epoch_s))  # the one held-out evaluation at the end
    waits = [row["data_wait_fraction"] for row in result.history[1:] or result.history]
    n_evals = PAPER_EPOCHS // s.eval_every + (PAPER_EPOCHS % s.eval_every != 0) if s.eval_every else 1
    if s.epochs >= PAPER_EPOCHS:
        total, how = result.seconds, "measured"
    else:
        total, how = epoch_s[0] + per_epoch * (PAPER_EPOCHS - 1) + n_evals * eval_s, "EXTRAPOLATED"
    return {
        "train_videos": len(train), "test_videos": len(test), "lazy_data": train.lazy, "epochs_measured": s.epochs,
        "epoch_seconds": epoch_s, "per_epoch_seconds": per_epoch, "first_epoch_seconds": epoch_s[0],
        "eval_seconds": eval_s, "evaluations_in_500": n_evals, "data_wait_fraction": float(np.mean(waits)),
        "videos_per_second": len(train) / per_epoch, "clip_sampling": CLIP_SAMPLING,
        "wall_500_epochs_seconds": total, "wall_500_epochs_how": how, "num_workers": result.extra["num_workers"],
        "accuracy_fused": result.metrics.get("fused", {}).get("accuracy"),
    }


def extraction_time(s: Settings) -> dict[str, Any]:
    """Per-video feature-extraction time on rendered SYNTHETIC reaction videos; the set's time extrapolated."""
    import cv2

    from core.reaction.descriptor import extract_features
    from data.synthetic_reactions import make_synthetic_dataset

    cv2.setNumThreads(1)  # as `app extract` workers: one process per core
    with tempfile.TemporaryDirectory() as tmp:
        manifest = make_synthetic_dataset(Path(tmp) / "videos", n_volunteers=s.extract_sample, n_videos=s.extract_sample,
                                          duration_s=s.extract_seconds, progress=False, workers=1)
        with open(manifest, newline="") as handle:
            paths = [manifest.parent / row["path"] for row in csv.DictReader(handle)]
        extract_features(paths[0])  # warm-up: imports, dlib models (not timed)
        walls, cpus, frames = [], [], 0
        for path in paths:
            wall, cpu = time.perf_counter(), time.process_time()
            feats = extract_features(path)
            walls.append(time.perf_counter() - wall)
            cpus.append(time.process_time() - cpu)
            frames += int(feats.meta.get("frames", 0))
    per_video = float(np.mean(walls))
    return {"sample_videos": len(paths), "video_seconds": s.extract_seconds, "frames": frames,
            "per_video_wall_seconds": per_video, "per_video_cpu_seconds": float(np.mean(cpus)),
            "set_videos": s.videos, "workers": s.extract_workers,
            "set_seconds_extrapolated": per_video * s.videos / s.extract_workers}


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return f"CPU {line.split(':', 1)[1].strip()} x{os.cpu_count()}"
    except OSError:
        pass
    return f"CPU x{os.cpu_count()}"


def _defaults(args: argparse.Namespace) -> Settings:
    gpu = torch.device(args.device).type == "cuda"
    seconds = args.extract_seconds or (10.0 if gpu else 3.0)
    return Settings(
        device=args.device, videos=args.videos or (PAPER_VIDEOS if gpu else 30),
        volunteers=args.volunteers or (PAPER_VOLUNTEERS if gpu else 10),
        clips_per_video=args.clips_per_video or (int(seconds * 30) // 16 if gpu else 2),
        flow_steps=args.flow_steps or (int(seconds * 30) - 1 if gpu else 89),
        distinct=args.distinct or (256 if gpu else 30), epochs=args.epochs or (3 if gpu else 2), batch=args.batch,
        width=args.width or (1.0 if gpu else 0.125), fc_dim=args.fc_dim or (4096 if gpu else 256),
        compile=gpu and not args.no_compile, workers=args.workers, eval_every=args.eval_every,
        c3d_steps=args.c3d_steps or (20 if gpu else 2), extract_sample=args.extract_sample or (4 if gpu else 2),
        extract_seconds=seconds, extract_workers=args.extract_workers or (os.cpu_count() or 1),
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--videos", type=int, help=f"videos in the synthetic set (default {PAPER_VIDEOS} on CUDA, 30 on CPU)")
    parser.add_argument("--volunteers", type=int, help=f"default {PAPER_VOLUNTEERS} on CUDA, 10 on CPU")
    parser.add_argument("--clips-per-video", type=int, help="default 18 on CUDA (10 s at 30 fps), 2 on CPU")
    parser.add_argument("--flow-steps", type=int, help="flow sequence length (default: the video's frames - 1)")
    parser.add_argument("--distinct", type=int, help="distinct feature files (default 256 on CUDA, all on CPU)")
    parser.add_argument("--epochs", type=int, help="epochs measured (default 3 on CUDA, 2 on CPU; 500 = no extrapolation)")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--width", type=float, help="C3D channel multiplier (default 1 on CUDA, 0.125 on CPU)")
    parser.add_argument("--fc-dim", type=int, help="C3D fc6/fc7 units (default 4096 on CUDA, 256 on CPU)")
    parser.add_argument("--no-compile", action="store_true", help="no torch.compile on CUDA")
    parser.add_argument("--workers", type=int, default=-1, help="DataLoader workers (-1: the kit's auto choice)")
    parser.add_argument("--eval-every", type=int, default=10, help="held-out evaluations assumed in the 500-epoch "
                        "extrapolation (10 = the CLI default)")
    parser.add_argument("--c3d-steps", type=int, help="timed C3D steps per path (default 20 on CUDA, 2 on CPU)")
    parser.add_argument("--extract-sample", type=int, help="rendered videos whose extraction is timed (default 4 / 2)")
    parser.add_argument("--extract-seconds", type=float, help="their length (default 10 s on CUDA, 3 s on CPU)")
    parser.add_argument("--extract-workers", type=int, help="processes assumed for the set (default: CPU count)")
    parser.add_argument("--skip-extraction", action="store_true")
    parser.add_argument("--json", help="write every figure to this JSON file")
    args = parser.parse_args(argv)
    s = _defaults(args)
    device = torch.device(s.device)
    gpu = device.type == "cuda"
    if gpu:
        torch.backends.cudnn.benchmark = True
    name = torch.cuda.get_device_name(device) if gpu else f"{_cpu_model()}, {torch.get_num_threads()} threads"
    out: dict[str, Any] = {"settings": asdict(s), "device_name": name, "synthetic": True,
                           "date_utc": time.strftime("%Y-%m-%d %H:%M", time.gmtime())}
    print(f"SYNTHETIC DATA benchmark (speed only, not results) on {name}, {out['date_utc']} UTC, "
          f"load average {os.getloadavg()[0]:.1f}")
    reduced = [f"{k} {v}" for k, v, paper in (("videos", s.videos, PAPER_VIDEOS), ("C3D width", s.width, 1.0),
                                              ("fc", s.fc_dim, 4096), ("batch", s.batch, 32)) if v != paper]
    if reduced:
        print("NOTE: reduced from the paper's sizes: " + ", ".join(reduced) + " (figures are for these sizes)")

    peak, dtype = matmul_peak(device, n=8192 if gpu else 2048, iters=50 if gpu else 3)
    out["peak"] = {"tflops": peak, "dtype": dtype}
    print(f"matmul peak ({dtype}, measured): {peak:.3f} TFLOP/s")

    c3d = C3DConfig(width=s.width, fc_dim=s.fc_dim)
    train_flops = 3.0 * forward_flops(c3d)
    kit_label = "bf16 autocast + channels-last-3D" + (" + torch.compile" if s.compile else "")
    rates = {}
    paths = [("fp32 eager", False, False)] + ([("tf32 eager", False, True)] if gpu else []) + [(kit_label, True, True)]
    for label, optimized, tf32 in paths:
        rates[label] = measure(c3d, device=device, batch=s.batch if gpu else 2, steps=s.c3d_steps,
                               warmup=5 if gpu else 1, optimized=optimized, compile_model=s.compile, tf32=tf32)
        pct = 100.0 * rates[label] * train_flops / (peak * 1e12)
        print(f"C3D train {label}: {rates[label]:.2f} clips/s ({pct:.2f}% of the measured {dtype} peak)")
    ratio = rates[kit_label] / rates["fp32 eager"]
    if not gpu:
        print("NOTE: on CPU models/training/train.py trains in fp32 (bf16 autocast + channels-last are its CUDA defaults); "
              "the bf16 row shows that path measured here")
    print(f"C3D kit path / fp32 eager: {ratio:.2f}x  (forward {forward_flops(c3d) / 1e9:.2f} GFLOP/clip at this size, "
          f"{forward_flops(C3DConfig()) / 1e9:.1f} at paper size; train step counted as 3x forward)")
    out["c3d"] = {"fp32_eager_clips_s": rates["fp32 eager"], "kit_path": kit_label, "kit_clips_s": rates[kit_label],
                  "ratio": ratio, "train_gflop_per_clip": train_flops / 1e9,
                  "fp32_pct_peak": 100.0 * rates["fp32 eager"] * train_flops / (peak * 1e12),
                  "kit_pct_peak": 100.0 * rates[kit_label] * train_flops / (peak * 1e12),
                  "tf32_eager_clips_s": rates.get("tf32 eager")}

    with tempfile.TemporaryDirectory() as tmp:
        manifest, files = write_feature_set(Path(tmp), s)
        print(f"synthetic feature set: {s.videos} videos of {s.volunteers} volunteers, {s.clips_per_video} clips of "
              f"16x112x112 per video, {files['distinct_files']} distinct files of {files['bytes_per_file'] / 1e6:.1f} MB "
              f"(written in {files['seconds']:.1f} s), read lazily")
        train = plm_ipe_training(manifest, s)
    out["training"] = train
    print(f"PLM-IPE training (paper optimiser, batch {s.batch}): {train['train_videos']} train / {train['test_videos']} "
          f"test videos, {train['epochs_measured']} epochs measured, {train['num_workers']} loader workers")
    print(f"clip sampling per epoch: {train['clip_sampling']}")
    print(f"per-epoch time (measured): {train['per_epoch_seconds']:.3f} s (first epoch {train['first_epoch_seconds']:.3f} s); "
          f"{train['videos_per_second']:.1f} videos/s; held-out evaluation {train['eval_seconds']:.3f} s")
    print(f"data wait: {100 * train['data_wait_fraction']:.2f}% of the training-loop time "
          f"(busy >= {100 * (1 - train['data_wait_fraction']):.2f}%)")
    what = "measured" if train["wall_500_epochs_how"] == "measured" else (
        f"EXTRAPOLATED from {s.epochs} measured epochs + {train['evaluations_in_500']} evaluations")
    print(f"PLM-IPE training wall time, {PAPER_EPOCHS} epochs, batch {s.batch}, {s.videos} videos: "
          f"{train['wall_500_epochs_seconds']:.1f} s = {train['wall_500_epochs_seconds'] / 60:.1f} min ({what})")

    if not args.skip_extraction:
        ex = extraction_time(s)
        out["extraction"] = ex
        print(f"feature extraction: {ex['per_video_wall_seconds']:.2f} s per {ex['video_seconds']:g} s video "
              f"(measured on {ex['sample_videos']} rendered SYNTHETIC videos, {ex['frames']} frames, 1 process); "
              f"set of {ex['set_videos']} videos with {ex['workers']} processes: {ex['set_seconds_extrapolated']:.0f} s = "
              f"{ex['set_seconds_extrapolated'] / 60:.1f} min (EXTRAPOLATED)")
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=2, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
