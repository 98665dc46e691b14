"""Run discovery reads checkpoint folders written by models/checkpoint.py, torch-free."""
from __future__ import annotations

import json
import os

import torch

from core.store.runs import describe_run, discover_runs
from models.checkpoint import save_checkpoint


def test_discovers_runs_with_their_checkpoints_and_metrics(tmp_path) -> None:
    runs = tmp_path / "runs"
    old = runs / "plm-ipe-1"
    save_checkpoint(old / "pbe", {"w": torch.zeros(2)}, {"metrics": {"accuracy": 0.5}}, kind="pbe")
    save_checkpoint(old / "lbe", {"w": torch.ones(2)}, {}, kind="lbe")
    (old / "metrics.json").write_text(json.dumps({"accuracy": 0.61}))
    new = runs / "pref-anna"
    save_checkpoint(new, {"w": torch.ones(1)}, {"metrics": {"accuracy": 0.8}}, kind="preference-cnn")
    (runs / "empty").mkdir()
    for age, folder in enumerate((runs / "empty", new, old)):  # explicit times: "empty" newest, "plm-ipe-1" oldest
        os.utime(folder, (1_700_000_000 - age * 60, 1_700_000_000 - age * 60))

    found = discover_runs(runs)
    by_id = {run.run_id: run for run in found}
    assert set(by_id) == {"plm-ipe-1", "pref-anna", "empty"}
    assert by_id["plm-ipe-1"].kinds == ("lbe", "pbe")
    assert by_id["plm-ipe-1"].metrics == {"accuracy": 0.61}
    assert by_id["plm-ipe-1"].checkpoint("pb").path.name == "pbe"
    assert by_id["pref-anna"].metrics == {"accuracy": 0.8}  # from the single checkpoint's config
    assert by_id["empty"].problem and "no checkpoint" in by_id["empty"].problem
    assert [run.run_id for run in found] == ["empty", "pref-anna", "plm-ipe-1"]  # newest first


def test_broken_json_and_missing_folders_do_not_raise(tmp_path) -> None:
    assert discover_runs(tmp_path / "absent") == []
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "config.json").write_text("{not json")
    info = describe_run(bad)
    assert info.checkpoints == () and info.problem
    assert describe_run(tmp_path / "nope").problem.endswith("is not a folder")


def test_run_lists_show_the_headline_figures_however_the_run_wrote_them(tmp_path) -> None:
    trained = tmp_path / "plm-ipe-a"
    trained.mkdir()
    (trained / "metrics.json").write_text(json.dumps({"variant": "plm-ipe", "primary_head": "fused", "metrics": {
        "pbe": {"accuracy": 0.4, "macro_f1": 0.3}, "lbe": {"accuracy": 0.7, "macro_f1": 0.6},
        "fused": {"accuracy": 0.8, "macro_f1": 0.75}}}))
    compared = tmp_path / "compare-b"
    compared.mkdir()
    (compared / "metrics.json").write_text(json.dumps({"summary": [
        {"method": "PBE", "accuracy_mean": 0.35, "macro_f1_mean": 0.2},
        {"method": "PLM-IPE", "accuracy_mean": 0.71, "macro_f1_mean": 0.69}]}))
    assert describe_run(trained).metrics == {"accuracy": 0.8, "macro_f1": 0.75}
    assert describe_run(compared).metrics == {"accuracy": 0.71, "macro_f1": 0.69}
