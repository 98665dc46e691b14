"""The synthetic-set benchmark at toy size: both protocols, both normalisations, one table."""
from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import torch

from bench.bench_synthetic_set import main

TOY = ["--volunteers", "4", "--videos", "8", "--per-volunteer", "2", "--seconds", "0.6", "--test-fraction", "0.25",
       "--variants", "lbe", "--volunteer-norms", "none,baseline", "--epochs", "1", "--hidden", "8", "--batch-size", "4"]


def test_toy_run_reports_both_protocols_side_by_side(tmp_path: Path, capsys) -> None:
    torch.set_num_threads(1)
    out = tmp_path / "bench"
    assert main([str(out), *TOY]) == 0
    text = capsys.readouterr().out
    assert text.startswith("SYNTHETIC DATA")
    for protocol in ("leave-faces-out", "seen-faces"):
        for norm in ("none", "baseline"):
            row = re.search(rf"^{protocol}\s+{norm}\s+([\d.]+)(?: \[1/1 one class\])?\s+-\s+-\s+([\d.]+|nan)\s+([\d.]+)"
                            r"\s+(\d+) videos",
                            text, re.M)
            assert row, f"no {protocol}/{norm} row in:\n{text}"
            assert 0 <= float(row.group(1)) <= 1 and 0 < float(row.group(3)) <= 1
        config = json.loads((out / protocol / "runs" / "baseline" / "lbe-s0" / "model" / "config.json").read_text())
        assert config["train"]["volunteer_norm"] == "baseline" and config["split_id"] == f"synthetic-{protocol}"
    assert re.search(r"^gap seen-unseen\s+baseline\s+-?[\d.]+", text, re.M)
    results = json.loads((out / "results.json").read_text())
    for protocol, info in results["protocols"].items():
        assert set(info["norms"]) == {"none", "baseline"}
        assert info["test_volunteers"] == 1 and info["train_volunteers"] == 3
        with open(out / protocol / "manifest.csv", newline="", encoding="utf-8") as handle:
            rows = list(csv.DictReader(handle))
        with open(out / protocol / "train_manifest.csv", newline="", encoding="utf-8") as handle:
            folds = {r["video_id"]: r["fold"] for r in csv.DictReader(handle)}
        assert folds == {r["video_id"]: r["fold"] for r in rows}
    # the held-out videos are identical under both protocols: made once, linked into the second folder
    held = [r for r in rows if r["fold"] == "test"]
    assert held
    for r in held:
        first, second = out / "leave-faces-out" / r["path"], out / "seen-faces" / r["path"]
        assert first.read_bytes() == second.read_bytes()
        assert (out / "seen-faces" / "features" / f"{r['video_id']}.npz").is_file()
    timings = json.loads((out / "timings.json").read_text())
    assert timings["seen-faces"]["render"]["linked"] >= len(held)
    # leave-one-identity-out over the leave-faces-out render: every video predicted once
    cv = json.loads((out / "identity_cv.json").read_text())
    with open(out / "leave-faces-out" / "manifest.csv", newline="", encoding="utf-8") as handle:
        unseen_rows = list(csv.DictReader(handle))
    assert cv["videos"] == len(unseen_rows) and cv["identities"] == len({r["face_id"] for r in unseen_rows})
    assert set(cv["norms"]) == {"none", "baseline"} and 0 <= cv["norms"]["baseline"]["lbe-s0"] <= 1
    assert re.search(r"^  volunteer norm baseline\s+logistic_flow_stats \S+  lbe-s0 [\d.]+$", text, re.M)
    # a second run renders and extracts nothing
    assert main([str(out), *TOY, "--stages", "render,extract"]) == 0
    timings = json.loads((out / "timings.json").read_text())
    assert all(timings[p][s]["videos"] == 0 for p in ("leave-faces-out", "seen-faces") for s in ("render", "extract"))
    # --preset cpu trains the C3D with the CPU preset's options, and a flag given keeps its value
    preset = [str(out), *TOY, "--stages", "train", "--protocols", "leave-faces-out", "--variants", "pbe",
              "--volunteer-norms", "none", "--preset", "cpu", "--clip-norm", "temporal"]
    assert main(preset) == 0
    run = out / "leave-faces-out" / "runs" / "none" / "pbe-s0"
    config = json.loads((run / "model" / "config.json").read_text())
    c3d = config["architecture"]["c3d"]
    assert (c3d["norm"], c3d["dropout"], c3d["width"]) == ("batch", 0.1, 1 / 16)
    assert config["architecture"]["clip_norm"] == "temporal" and config["train"]["warmup_steps_pbe"] == 30
    # the same call again reads the saved run back instead of training it again
    first = json.loads((out / "results.json").read_text())["protocols"]["leave-faces-out"]["norms"]["none"]
    written = (run / "model" / "model.safetensors").stat().st_mtime_ns
    assert main(preset) == 0
    again = json.loads((out / "results.json").read_text())["protocols"]["leave-faces-out"]["norms"]["none"]
    assert (run / "model" / "model.safetensors").stat().st_mtime_ns == written
    assert again["variants"]["pbe"][0]["heads"] == first["variants"]["pbe"][0]["heads"]


def test_extra_training_volunteers_leave_the_held_out_videos_unchanged(tmp_path: Path) -> None:
    torch.set_num_threads(1)
    out = tmp_path / "bench"
    toy = [str(out), *TOY, "--protocols", "leave-faces-out", "--volunteer-norms", "none", "--stages",
           "render,extract,train"]
    assert main(toy) == 0
    assert main([*toy, "--extra-volunteers", "3", "--extra-per-volunteer", "1"]) == 0
    base = out / "leave-faces-out"
    with open(base / "manifest.csv", newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    with open(base / "train_manifest.csv", newline="", encoding="utf-8") as handle:
        merged = list(csv.DictReader(handle))
    extra = [r for r in merged if r["video_id"].startswith("x-")]
    # three more training volunteers, one video each, wearing only the base training volunteers' faces
    assert len(extra) == 3 and {r["fold"] for r in extra} == {"train"}
    assert len({r["volunteer_id"] for r in extra}) == 3
    assert [r for r in merged if not r["video_id"].startswith("x-")] == [
        {"video_id": r["video_id"], "volunteer_id": r["volunteer_id"], "fold": r["fold"], "label": r["class"],
         "features_npz": f"features/{r['video_id']}.npz"} for r in rows]
    for r in extra:
        assert (base / r["features_npz"]).is_file()
    with open(base / "extra-3x1" / "manifest.csv", newline="", encoding="utf-8") as handle:
        extra_faces = {r["face_id"] for r in csv.DictReader(handle)}
    assert extra_faces <= {r["face_id"] for r in rows if r["fold"] == "train"}
    results = json.loads((out / "results.json").read_text())["protocols"]["leave-faces-out"]
    assert results["train_volunteers"] == 6 and results["test_volunteers"] == 1
    assert results["test_videos"] == sum(r["fold"] == "test" for r in rows)
    # the runs with the extra volunteers sit beside the base runs, which stay as they were
    assert (base / "runs-extra-3x1" / "none" / "lbe-s0" / "model" / "config.json").is_file()
    assert (base / "runs" / "none" / "lbe-s0" / "model" / "config.json").is_file()
