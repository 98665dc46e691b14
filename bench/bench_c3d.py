"""C3D training throughput: the kit's training path vs fp32 eager, in one run.

(``python -m bench.bench_training`` is the issue's whole benchmark: it reuses ``measure`` below
against a *measured* matmul peak and adds the PLM-IPE training, data-wait and extraction figures.)

    nice python -m bench.bench_c3d                       # CPU: tiny batch, few steps (figures are CPU figures)
    python -m bench.bench_c3d --device cuda --batch 32   # GPU: bf16 autocast + channels-last-3D + torch.compile

One step = forward + backward + Adam on a batch of random (3, 16, 112, 112) clips with the
PBE (C3D + 3-way head), the same step ``models/training/train.py`` runs. FLOPs are counted from the
layer shapes (forward 77.1 GFLOP per paper-size clip; a training step counted as 3x forward)
and reported as a percentage of ``--peak-tflops`` (default 789, the bf16 matmul peak measured
on one H100; pass your device's own figure).
"""
from __future__ import annotations

import argparse
import contextlib
import time

import torch

from models.reaction.c3d import C3D, C3DConfig, CONV_NAMES, POOL_AFTER


def forward_flops(config: C3DConfig) -> float:
    """Multiply-adds x 2 of one clip's forward pass."""
    t, s, c_in, total = config.clip_len, config.size, 3, 0.0
    for name, c_out in zip(CONV_NAMES, config.channels()):
        total += 2.0 * c_in * c_out * 27 * t * s * s
        c_in = c_out
        if name in POOL_AFTER:
            kt = POOL_AFTER[name][0]
            t, s = t // kt, ((s + 2) // 2 if name == "conv5b" else s // 2)
    f = config.fc_dim
    total += 2.0 * (config.flat_dim() * f + f * f + f * config.num_classes)
    return total


def measure(config: C3DConfig, *, device: torch.device, batch: int, steps: int, warmup: int, optimized: bool,
            compile_model: bool, tf32: bool = False) -> float:
    """Clips per second of training steps. The plain (not ``optimized``) path is true fp32 unless
    ``tf32``: PyTorch lets cuDNN convolutions use TF32 by default, which is not an fp32 figure."""
    with _tf32(tf32 or optimized):
        return _measure(config, device=device, batch=batch, steps=steps, warmup=warmup, optimized=optimized,
                        compile_model=compile_model)


@contextlib.contextmanager
def _tf32(allowed: bool):
    saved = torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32
    torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = allowed
    try:
        yield
    finally:
        torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = saved


def _measure(config: C3DConfig, *, device: torch.device, batch: int, steps: int, warmup: int, optimized: bool,
             compile_model: bool) -> float:
    torch.manual_seed(0)
    model = C3D(config).to(device)
    x = torch.randn(batch, 3, config.clip_len, config.size, config.size, device=device)
    y = torch.randint(0, config.num_classes, (batch,), device=device)
    if optimized:
        model = model.to(memory_format=torch.channels_last_3d)
        x = x.contiguous(memory_format=torch.channels_last_3d)
        if compile_model:
            model = torch.compile(model)
    opt = torch.optim.Adam(model.parameters(), lr=1e-4)

    def step() -> None:
        ctx = torch.autocast(device.type, dtype=torch.bfloat16) if optimized else contextlib.nullcontext()
        with ctx:
            loss = torch.nn.functional.cross_entropy(model(x).float(), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    for _ in range(warmup):
        step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(steps):
        step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return batch * steps / (time.perf_counter() - start)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--batch", type=int, default=None, help="default 32 on CUDA, 2 on CPU")
    parser.add_argument("--steps", type=int, default=None, help="timed steps (default 20 on CUDA, 2 on CPU)")
    parser.add_argument("--warmup", type=int, default=None, help="untimed steps (default 5 on CUDA, 1 on CPU)")
    parser.add_argument("--width", type=float, default=None, help="channel multiplier (default 1 on CUDA, 0.25 on CPU)")
    parser.add_argument("--fc-dim", type=int, default=None, help="fc6/fc7 units (default 4096 on CUDA, 1024 on CPU)")
    parser.add_argument("--peak-tflops", type=float, default=789.0, help="bf16 peak of the device, TFLOP/s")
    parser.add_argument("--no-compile", action="store_true", help="skip torch.compile on the optimized path")
    parser.add_argument("--threads", type=int, default=None, help="CPU threads (torch.set_num_threads)")
    args = parser.parse_args(argv)
    device = torch.device(args.device)
    gpu = device.type == "cuda"
    if args.threads:
        torch.set_num_threads(args.threads)
    batch = args.batch or (32 if gpu else 2)
    steps = args.steps or (20 if gpu else 2)
    warmup = args.warmup if args.warmup is not None else (5 if gpu else 1)
    config = C3DConfig(width=args.width or (1.0 if gpu else 0.25), fc_dim=args.fc_dim or (4096 if gpu else 1024))
    if gpu:
        torch.backends.cudnn.benchmark = True
    compile_model = gpu and not args.no_compile
    train_flops = 3.0 * forward_flops(config)
    name = torch.cuda.get_device_name(device) if gpu else f"CPU ({torch.get_num_threads()} threads)"
    print(f"device {name}; C3D width {config.width}, fc {config.fc_dim}, batch {batch}, {steps} timed steps; "
          f"forward {forward_flops(config) / 1e9:.1f} GFLOP/clip (paper size {forward_flops(C3DConfig()) / 1e9:.1f})")
    if not gpu:
        print("NOTE: no GPU here: CPU figures at a reduced width; the % of peak refers to --peak-tflops and means little on CPU.")
    results = {}
    for label, optimized in (("fp32 eager", False),
                             ("bf16 autocast + channels-last-3D" + (" + compile" if compile_model else ""), True)):
        rate = measure(config, device=device, batch=batch, steps=steps, warmup=warmup, optimized=optimized,
                       compile_model=compile_model)
        results[label] = rate
        pct = 100.0 * rate * train_flops / (args.peak_tflops * 1e12)
        print(f"  {label:45s} {rate:10.2f} clips/s  {rate * train_flops / 1e9:9.1f} GFLOP/s  "
              f"{pct:7.3f}% of {args.peak_tflops:g} TFLOP/s")
    fp32, opt = list(results.values())
    print(f"  speed-up of the training path over fp32 eager: {opt / fp32:.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
