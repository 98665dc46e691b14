"""A head that gives every video one class is flagged by ``evaluate`` and ``compare``; evaluating needs no train fold."""
from __future__ import annotations

import csv

import numpy as np
import torch

from app.cli import main
from models.reaction.registry import model_config
from models.training.data import write_manifest
from models.training.evaluate import classification_metrics, degenerate_class, degenerate_warning
from models.training.report import _write_markdown, degenerate_note, summarise
from models.training.train import TrainConfig, train_model
from models.training.run_folder import save_run
from tests.models.training.test_train_compare import _write_feature_files

torch.set_num_threads(1)
TINY = dict(width=1 / 16, fc_dim=16, hidden=8, clip_size=16)


def test_degenerate_class_needs_one_predicted_class_over_several_videos() -> None:
    assert degenerate_class(classification_metrics(np.array([0, 1, 2, 2]), np.array([0, 0, 0, 0]))["confusion"]) == "negative"
    m = classification_metrics(np.array([0, 1, 2, 2]), np.array([2, 2, 2, 2]))
    assert m["degenerate"] == "positive" and m["accuracy"] == 0.5  # its accuracy is that class's share
    assert "predicts 'positive' for all 4 videos" in degenerate_warning("pbe", m)
    ok = classification_metrics(np.array([0, 1, 2, 2]), np.array([0, 0, 0, 2]))
    assert ok["degenerate"] is None and degenerate_warning("pbe", ok) is None
    assert classification_metrics(np.array([1]), np.array([1]))["degenerate"] is None  # one video says nothing


def test_compare_summary_markdown_and_csv_flag_degenerate_rows(tmp_path) -> None:
    y = np.array([0, 0, 1, 2, 2, 2])
    results = []
    for seed, pred in ((0, [0] * 6), (1, [0, 1, 1, 2, 2, 0])):
        results.append({"variant": "pbe", "seed": seed, "head": "pbe", "seconds": 1.0, **classification_metrics(y, np.array(pred))})
    for seed in (0, 1):
        results.append({"variant": "lbe", "seed": seed, "head": "lbe", "seconds": 1.0,
                        **classification_metrics(y, np.array([0, 1, 1, 2, 2, 2]))})
    summary = summarise(results)
    pbe, lbe = summary
    assert (pbe["degenerate_seeds"], pbe["degenerate_classes"]) == (1, ["negative"])
    assert degenerate_note(pbe) == "degenerate: predicts only negative (1/2 seeds)" and degenerate_note(lbe) == ""
    meta = {"synthetic_data": True, "split_id": "toy", "n_train": 6, "n_test": 6, "train_classes": [2, 1, 3],
            "test_classes": [2, 1, 3], "seeds": [0, 1], "data_fingerprint": "x", "train_config": {}, "model_kw": {}}
    _write_markdown(tmp_path, summary, meta, [])
    report = (tmp_path / "report.md").read_text()
    assert "| PBE **[degenerate: predicts only negative (1/2 seeds)]** |" in report
    assert "| LBE |" in report and "**Warning:** PBE degenerate" in report
    from models.training.report import _write_csvs

    _write_csvs(tmp_path, results, summary)
    with open(tmp_path / "summary.csv") as handle:
        rows = {r["method"]: r["degenerate"] for r in csv.DictReader(handle)}
    assert rows == {"PBE": "degenerate: predicts only negative (1/2 seeds)", "LBE": ""}


def _test_only_manifest(tmp_path):
    manifest, _ = _write_feature_files(tmp_path)
    with open(manifest, newline="") as handle:
        rows = [r for r in csv.DictReader(handle) if r["fold"] == "test"]
    return write_manifest(tmp_path / "test_only.csv", rows), manifest


def test_evaluate_needs_no_train_fold_and_flags_a_one_class_head(tmp_path, home, capsys) -> None:
    test_only, manifest = _test_only_manifest(tmp_path)
    assert main(["train", "--manifest", str(manifest), "--variant", "pbe", "--run-id", "r", "--width", "0.0625",
                 "--fc-dim", "16", "--epochs", "1", "--batch-size", "4"]) == 0
    capsys.readouterr()
    assert main(["evaluate", str(home.runs / "r"), "--manifest", str(test_only)]) == 0
    out = capsys.readouterr().out
    assert "3 videos" in out and "pbe: accuracy" in out

    # a real trained PBE whose head was then pinned to "neutral": every video gets that class
    from models.training.synthetic import make_synthetic_set

    data = make_synthetic_set(n_volunteers=2, videos_per_volunteer=3, clip_size=16, clips_per_video=1, flow_steps=8)
    mc = model_config("pbe", **TINY)
    result = train_model(mc, data, None, TrainConfig(epochs=1, batch_size=4))
    with torch.no_grad():
        result.model.pbe.head.weight.zero_()
        result.model.pbe.head.bias.copy_(torch.tensor([0.0, 5.0, 0.0]))
    save_run(home.runs / "one-class", result, mc, TrainConfig(epochs=1), split_id="toy", data_fingerprint=None,
             synthetic=True)
    assert main(["evaluate", str(home.runs / "one-class"), "--manifest", str(test_only)]) == 0
    out = capsys.readouterr().out
    assert "[degenerate: predicts only neutral]" in out
    assert "WARNING: the pbe head predicts 'neutral' for all 3 videos" in out


def test_evaluate_still_names_a_missing_test_fold(tmp_path, home, capsys) -> None:
    test_only, manifest = _test_only_manifest(tmp_path)
    assert main(["train", "--manifest", str(manifest), "--variant", "lbe", "--run-id", "r", "--hidden", "8",
                 "--epochs", "1", "--batch-size", "4"]) == 0
    assert main(["evaluate", str(home.runs / "r"), "--manifest", str(test_only), "--test-fold", "holdout"]) != 0
    assert "no videos in fold 'holdout'" in capsys.readouterr().err
