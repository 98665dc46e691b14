"""Demo latency: a new 10 s reaction video -> the first answer (landmark model + annotated frames),
the full answer (+ pixel model), Grad-CAM of one clip; and an image -> Grad-CAM.

    python -m bench.bench_demo [--widths 1.0 0.0625] [--seconds 10] [--repeats 2]

Times ``app.serving.DemoService`` end to end on this machine with PLM-IPE models of the paper's
size (C3D width 1.0, fc 4096) and the DEMO model's (width 1/16, fc 128: ``--preset cpu``). Each
timed run starts from a video the service has not seen (its feature cache is emptied), as a
person's first Predict does. Timing does not depend on the weights, so the models are randomly
initialised and saved as real checkpoints.
"""
from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np


def main(argv: list[str] | None = None) -> int:
    import torch

    from core.paths import DataHome
    from data.reaction_video import ReactionSpec, make_reaction_video
    from models.reaction.c3d import C3DConfig
    from models.reaction.lbe import LBEConfig
    from models.reaction.plm_ipe import ModelConfig
    from models.reaction.registry import build_from_config
    from app.serving import DemoService
    from models.training.train import TrainConfig, TrainResult
    from models.training.run_folder import save_run
    from tests.demo_fixtures import tiny_preference_run

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--widths", type=float, nargs="+", default=[1.0, 0.0625])
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args(argv)
    print(f"torch threads: {torch.get_num_threads()}; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    with tempfile.TemporaryDirectory() as tmp:
        home = DataHome.resolve(tmp).ensure()
        video = make_reaction_video(Path(tmp) / "reaction.mp4", ReactionSpec("smile", duration_s=args.seconds, seed=0))
        service = DemoService(home)
        for width in args.widths:
            fc = 4096 if width == 1.0 else 128 if width == 0.0625 else int(4096 * width)
            config = ModelConfig(variant="plm-ipe", c3d=C3DConfig(width=width, fc_dim=fc), lbe=LBEConfig())
            model = build_from_config(config)
            run = home.runs / f"plm-ipe-w{width}"
            save_run(run, TrainResult(model, [], {}, 0.0), config, TrainConfig(), split_id=None, data_fingerprint=None)
            list(service.analyse_reaction_steps(video, run))  # warm-up: load, first-call costs
            firsts, fulls, cams = [], [], []  # (wall s, process CPU s): on a shared box the CPU time is the steadier
            for _ in range(args.repeats):
                service._features.clear()  # a video the service has not seen
                t, c = time.perf_counter(), time.process_time()
                steps = service.analyse_reaction_steps(video, run)
                result = next(steps)
                firsts.append((time.perf_counter() - t, time.process_time() - c))
                for _ in steps:  # the same result, filled in by the pixel model
                    pass
                fulls.append((time.perf_counter() - t, time.process_time() - c))
                t, c = time.perf_counter(), time.process_time()
                service.clip_gradcam(video, run, 1)
                cams.append((time.perf_counter() - t, time.process_time() - c))

            def med(pairs: list[tuple[float, float]]) -> str:
                wall, cpu = np.median(np.array(pairs), axis=0)
                return f"{wall:.2f} s ({cpu:.2f} CPU-s)"

            parts = ", ".join(f"{k} {v:.2f}" for k, v in result.timings_s.items())
            print(f"C3D width {width:g}: {args.seconds:g} s video ({len(result.clip_times)} clips): first answer "
                  f"(landmark model + frames) {med(firsts)}, full answer {med(fulls)}, Grad-CAM of one clip "
                  f"{med(cams)} (medians of {args.repeats}; last run, wall s: {parts})")
        pref = tiny_preference_run(home.runs / "pref", Path(tmp) / "catalog", epochs=1, size=128)
        image = (np.random.default_rng(0).random((256, 256, 3)) * 255).astype(np.uint8)
        for method in ("gradcam", "gradcam++", "eigencam"):
            service.analyse_image(image, pref.parent, method=method)
            times = []
            for _ in range(5):
                t = time.perf_counter()
                service.analyse_image(image, pref.parent, method=method)
                times.append(time.perf_counter() - t)
            print(f"image 256x256 -> preference + {method}: {np.median(times) * 1000:.0f} ms (median of 5)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
