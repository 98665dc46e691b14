"""Tiny but really trained models for the demo tests (CPU, a few seconds each).

The reaction model learns smile vs frown vs neutral from features of generated reaction
clips (real face, real feature pipeline); the preference model learns "warm colours are
preferred" from the generated demo catalog. They are small (C3D width 1/16, fc 64) so the
tests stay fast; the point is the plumbing from checkpoint to prediction and heat map.
"""
from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
from PIL import Image

from core.reaction.descriptor import extract_features
from data.demo_catalog import generate_demo_catalog
from data.reaction_video import ReactionSpec, make_reaction_video

LABEL_OF = {"frown": 0, "neutral": 1, "smile": 2}


def reaction_videos(folder: Path, per_class: int = 3, seconds: float = 1.1) -> list[tuple[Path, int]]:
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for expression, label in LABEL_OF.items():
        for k in range(per_class):
            spec = ReactionSpec(expression, duration_s=seconds, seed=10 * label + k, onset_s=0.1, ramp_s=0.4)
            out.append((make_reaction_video(folder / f"{expression}{k}.mp4", spec), label))
    return out


def tiny_reaction_run(run_dir: Path, videos: list[tuple[Path, int]], epochs: int = 3, variant: str = "plm-ipe",
                      seed: int = 0) -> Path:
    import torch

    from models.reaction.c3d import C3DConfig
    from models.training.data import FeatureSet
    from models.reaction.lbe import LBEConfig
    from models.reaction.plm_ipe import ModelConfig
    from models.training.train import TrainConfig, train_model
    from models.training.run_folder import save_run

    torch.set_num_threads(1)
    records = [(p.stem, f"vol{i % 3}", label, extract_features(p)) for i, (p, label) in enumerate(videos)]
    data = FeatureSet.from_features(records)
    model_config = ModelConfig(variant=variant, c3d=C3DConfig(width=1 / 16, fc_dim=64), lbe=LBEConfig(hidden=32))
    train_config = TrainConfig(epochs=epochs, batch_size=4, lr_pbe=1e-3, seed=seed)
    result = train_model(model_config, data, data, train_config)
    return save_run(run_dir, result, model_config, train_config, split_id=None, data_fingerprint=data.fingerprint(),
                    synthetic=True, features=data.features)


def tiny_preference_run(run_dir: Path, catalog: Path, epochs: int = 6, size: int = 64) -> Path:
    import torch

    from models.preference.cnn import PreferenceCNN, PreferenceCNNConfig
    from models.preference.predict import save_preference_model
    from models.preference.train import PreferenceTrainConfig, fit

    torch.set_num_threads(1)
    if not (catalog / "items.csv").is_file():
        generate_demo_catalog(catalog, seed=0)
    rows = list(csv.DictReader(open(catalog / "items.csv")))
    images = np.stack([np.asarray(Image.open(catalog / r["path"]).convert("RGB").resize((size, size))) for r in rows])
    labels = np.array([1 if r["color_family"] == "warm" else 0 for r in rows])
    model = PreferenceCNN(PreferenceCNNConfig(image_size=size, in_channels=3, widths=(8, 16, 32), hidden=(32, 16)))
    fit(model, images, labels, PreferenceTrainConfig(epochs=epochs, batch_size=16, lr=3e-3))
    return save_preference_model(run_dir / "model", model, {"labeler": "simulated-warm", "metrics": {}})
