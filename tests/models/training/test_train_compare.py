"""Metrics, the compare report end to end at toy size, the CLI over a manifest of feature files."""
from __future__ import annotations

import csv
import json

import numpy as np
import pytest
import torch

from app.cli import main
from core.reaction.descriptor import ReactionFeatures
from models.training.data import load_manifest, write_manifest
from models.training.evaluate import classification_metrics
from models.training.report import compare
from models.training.synthetic import make_synthetic_set, make_synthetic_split
from models.training.train import TrainConfig

torch.set_num_threads(1)
TINY = dict(width=1 / 16, fc_dim=16, hidden=8, clip_size=16)


def test_classification_metrics_golden() -> None:
    m = classification_metrics(np.array([0, 0, 1, 1, 2, 2]), np.array([0, 1, 1, 1, 2, 0]))
    assert m["accuracy"] == pytest.approx(4 / 6)
    assert m["confusion"] == [[1, 1, 0], [0, 2, 0], [1, 0, 1]]
    assert m["precision"] == pytest.approx([0.5, 2 / 3, 1.0], abs=1e-6)
    assert m["recall"] == pytest.approx([0.5, 1.0, 0.5], abs=1e-6)
    assert m["f1"] == pytest.approx([0.5, 0.8, 2 / 3], abs=1e-6)
    assert m["macro_f1"] == pytest.approx((0.5 + 0.8 + 2 / 3) / 3, abs=1e-6)


def test_compare_end_to_end_writes_report(tmp_path) -> None:
    train, test = make_synthetic_split(test_volunteers=1, n_volunteers=3, videos_per_volunteer=3, clip_size=16,
                                       clips_per_video=1, flow_steps=8)
    out = compare(train, test, tmp_path / "cmp", variants=("pbe", "lbe", "early-fusion", "late-fusion", "plm-ipe"),
                  seeds=(0, 1), train_config=TrainConfig(epochs=2, batch_size=4, eval_every=1), model_kw=TINY,
                  split_id="toy")
    methods = [row["method"] for row in out["summary"]]
    assert methods == ["PBE", "LBE", "EarlyFusion", "LateFusion", "PBE-w/-Mut", "LBE-w/-Mut", "PLM-IPE"]
    folder = tmp_path / "cmp"
    report = (folder / "report.md").read_text()
    assert "SYNTHETIC DATA" in report and "± " in report and "PLM-IPE" in report
    with open(folder / "summary.csv") as handle:
        assert len(list(csv.DictReader(handle))) == 7
    with open(folder / "results.csv") as handle:
        assert len(list(csv.DictReader(handle))) == 2 * (1 + 1 + 1 + 3 + 3)
    for png in ("confusion.png", "curves.png"):
        assert (folder / png).read_bytes()[:4] == b"\x89PNG"
    config = json.loads((folder / "runs" / "plm-ipe-s1" / "model" / "config.json").read_text())
    for key in ("architecture", "class_map", "score_thresholds", "split_id", "data_fingerprint", "metrics", "code_version"):
        assert key in config, key
    assert config["kind"] == "plm-ipe/plm-ipe" and config["synthetic_data"] is True


def _write_feature_files(tmp_path):
    fs = make_synthetic_set(n_volunteers=3, videos_per_volunteer=3, clip_size=16, clips_per_video=1, flow_steps=8)
    rows = []
    for i, vid in enumerate(fs.video_ids):
        t = len(fs.flow[i]) + 1
        feats = ReactionFeatures(np.zeros((t, 68, 2), np.float32), np.ones(t, bool), fs.flow[i], fs.flow_valid[i],
                                 fs.clips[i], np.arange(t) / 30.0, 30.0, {"synthetic": True})
        path = tmp_path / f"{vid}.npz"
        feats.save(path)
        rows.append({"video_id": vid, "volunteer_id": fs.volunteers[i], "fold": "test" if fs.volunteers[i].endswith("2") else "train",
                     "label": ["negative", "neutral", "positive"][fs.labels[i]], "features_npz": path.name})
    return write_manifest(tmp_path / "manifest.csv", rows), fs


def test_manifest_cli_train_and_evaluate(tmp_path, home, capsys) -> None:
    manifest, fs = _write_feature_files(tmp_path)
    folds = load_manifest(manifest)
    assert len(folds["train"]) == 6 and len(folds["test"]) == 3
    assert np.array_equal(folds["train"].flow[0], fs.flow[0])
    tiny = ["--width", "0.0625", "--fc-dim", "16", "--hidden", "8", "--epochs", "1", "--batch-size", "4"]
    assert main(["train", "--manifest", str(manifest), "--variant", "plm-ipe", "--run-id", "r1", *tiny]) == 0
    run = home.runs / "r1"
    assert (run / "model" / "model.safetensors").is_file() and (run / "metrics.json").is_file()
    assert main(["evaluate", str(run), "--manifest", str(manifest), "--json", str(tmp_path / "m.json")]) == 0
    metrics = json.loads((tmp_path / "m.json").read_text())["metrics"]
    assert set(metrics) == {"pbe", "lbe", "fused"}
    assert "confusion" in capsys.readouterr().out


def test_store_split_and_feature_cache_feed_training(tmp_path, home) -> None:
    from core.reaction.descriptor import FeatureConfig
    from core.reaction.feature_cache import cache_path
    from core.collection.splits import save_split
    from models.training.data import load_from_store
    from tests.store_helpers import CONSENT, commit_view, store_with_catalog

    fs = make_synthetic_set(n_volunteers=3, videos_per_volunteer=3, clip_size=16, clips_per_video=1, flow_steps=8)
    ratings = {0: 10, 1: 50, 2: 90}  # negative / neutral / positive with the default thresholds
    store = store_with_catalog(home, tmp_path)
    assignment, i = {}, 0
    try:
        for v in range(3):
            vol = store.add_volunteer(age_band="25-34", gender="f", extra=None, consent={**CONSENT, "accepted_at": None})
            vid = vol["volunteer_id"]
            assignment[vid] = "test" if v == 2 else "train"
            session = store.start_session(vid)
            for k in range(3):
                view = commit_view(store, session, f"o{k}", k, rating=ratings[int(fs.labels[i])], payload=f"{v}-{k}".encode())
                t = len(fs.flow[i]) + 1
                feats = ReactionFeatures(np.zeros((t, 68, 2), np.float32), np.ones(t, bool), fs.flow[i], fs.flow_valid[i],
                                         fs.clips[i], np.arange(t) / 30.0, 30.0, {})
                path = cache_path(home, view["video_sha256"], FeatureConfig())
                path.parent.mkdir(parents=True, exist_ok=True)
                feats.save(path)
                i += 1
        save_split(store, "s1", assignment, seed=0)
        # the same volunteers split again with other class thresholds: 50 is now positive
        save_split(store, "s2", assignment, seed=0, params={"thresholds": {"negative_max": 20, "positive_min": 45}})
    finally:
        store.close()
    folds, info = load_from_store(home, "s1")
    assert len(folds["train"]) == 6 and len(folds["test"]) == 3 and info["split"] == "s1"
    assert sorted(folds["train"].labels.tolist() + folds["test"].labels.tolist()) == sorted(fs.labels.tolist())
    folds2, info2 = load_from_store(home, "s2")
    assert info2["thresholds"] == {"negative_max": 20, "positive_min": 45}
    labels2 = sorted(folds2["train"].labels.tolist() + folds2["test"].labels.tolist())
    assert labels2 == sorted(2 if y == 1 else y for y in fs.labels.tolist())  # neutral (50) became positive
    tiny = ["--width", "0.0625", "--fc-dim", "16", "--hidden", "8", "--epochs", "1", "--batch-size", "4"]
    assert main(["train", "--split", "s1", "--variant", "lbe", "--run-id", "from-store", *tiny]) == 0
    config = json.loads((home.runs / "from-store" / "model" / "config.json").read_text())
    assert config["split_id"] == "s1"
