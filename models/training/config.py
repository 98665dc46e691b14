"""How a reaction model is trained: the paper's settings by default. Plain data (no torch), so the
command line takes its defaults from here."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class TrainConfig:
    epochs: int = 500
    batch_size: int = 32
    lr_pbe: float = 1e-4
    lr_lbe: float = 5e-3
    betas: tuple[float, float] = (0.9, 0.999)
    seed: int = 0
    device: str = "cpu"
    amp: str = "auto"  # "auto": bf16 autocast on CUDA, none on CPU; "bf16"; "off"
    channels_last: str = "auto"  # "auto": on CUDA only; "on"; "off"
    compile: bool = False
    eval_every: int = 10  # epochs between held-out evaluations, for the curves and the best epoch (0: only at the end)
    num_workers: int = -1  # DataLoader workers; -1: auto (0 on CPU, up to 8 on CUDA)
    prefetch_factor: int = 4  # batches read ahead per worker
    warmup_steps_pbe: int = 0  # PBE learning rate ramps linearly from lr/steps to lr over these steps (0: paper, none)
    volunteer_norm: str = "none"  # "baseline": flow standardised by each volunteer's first seconds (volunteer_norm.py)
    checkpoint_every: int = 10  # epochs between saved training states (resume.py), when a run folder is given; 0: none
