"""Training that survives, on the device ``--device auto`` picks (CUDA when there is one).

    python -m bench.bench_cuda_resume [--device auto] [--json PATH]

The CPU test suite proves a stopped run resumes to exactly the weights of an uninterrupted one
(``tests/models/training/test_resume.py``); CI has no GPU, so this script checks the same on the
device: a small PLM-IPE (SYNTHETIC features, dropout on, both optimisers and a warm-up) trained 4
epochs in one go (twice), and 2 epochs then resumed to 4 from the saved state, with deterministic
kernels where PyTorch has them and fp32 (no autocast, no TF32). Prints the largest weight difference
between the resumed and the uninterrupted run beside that between the two uninterrupted runs (the
device's own run-to-run noise: 0 where every kernel is deterministic), and the held-out metrics.
"""
from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

import torch


def _max_diff(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> float:
    return max(float((a[k].float() - b[k].float()).abs().max()) for k in a) if a else 0.0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="auto")
    parser.add_argument("--json", help="write the figures to this JSON file")
    parser.add_argument("--clip-size", type=int, default=112, help="clip side in pixels (the tests use 16)")
    parser.add_argument("--width", type=float, default=0.25, help="C3D channel multiplier")
    parser.add_argument("--fc-dim", type=int, default=256)
    args = parser.parse_args(argv)
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")  # deterministic cuBLAS
    # max_pool3d's CUDA backward has no deterministic kernel (atomic adds): warn, and report the difference
    torch.use_deterministic_algorithms(True, warn_only=True)
    torch.backends.cudnn.benchmark = False
    torch.backends.cudnn.deterministic = True
    torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = False

    from models.reaction.registry import model_config
    from models.training.resume import load_state
    from models.training.synthetic import make_synthetic_split
    from models.training.train import TrainConfig, resolve_device, train_model

    device = resolve_device(args.device)
    train, test = make_synthetic_split(test_volunteers=2, n_volunteers=8, videos_per_volunteer=3,
                                       clip_size=args.clip_size, clips_per_video=2, flow_steps=29)
    mc = model_config("plm-ipe", width=args.width, fc_dim=args.fc_dim, hidden=64, clip_size=args.clip_size)

    def config(epochs: int) -> TrainConfig:
        return TrainConfig(epochs=epochs, batch_size=8, lr_pbe=1e-3, lr_lbe=2e-3, eval_every=1, checkpoint_every=1,
                           warmup_steps_pbe=5, num_workers=0, device=device, amp="off")

    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        whole = train_model(mc, train, test, config(4), run_dir=Path(tmp) / "whole")
        again = train_model(mc, train, test, config(4), run_dir=Path(tmp) / "again")
        train_model(mc, train, test, config(2), run_dir=Path(tmp) / "stopped")
        stopped_at = load_state(Path(tmp) / "stopped").epoch
        resumed = train_model(mc, train, test, config(4), run_dir=Path(tmp) / "stopped")
        seconds = time.perf_counter() - start
    a = {k: v.detach().cpu() for k, v in whole.model.state_dict().items()}
    b = {k: v.detach().cpu() for k, v in resumed.model.state_dict().items()}
    c = {k: v.detach().cpu() for k, v in again.model.state_dict().items()}
    figures = {
        "device": device, "torch": torch.__version__,
        "gpu": torch.cuda.get_device_name(0) if device.startswith("cuda") else None,
        "stopped_at_epoch": stopped_at, "epochs_resumed": [row["epoch"] for row in resumed.history],
        "max_weight_difference": _max_diff(a, b), "identical": all(torch.equal(a[k], b[k]) for k in a),
        "run_to_run_max_weight_difference": _max_diff(a, c),
        "metrics_whole": whole.metrics, "metrics_resumed": resumed.metrics,
        "best_epoch_whole": whole.best.get("epoch"), "best_epoch_resumed": resumed.best.get("epoch"),
        "seconds": seconds,
    }
    print(f"device {device} ({figures['gpu'] or 'CPU'}), torch {torch.__version__}, {seconds:.1f} s")
    print(f"stopped after epoch {stopped_at}, resumed through epochs {figures['epochs_resumed']}")
    print(f"largest weight difference resumed vs uninterrupted: {figures['max_weight_difference']:.3g} "
          f"(identical: {figures['identical']}); two uninterrupted runs differ by "
          f"{figures['run_to_run_max_weight_difference']:.3g}")
    print(f"held-out fused accuracy: uninterrupted {whole.metrics.get('fused', {}).get('accuracy')}, "
          f"resumed {resumed.metrics.get('fused', {}).get('accuracy')}; best epoch {figures['best_epoch_whole']} / "
          f"{figures['best_epoch_resumed']}")
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
