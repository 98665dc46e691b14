"""Integrated-gradients region attribution of the LBE, checked against a known answer.

A small LBE is trained (seconds) on SYNTHETIC descriptor sequences where a "frown" moves the
brow regions and a "smile" the regions beside the mouth (``models/training/synthetic_regions.py``);
its attributions must put those regions first. The same check must fail once the regions'
channels are shuffled before training, with the attribution following the signal instead.
"""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from core.reaction.face_regions import GROUPS, N_REGIONS
from models.reaction.lbe import LBEConfig, LandmarkLSTM
from models.reaction.plm_ipe import ModelConfig
from models.training.attribution import (AttributionConfig, attribute_sequence, attribute_set, class_region_shares,
                                         group_shares, per_second, step_times)
from models.training.synthetic_regions import SIGNAL_GROUP, region_reactions
from models.training.train import TrainConfig, train_model

# a derangement of the regions: every brow region and every region beside the mouth lands in another group
SHUFFLE = np.roll(np.arange(N_REGIONS), 18)


def _train(seed: int = 0, permutation: np.ndarray | None = None):
    torch.manual_seed(seed)
    torch.set_num_threads(1)
    train = region_reactions(150, seed, permutation=permutation)
    test = region_reactions(10, 100 + seed, permutation=permutation)
    result = train_model(ModelConfig(variant="lbe", lbe=LBEConfig(hidden=64)), train, test,
                         TrainConfig(epochs=6, batch_size=16, eval_every=0, seed=seed))
    return result, test


def _signal_shares(result, test) -> np.ndarray:
    shares, counts = class_region_shares(attribute_set(result.model.lbe, test, AttributionConfig(target="label")))
    assert counts.tolist() == [10, 10, 10]
    return shares


def _carries_the_class(region_shares: np.ndarray, group: str) -> bool:
    """The group holds over twice its uniform share of the attribution and more than any other group."""
    groups = group_shares(region_shares)
    uniform = len(GROUPS[group]) / N_REGIONS
    return groups[group] > 2 * uniform and max(groups, key=groups.get) == group


@pytest.fixture(scope="module")
def trained():
    return _train()


def test_frowns_are_explained_by_the_brows_and_smiles_by_the_mouth(trained) -> None:
    result, test = trained
    assert result.metrics["lbe"]["accuracy"] >= 0.9  # the model learned the task it is explained on
    shares = _signal_shares(result, test)
    for cls, group in SIGNAL_GROUP.items():
        print(cls, {g: round(v, 3) for g, v in group_shares(shares[cls]).items()})
        assert _carries_the_class(shares[cls], group), (cls, group_shares(shares[cls]))


def test_shuffled_region_channels_fail_the_check_and_the_attribution_follows_the_signal() -> None:
    result, test = _train(permutation=SHUFFLE)
    assert result.metrics["lbe"]["accuracy"] >= 0.9
    shares = _signal_shares(result, test)
    moved_to = np.argsort(SHUFFLE)  # column of old region k after shuffling
    for cls, group in SIGNAL_GROUP.items():
        assert not _carries_the_class(shares[cls], group), (cls, group_shares(shares[cls]))
        regions = moved_to[list(GROUPS[group])]
        assert not set(regions) & set(GROUPS[group])
        assert shares[cls][regions].sum() > 2 * len(regions) / N_REGIONS


def test_one_video_masks_times_and_targets(trained) -> None:
    result, test = trained
    lbe = result.model.lbe
    flow, valid = test.flow[25].copy(), test.flow_valid[25].copy()  # a smile
    valid[[0, 7]] = False
    flow[~valid] = 0.0
    times = np.arange(len(flow) + 1) / 15.0  # 15 fps: 2 s
    out = attribute_sequence(lbe, flow, valid, timestamps_s=times)
    assert out.attributions.shape == (30, 72) and out.target == int(out.probs.argmax()) == 2
    assert np.all(out.attributions[~valid] == 0)  # frames without a face carry nothing
    assert abs(out.region_shares.sum() - 1) < 1e-9
    starts, seconds = out.seconds()
    assert starts.tolist() == [0.0, 1.0, 2.0] and abs(seconds.sum() - 1) < 1e-9  # last step at 30/15 = 2.0 s
    by_group_starts, by_group = out.seconds_by_group()
    assert np.allclose(sum(by_group.values()), seconds)
    assert valid[out.peak_step()] and out.top_regions(3)[0][1] == out.region_shares.max()
    neutral = attribute_sequence(lbe, flow, valid, target="neutral")
    assert neutral.target == 1 and not np.allclose(neutral.attributions, out.attributions)


def test_attributions_sum_to_the_change_of_the_logit() -> None:
    torch.manual_seed(0)
    lbe = LandmarkLSTM(LBEConfig(hidden=16))  # untrained: smooth along the path, so the integral converges
    flow = np.random.default_rng(0).uniform(0, 1, (20, 72)).astype(np.float32)
    valid = np.ones(20, bool)
    out = attribute_sequence(lbe, flow, valid, config=AttributionConfig(baseline="zero", steps=64))
    with torch.no_grad():
        args = (torch.ones(1, 20, dtype=torch.bool), torch.tensor([20]))
        change = lbe(torch.from_numpy(flow)[None], *args)[0, out.target] - lbe(torch.zeros(1, 20, 72), *args)[0, out.target]
    assert abs(out.attributions.sum() - float(change)) < 1e-3 and abs(out.delta) < 1e-3
    assert abs(float(change)) > 1e-2  # the check is not 0 = 0


def test_binning_and_bad_input() -> None:
    assert per_second(np.array([1.0, 2.0, 3.0]), np.array([0.2, 0.9, 1.1]))[1].tolist() == [3.0, 3.0]
    assert np.allclose(step_times(3, None, fps=10.0), [0.1, 0.2, 0.3])
    assert np.allclose(step_times(2, np.array([0.0, 0.5, 1.5])), [0.5, 1.5])
    with pytest.raises(ValueError, match="baseline"):
        AttributionConfig(baseline="noise")
    with pytest.raises(ValueError, match="target"):
        AttributionConfig(target="happy")
    lbe = LandmarkLSTM(LBEConfig(hidden=8))
    with pytest.raises(ValueError, match=r"\(T, 72\)"):
        attribute_sequence(lbe, np.zeros((5, 36), np.float32), np.ones(5, bool))
    with pytest.raises(ValueError, match="unknown target"):
        attribute_sequence(lbe, np.zeros((5, 72), np.float32), np.ones(5, bool), target="happy")
    old = LandmarkLSTM(LBEConfig(hidden=8, input_norm=False))
    with pytest.raises(ValueError, match="input_norm"):
        attribute_sequence(old, np.zeros((5, 72), np.float32), np.ones(5, bool), config=AttributionConfig(baseline="mean"))


def test_report_files(trained, tmp_path) -> None:
    from models.training.attribution_report import write_attribution_report

    result, test = trained
    lines = write_attribution_report(result.model.lbe, test, tmp_path, AttributionConfig(target="label"))
    assert {p.name for p in tmp_path.iterdir()} == {"attribution.md", "attribution.json", "region_shares.csv",
                                                     "region_shares.png"}
    summary = json.loads((tmp_path / "attribution.json").read_text())
    assert summary["config"]["target"] == "label" and summary["counts"] == [10, 10, 10]
    assert abs(sum(summary["region_shares"][2]) - 1) < 1e-4
    assert summary["group_shares"][2]["mouth_sides"] == max(summary["group_shares"][2].values())
    table = [line for line in lines if line.startswith("| positive")]
    assert table and "beside the mouth" in table[0]  # the top regions of smiles
    rows = (tmp_path / "region_shares.csv").read_text().splitlines()
    assert len(rows) == 4 and rows[0].startswith("class_explained,videos,region_1")
    assert "SYNTHETIC" in (tmp_path / "attribution.md").read_text()


def test_cli_evaluate_and_compare_write_the_attribution(tmp_path, home, capsys) -> None:
    from app.cli import main
    from models.training.report import compare
    from models.training.synthetic import make_synthetic_split

    tiny = ["--hidden", "8", "--epochs", "1", "--batch-size", "8", "--width", "0.0625", "--fc-dim", "16"]
    assert main(["train", "--synthetic", "--variant", "plm-ipe", "--run-id", "r1", *tiny]) == 0
    out = tmp_path / "attr"
    assert main(["evaluate", str(home.runs / "r1"), "--synthetic", "--attribution", str(out), "--ig-steps", "8",
                 "--ig-target", "positive"]) == 0
    assert "| positive |" in capsys.readouterr().out
    summary = json.loads((out / "attribution.json").read_text())
    assert summary["config"] == {"baseline": "mean", "steps": 8, "target": "positive", "internal_batch_size": 256}
    assert summary["counts"][2] == summary["videos"] == 18  # every video explained for the chosen class
    assert (out / "region_shares.png").read_bytes()[:4] == b"\x89PNG"
    assert main(["train", "--synthetic", "--variant", "pbe", "--run-id", "r2", *tiny]) == 0
    assert main(["evaluate", str(home.runs / "r2"), "--synthetic", "--attribution", str(out)]) == 1
    assert "without an LBE" in capsys.readouterr().err
    assert main(["evaluate", str(home.runs / "r1"), "--synthetic", "--attribution", str(out), "--ig-steps", "1"]) == 1
    assert "at least 2" in capsys.readouterr().err

    train, test = make_synthetic_split(test_volunteers=1, n_volunteers=3, videos_per_volunteer=3, clip_size=16,
                                       clips_per_video=1, flow_steps=8)
    folder = tmp_path / "cmp"
    compare(train, test, folder, variants=("pbe", "lbe"), seeds=(0, 1), train_config=TrainConfig(epochs=1, batch_size=4),
            model_kw=dict(width=1 / 16, fc_dim=16, hidden=8, clip_size=16), attribution=AttributionConfig(steps=4))
    report = (folder / "report.md").read_text()
    assert "Which face regions drove the LBE (lbe)" in report and "(pbe)" not in report
    assert "![region shares](attribution/lbe/region_shares.png)" in report
    assert sorted(p.name for p in (folder / "attribution").iterdir()) == ["lbe"]
    assert json.loads((folder / "metrics.json").read_text())["attribution"]["steps"] == 4


def test_region_values_are_drawn_on_the_colour_scale() -> None:
    import cv2

    from core.reaction.alignment import canonical_shape
    from core.reaction.draw import draw_region_values
    from core.reaction.face_regions import region_polygons

    points = canonical_shape(224)
    values = np.zeros(N_REGIONS)
    values[25] = 0.4
    values[1] = 0.2
    out = draw_region_values(np.full((224, 224, 3), 128, np.uint8), points, values, alpha=1.0)
    lut = cv2.applyColorMap(np.arange(256, dtype=np.uint8)[:, None], cv2.COLORMAP_INFERNO)[:, 0, ::-1]
    centre = [tuple(np.round(p.mean(0)).astype(int)) for p in region_polygons(points)]
    (x25, y25), (x1, y1), (x9, y9) = centre[25], centre[1], centre[9]
    assert out[y25, x25].tolist() == lut[255].tolist()  # the largest value: the top of the scale
    assert out[y1, x1].tolist() == lut[128].tolist()  # half of it: the middle
    assert out[y9, x9].tolist() == lut[0].tolist()  # zero: the bottom
    with pytest.raises(ValueError, match="one number per region"):
        draw_region_values(out, points, np.zeros(35))
