"""Preference CNN costs on this CPU: training time per epoch and Grad-CAM latency per image.

    nice python -m bench.bench_preference [--threads 1] [--images 1024]

Trains one epoch (Adam, batch 64/32/16) of the VGG-style CNN at Fashion-MNIST size (28x28, the
paper's source) and at catalog size (64x64 colour), and fine-tunes EfficientNet-Lite0 at 96x96
and 224x224; prints wall and CPU seconds per epoch for the images used and scaled to the
paper's 60,000-image epoch / the 64-item demo catalog. Then times Grad-CAM per image for each
method. Wall time on a shared, loaded box is noisy; CPU time of this process is the steadier figure.
"""
from __future__ import annotations

import argparse
import time

import numpy as np
import torch


def _timed(fn) -> tuple[float, float]:
    t, c = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - t, time.process_time() - c


def main(argv: list[str] | None = None) -> int:
    from models.preference.efficientnet import EfficientNetConfig, EfficientNetPreference
    from models.preference.efficientnet import target_layers as eff_layers
    from models.preference.explain import compute_heatmaps
    from models.preference.cnn import PreferenceCNN, PreferenceCNNConfig, target_layers
    from models.preference.train import PreferenceTrainConfig, fit, to_tensor

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--images", type=int, default=1024, help="images per timed VGG epoch")
    parser.add_argument("--cam-images", type=int, default=8)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    rng = np.random.default_rng(0)
    print(f"torch {torch.__version__}, {args.threads} thread(s)")
    print(f"{'training (1 epoch)':<44} {'images':>6} {'wall s':>8} {'CPU s':>8} {'CPU ms/img':>10}  scaled")
    cases = [
        ("VGG 28x28 gray (Fashion-MNIST)", lambda: PreferenceCNN(PreferenceCNNConfig(28, 1)), 28, 1, args.images, 64, 60000),
        ("VGG 28x28 colour (FMNIST source for colour)", lambda: PreferenceCNN(PreferenceCNNConfig(28, 3)), 28, 3, args.images, 64, 60000),
        ("VGG 64x64 colour (catalog)", lambda: PreferenceCNN(PreferenceCNNConfig(64, 3)), 64, 3, args.images // 4, 32, 64),
        ("EfficientNet-Lite0 96x96 fine-tune", lambda: EfficientNetPreference(EfficientNetConfig(96)), 96, 3, 64, 16, 64),
        ("EfficientNet-Lite0 224x224 fine-tune", lambda: EfficientNetPreference(EfficientNetConfig(224)), 224, 3, 32, 16, 64),
    ]
    warm = PreferenceCNN(PreferenceCNNConfig(28, 1))  # first-call overheads out of the timings
    fit(warm, rng.integers(0, 256, size=(64, 28, 28, 1), dtype=np.uint8), np.arange(64) % 2, PreferenceTrainConfig(epochs=1))
    models = {}
    for name, build, size, channels, n, batch, scale_to in cases:
        model = build()
        x = rng.integers(0, 256, size=(n, size, size, channels), dtype=np.uint8)
        y = rng.integers(0, 2, size=n)
        wall, cpu = _timed(lambda: fit(model, x, y, PreferenceTrainConfig(epochs=1, batch_size=batch)))
        what = "60,000-image epoch" if scale_to == 60000 else "64-item demo catalog epoch"
        print(f"{name:<44} {n:>6} {wall:>8.2f} {cpu:>8.2f} {1000 * cpu / n:>10.2f}  "
              f"{cpu / n * scale_to:,.1f} CPU s per {what}")
        models[name] = (model, size, channels)

    print(f"\n{'Grad-CAM latency per image':<44} {'method':>10} {'wall ms':>8} {'CPU ms':>8}")
    for name, layers_of in (("VGG 64x64 colour (catalog)", target_layers),
                            ("EfficientNet-Lite0 96x96 fine-tune", eff_layers),
                            ("EfficientNet-Lite0 224x224 fine-tune", eff_layers)):
        model, size, channels = models[name]
        x = to_tensor(rng.integers(0, 256, size=(args.cam_images, size, size, channels), dtype=np.uint8), channels)
        for method in ("gradcam", "gradcam++", "eigencam"):
            compute_heatmaps(model, layers_of(model), x[:1], method=method)  # warm-up
            walls, cpus = [], []
            for i in range(args.cam_images):
                wall, cpu = _timed(lambda: compute_heatmaps(model, layers_of(model), x[i:i + 1], method=method))
                walls.append(wall)
                cpus.append(cpu)
            print(f"{name:<44} {method:>10} {1000 * np.median(walls):>8.1f} {1000 * np.median(cpus):>8.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
