"""Preference CNN on a labeled set with a known rule (a simulated labeler preferring warm colours)."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from core.errors import CheckpointError
from core.labeling.image_sets import from_catalog, stack_images, with_store_labels
from core.paths import DataHome
from core.labeling.simulated_labeler import CatalogRule
from core.store import Store
from data.demo_catalog import generate_demo_catalog
from models.checkpoint import save_checkpoint
from models.preference.explain import compute_heatmaps, peak_in_mask
from models.preference.cnn import PreferenceCNN, PreferenceCNNConfig, target_layers
from models.preference.predict import load_preference_model, save_preference_model
from models.preference.train import (SplitConfig, PreferenceTrainConfig, confusion, make_split, predict_proba,
                                     run_protocol, to_tensor)

torch.set_num_threads(1)
SIZE = 32
SMALL = PreferenceCNNConfig(image_size=SIZE, in_channels=3, widths=(8, 16, 32), hidden=(32, 16), dropout=0.1)


@pytest.fixture(scope="module")
def catalog(tmp_path_factory: pytest.TempPathFactory):
    return generate_demo_catalog(tmp_path_factory.mktemp("catalog"), seed=1, n_tops=80, n_bottoms=80, n_outfits=4)


@pytest.fixture(scope="module")
def labeled(catalog, tmp_path_factory):
    """Labels made through the store API by a simulated labeler who prefers warm colours."""
    rule = CatalogRule("color_family", ("warm",))
    image_set = from_catalog(catalog)
    home = DataHome.resolve(tmp_path_factory.mktemp("home")).ensure()
    with Store.open(home) as store:
        labeler_id = store.add_labeler("sim-warm")
        for record in image_set.records:
            answer = "preferred" if rule.label_item(record.attributes, record.image_id) else "not_preferred"
            store.add_image_label(labeler_id=labeler_id, image_path=str(record.path), image_sha256=record.image_id,
                                  answer=answer, response_ms=700, region_xy=None, is_gold=False, slow=False)
        rows = store.list_image_labels(labeler_id)
    labeled = with_store_labels(image_set, rows)
    x = (stack_images(labeled, size=SIZE, channels=3) * 255).round().astype(np.uint8)
    return labeled, x, labeled.labels


@pytest.fixture(scope="module")
def trained(labeled):
    _, x, y = labeled
    split = make_split(y, SplitConfig("model2", seed=0))
    result = run_protocol(x, y, split, PreferenceCNN(SMALL), PreferenceTrainConfig(epochs=12, batch_size=16, lr=2e-3))
    return result, split


def test_store_labels_follow_the_rule(labeled):
    image_set, x, y = labeled
    assert len(image_set) == 160 and x.shape == (160, SIZE, SIZE, 3)
    warm = np.array([r.attributes["color_family"] == "warm" for r in image_set.records])
    assert np.array_equal(y, warm.astype(int))
    assert 0.2 < y.mean() < 0.5


def test_split_is_stratified_and_disjoint(labeled):
    _, _, y = labeled
    split = make_split(y, SplitConfig("model2", test_fraction=0.2, val_fraction=0.2, seed=3))
    assert set(split) == {"train", "val", "test"}
    joined = np.concatenate(list(split.values()))
    assert len(joined) == len(set(joined.tolist())) == len(y)
    for idx in split.values():
        assert abs(y[idx].mean() - y.mean()) < 0.1
    assert set(make_split(y, SplitConfig("model1"))) == {"train", "test"}
    with pytest.raises(ValueError, match="protocol"):
        make_split(y, SplitConfig("model3"))


def test_cnn_learns_the_colour_rule_well_above_chance(trained, labeled):
    result, split = trained
    _, _, y = labeled
    majority = max(y[split["test"]].mean(), 1 - y[split["test"]].mean())
    test = result.tables["test"]
    assert test["n"] == len(split["test"]) and test["tp"] + test["fp"] + test["fn"] + test["tn"] == test["n"]
    assert test["accuracy"] >= 0.85 and test["accuracy"] > majority + 0.15, result.tables
    assert result.protocol == "model2" and 1 <= result.best_epoch <= 12
    assert [h["epoch"] for h in result.history] == list(range(1, 13))


def test_gradcam_peak_falls_on_the_garment(trained, labeled):
    """On preferred (warm) test images the evidence is the garment: the heat peak lies on it."""
    result, split = trained
    _, x, y = labeled
    idx = np.concatenate([split["val"], split["test"]])
    idx = idx[y[idx] == 1]
    model = result.model
    heats = compute_heatmaps(model, target_layers(model), to_tensor(x[idx], 3), method="gradcam", target_class=1)
    garment = (x[idx] < 235).any(-1)  # non-white pixels
    on_garment = np.mean([peak_in_mask(h, m) for h, m in zip(heats, garment)])
    assert on_garment > 0.5 and on_garment > 1 - on_garment
    assert on_garment > garment.mean()  # better than a peak dropped at random


def test_confusion_counts_by_hand():
    table = confusion(np.array([1, 1, 0, 0, 1]), np.array([0.9, 0.2, 0.7, 0.1, 0.5]))
    assert table == {"tp": 2, "fp": 1, "fn": 1, "tn": 1, "n": 5, "accuracy": 0.6}


def test_checkpoint_round_trip(trained, labeled, catalog, tmp_path):
    result, split = trained
    image_set, x, _ = labeled
    folder = save_preference_model(tmp_path / "ckpt", result.model, {"labeler": "sim-warm"})
    predictor = load_preference_model(folder)
    assert predictor.config["labeler"] == "sim-warm" and predictor.config["arch"] == "vgg"
    from PIL import Image
    photo = np.asarray(Image.open(image_set.records[0].path).convert("RGB"))
    expected = predict_proba(result.model, x[:1])[0]
    assert predictor.predict(photo) == pytest.approx(float(expected), abs=0.02)
    heat = predictor.explain(photo, method="gradcam++")
    assert heat.shape == photo.shape[:2] and heat.min() >= 0 and heat.max() <= 1


def test_wrong_kind_and_pickles_are_refused(tmp_path):
    model = PreferenceCNN(SMALL)
    save_checkpoint(tmp_path / "other", model.state_dict(), {"arch": "vgg"}, kind="plm-ipe")
    with pytest.raises(CheckpointError, match="preference-cnn"):
        load_preference_model(tmp_path / "other")
    torch.save(model.state_dict(), tmp_path / "model.pt")
    with pytest.raises(CheckpointError, match="never loaded"):
        load_preference_model(tmp_path / "model.pt")
    pickled = tmp_path / "pickled"
    pickled.mkdir()
    torch.save(model.state_dict(), pickled / "model.pth")
    with pytest.raises(CheckpointError):
        load_preference_model(pickled)


@pytest.mark.parametrize("size,channels", [(28, 1), (64, 3), (45, 3)])
def test_vgg_forward_backward(size, channels):
    model = PreferenceCNN(PreferenceCNNConfig(image_size=size, in_channels=channels, widths=(4, 8, 8), hidden=(8, 8)))
    out = model(torch.rand(2, channels, size, size))
    assert out.shape == (2, 2)
    out.sum().backward()
    assert all(p.grad is not None for p in model.parameters())
    assert len(target_layers(model)) == 1


def test_efficientnet_lite0_pretrained_forward_backward_and_round_trip(tmp_path):
    from models.preference.efficientnet import EfficientNetConfig, EfficientNetPreference, imagenet_state_dict

    imagenet = imagenet_state_dict()
    model = EfficientNetPreference(EfficientNetConfig(image_size=64))
    assert torch.equal(model.backbone._conv_stem.weight, imagenet["_conv_stem.weight"])  # really pretrained
    out = model(torch.rand(2, 3, 64, 64))
    assert out.shape == (2, 2)
    out.sum().backward()
    predictor = load_preference_model(save_preference_model(tmp_path / "eff", model.eval()))
    image = (np.random.default_rng(0).random((80, 70, 3)) * 255).astype(np.uint8)
    p = predictor.predict(image)
    assert 0.0 <= p <= 1.0
    heat = predictor.explain(image, method="eigencam")
    assert heat.shape == (80, 70) and 0.0 <= heat.min() <= heat.max() <= 1.0
