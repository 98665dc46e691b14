"""The resume check meant for a GPU runs end to end (here on the CPU, where it must find identical weights)."""
from __future__ import annotations

import json

import torch

from bench.bench_cuda_resume import main


def test_bench_cuda_resume_runs_and_finds_identical_weights_on_cpu(tmp_path, capsys) -> None:
    torch.set_num_threads(1)
    try:
        assert main(["--device", "cpu", "--clip-size", "16", "--width", "0.0625", "--fc-dim", "16",
                     "--json", str(tmp_path / "r.json")]) == 0
    finally:
        torch.use_deterministic_algorithms(False)  # the script sets it for its whole process
    figures = json.loads((tmp_path / "r.json").read_text())
    assert figures["device"] == "cpu" and figures["stopped_at_epoch"] == 2
    assert figures["epochs_resumed"] == [1, 2, 3, 4]
    assert figures["identical"] is True and figures["max_weight_difference"] == 0.0
    assert figures["run_to_run_max_weight_difference"] == 0.0
    assert figures["metrics_whole"] == figures["metrics_resumed"]
    assert "largest weight difference resumed vs uninterrupted: 0 (identical: True)" in capsys.readouterr().out
