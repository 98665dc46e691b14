"""DDP for real: ``torchrun`` starts 2 CPU processes (gloo) on a tiny synthetic set.

The same file is the per-rank program (``python -m torch.distributed.run ... tests/models/training/test_distributed.py OUT``):
each rank trains through ``models.training.train.train_model`` and dumps its parameters, then runs the
``app train`` command, which must write its run folder once (rank 0).
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[3]
TINY = dict(width=1 / 16, fc_dim=16, hidden=8, clip_size=16, dropout=0.0)  # no dropout: ranks must match 1 process
CLI_TINY = ["--width", "0.0625", "--fc-dim", "16", "--hidden", "8", "--epochs", "1", "--batch-size", "8",
            "--eval-every", "1", "--workers", "0"]


def _data():
    from models.training.synthetic import make_synthetic_split

    # 4 train volunteers x 4 videos = 16 videos: two full global batches of 8 per epoch
    return make_synthetic_split(test_volunteers=1, n_volunteers=5, videos_per_volunteer=4, clip_size=16,
                                clips_per_video=3, flow_steps=10)


def _train_config():
    from models.training.train import TrainConfig

    return TrainConfig(epochs=2, batch_size=8, eval_every=1, num_workers=0, seed=3)


def _worker(out: Path) -> None:
    """One rank (run under torchrun)."""
    from safetensors.torch import save_file

    from app.cli import main
    from models.training.distributed import init_from_env
    from models.reaction.registry import model_config
    from models.training.train import train_model

    torch.set_num_threads(1)
    ctx, device = init_from_env("cpu")
    assert ctx.world_size == 2 and device == "cpu"
    train, test = _data()
    result = train_model(model_config("plm-ipe", **TINY), train, test, _train_config())
    save_file({k: v.contiguous() for k, v in result.model.state_dict().items()}, str(out / f"rank{ctx.rank}.safetensors"))
    (out / f"rank{ctx.rank}.json").write_text(json.dumps({"history": result.history, "metrics": result.metrics,
                                                            "extra": result.extra}))
    code = main(["--home", str(out / "home"), "train", "--synthetic", "--variant", "plm-ipe", "--run-id", "ddp-run",
                 *CLI_TINY])
    (out / f"rank{ctx.rank}.cli").write_text(str(code))


def test_torchrun_two_cpu_processes(tmp_path: Path) -> None:
    from safetensors.torch import load_file

    from models.reaction.registry import build_from_config, model_config
    from models.training.train import train_model

    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}
    proc = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
                           str(Path(__file__).resolve()), str(tmp_path)], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=170)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    # the CLI ran on both ranks, rank 0 alone printed and wrote the run folder
    assert [(tmp_path / f"rank{r}.cli").read_text() for r in (0, 1)] == ["0", "0"]
    assert proc.stdout.count("saved ") == 1 and "2 processes (DDP)" in proc.stdout
    runs = tmp_path / "home" / "runs"
    assert [p.name for p in runs.iterdir()] == ["ddp-run"]
    config = json.loads((runs / "ddp-run" / "model" / "config.json").read_text())
    assert config["data_path"]["world_size"] == 2 and config["synthetic_data"] is True
    assert not any(k.startswith("pbe.module") or ".module." in k for k in load_file(str(runs / "ddp-run" / "model" / "model.safetensors")))
    # both ranks hold the same parameters after training ...
    r0, r1 = (load_file(str(tmp_path / f"rank{r}.safetensors")) for r in (0, 1))
    assert r0.keys() == r1.keys()
    for k in r0:
        assert torch.equal(r0[k], r1[k]), k
    h0, h1 = (json.loads((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1))
    assert h0["metrics"] == h1["metrics"] and h0["extra"]["world_size"] == 2
    assert "data_wait_fraction" in h0["history"][0] and 0.0 <= h0["history"][0]["data_wait_fraction"] <= 1.0
    # ... and they equal one process trained with the same global batch: each rank took half of it
    torch.set_num_threads(1)
    train, test = _data()
    single = train_model(model_config("plm-ipe", **TINY), train, test, _train_config()).model.state_dict()
    for k, v in single.items():
        assert torch.allclose(v, r0[k], rtol=1e-4, atol=1e-5), f"{k}: DDP differs from one process"
    torch.manual_seed(3)
    fresh = build_from_config(model_config("plm-ipe", **TINY)).state_dict()
    moved = sum(int(not torch.equal(fresh[k], r0[k])) for k in r0)
    assert moved == len(r0), "some parameters were not trained"


if __name__ == "__main__":
    _worker(Path(sys.argv[1]))
