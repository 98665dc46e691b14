"""The training benchmark runs at toy size and prints every figure the issue asks for."""
from __future__ import annotations

import json
import re

import pytest
import torch

from bench.bench_training import PAPER_EPOCHS, main

TOY = ["--device", "cpu", "--videos", "10", "--volunteers", "5", "--clips-per-video", "2", "--flow-steps", "20",
       "--distinct", "6", "--epochs", "2", "--batch", "4", "--width", "0.0625", "--fc-dim", "16", "--c3d-steps", "1",
       "--extract-sample", "1", "--extract-seconds", "1", "--extract-workers", "2"]


def _number(pattern: str, text: str) -> float:
    found = re.search(pattern, text)
    assert found, f"{pattern!r} not in the output:\n{text}"
    return float(found.group(1))


def test_bench_training_toy_run_prints_every_field(tmp_path, capsys) -> None:
    torch.set_num_threads(1)
    assert main([*TOY, "--json", str(tmp_path / "b.json")]) == 0
    text = capsys.readouterr().out
    figures = json.loads((tmp_path / "b.json").read_text())
    assert text.startswith("SYNTHETIC DATA benchmark") and figures["synthetic"] is True
    assert "NOTE: reduced from the paper's sizes: videos 10, C3D width 0.0625, fc 16, batch 4" in text
    peak = _number(r"matmul peak \(float32, measured\): ([\d.]+) TFLOP/s", text)
    assert peak > 0 and figures["peak"]["dtype"] == "float32"
    fp32 = _number(r"C3D train fp32 eager: ([\d.]+) clips/s \(([\d.]+)% of the measured float32 peak\)", text)
    kit = _number(r"C3D train bf16 autocast \+ channels-last-3D: ([\d.]+) clips/s", text)
    assert fp32 > 0 and kit > 0
    c3d = figures["c3d"]
    assert c3d["ratio"] == pytest.approx(c3d["kit_clips_s"] / c3d["fp32_eager_clips_s"])
    assert c3d["kit_pct_peak"] == pytest.approx(100 * c3d["kit_clips_s"] * c3d["train_gflop_per_clip"] / (1000 * peak), rel=1e-2)
    assert _number(r"C3D kit path / fp32 eager: ([\d.]+)x", text) == pytest.approx(c3d["ratio"], abs=0.01)
    assert "clip sampling per epoch: per epoch: every training video once" in text
    train = figures["training"]
    assert train["train_videos"] + train["test_videos"] == 10 and train["lazy_data"] is True
    assert len(train["epoch_seconds"]) == 2 and train["wall_500_epochs_how"] == "EXTRAPOLATED"
    expected = (train["first_epoch_seconds"] + train["per_epoch_seconds"] * (PAPER_EPOCHS - 1)
                + train["evaluations_in_500"] * train["eval_seconds"])
    assert train["wall_500_epochs_seconds"] == pytest.approx(expected) and train["evaluations_in_500"] == 50
    assert _number(r"per-epoch time \(measured\): ([\d.]+) s", text) == pytest.approx(train["per_epoch_seconds"], abs=1e-3)
    assert 0 <= _number(r"data wait: ([\d.]+)% of the training-loop time", text) <= 100
    assert re.search(r"PLM-IPE training wall time, 500 epochs, batch 4, 10 videos: [\d.]+ s = [\d.]+ min "
                     r"\(EXTRAPOLATED from 2 measured epochs \+ 50 evaluations\)", text)
    ex = figures["extraction"]
    assert ex["sample_videos"] == 1 and ex["frames"] == 30 and ex["per_video_wall_seconds"] > 0
    assert ex["set_seconds_extrapolated"] == pytest.approx(ex["per_video_wall_seconds"] * 10 / 2)
    assert re.search(r"feature extraction: [\d.]+ s per 1 s video \(measured on 1 rendered SYNTHETIC videos, 30 frames, "
                     r"1 process\); set of 10 videos with 2 processes: [\d.]+ s = [\d.]+ min \(EXTRAPOLATED\)", text)
