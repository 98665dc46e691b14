"""Source domain (Fashion-MNIST, simulated labelers, image sets) and transfer learning end to end."""
from __future__ import annotations

import csv
import json

import numpy as np
import pytest
import torch
from PIL import Image

from core.labeling.fashion_mnist import CATEGORY_NAMES, DatasetError, image_id, load_fashion_mnist
from core.labeling.image_sets import from_catalog, from_folder, with_store_labels
from core.paths import DataHome
from core.labeling.preference_data import store_data
from core.labeling.simulated_labeler import PRESETS, CatalogRule, FashionRule
from core.store import Store
from data.demo_catalog import generate_demo_catalog

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def fmnist():
    return load_fashion_mnist("all")


def test_fashion_mnist_loads_offline_from_the_debian_package(fmnist):
    assert fmnist.images.shape == (70000, 28, 28) and fmnist.images.dtype == np.uint8
    assert np.bincount(fmnist.labels).tolist() == [7000] * 10
    assert len(CATEGORY_NAMES) == 10 and CATEGORY_NAMES[9] == "Ankle boot"
    test = load_fashion_mnist("test")
    assert len(test) == 10000 and np.array_equal(test.images, fmnist.images[60000:])
    assert image_id(fmnist.images[0]) == image_id(fmnist.images[0].copy()) != image_id(fmnist.images[1])


def test_missing_fashion_mnist_says_how_to_install(tmp_path, monkeypatch):
    monkeypatch.setenv("IPE_FASHION_MNIST", str(tmp_path))
    with pytest.raises(DatasetError, match="apt-get install dataset-fashion-mnist"):
        load_fashion_mnist("train")


def test_simulated_fashion_rule_is_documented_and_deterministic(fmnist):
    rule = FashionRule()
    images, classes = fmnist.images[:20000], fmnist.labels[:20000]
    labels = rule.label(images, classes)
    assert np.array_equal(labels, FashionRule().label(images, classes))  # seeded
    share = {CATEGORY_NAMES[c]: labels[classes == c].mean() for c in range(10)}
    for liked in ("Sandal", "Sneaker", "Bag", "Ankle boot"):
        assert share[liked] > 0.9
    for heavy in ("Pullover", "Coat"):  # dark heavy garments are disliked
        assert share[heavy] < 0.1
    # brightness term: among T-shirts, lighter garments (lower stored value) score higher
    tshirts = classes == 0
    scores = rule.scores(images[tshirts], classes[tshirts])
    garment = images[tshirts].reshape(tshirts.sum(), -1)
    darkness = (garment * (garment > 10)).sum(1) / np.maximum((garment > 10).sum(1), 1)
    assert np.corrcoef(scores, darkness)[0, 1] < -0.99
    assert set(PRESETS) >= {"warm-footwear", "cool-light", "neutral-bags"}


def test_simulated_click_is_the_garment_centroid():
    from core.labeling.simulated_labeler import simulated_click

    image = np.full((40, 80, 3), 255, np.uint8)
    image[10:20, 60:70] = (200, 30, 40)
    assert simulated_click(image) == pytest.approx((65 / 80, 15 / 40))
    assert simulated_click(np.full((8, 8, 3), 255, np.uint8)) is None


def test_catalog_rule_with_flip_noise_is_seeded():
    items = [{"color_family": f} for f in ["warm", "cool", "neutral"] * 100]
    keys = [str(i) for i in range(300)]
    clean = CatalogRule().label(items, keys)
    assert clean.tolist() == [1, 0, 0] * 100
    noisy = CatalogRule(flip_prob=0.1, seed=4).label(items, keys)
    assert np.array_equal(noisy, CatalogRule(flip_prob=0.1, seed=4).label(items, keys))
    assert 0.03 < (noisy != clean).mean() < 0.2
    with pytest.raises(KeyError, match="color_family"):
        CatalogRule().label_item({"color": "red"})


def test_image_sets_and_store_labels(tmp_path):
    from skimage.data import astronaut

    folder = tmp_path / "imported"
    (folder / "sub").mkdir(parents=True)
    Image.fromarray(astronaut()).save(folder / "a.png")
    Image.fromarray(astronaut()).save(folder / "sub" / "copy.png")  # same bytes: kept once
    Image.fromarray(astronaut()[::2, ::2]).save(folder / "b.jpg")
    images = from_folder(folder)
    assert len(images) == 2
    a, b = images.records
    rows = [
        {"image_sha256": a.image_id, "answer": "not_preferred", "undone_at": None, "region_xy": None},
        {"image_sha256": a.image_id, "answer": "preferred", "undone_at": None, "region_xy": (0.2, 0.3)},  # last wins
        {"image_sha256": b.image_id, "answer": "preferred", "undone_at": None, "region_xy": None},
        {"image_sha256": b.image_id, "answer": "not_preferred", "undone_at": "2026-01-01", "region_xy": None},  # undone
    ]
    labeled = with_store_labels(images, rows)
    assert labeled.labels.tolist() == [1, 1] and labeled.records[0].region_xy == (0.2, 0.3)
    skipped = with_store_labels(images, rows + [{"image_sha256": b.image_id, "answer": "skip", "undone_at": None}])
    assert [r.image_id for r in skipped.records] == [a.image_id]


def test_store_labeler_data_matches_fashion_mnist_and_catalog(tmp_path, fmnist):
    catalog = generate_demo_catalog(tmp_path / "cat", n_tops=8, n_bottoms=8, n_outfits=4)
    target = from_catalog(catalog)
    with Store.open(DataHome.resolve(tmp_path / "home")) as store:
        lid = store.add_labeler("ana")
        for i in range(30):  # the labeling tool stores Fashion-MNIST images by image_id
            store.add_image_label(labeler_id=lid, image_path=f"fashion-mnist:{i}", image_sha256=image_id(fmnist.images[i]),
                                  answer="preferred" if i % 3 else "not_preferred", response_ms=600)
        for j, record in enumerate(target.records[:12]):
            store.add_image_label(labeler_id=lid, image_path=str(record.path), image_sha256=record.image_id,
                                  answer="preferred" if j % 2 else "not_preferred", response_ms=800,
                                  region_xy=(0.5, 0.4))
        data = store_data(store, "ana", target)
    assert len(data.source) >= 30 and len(data.target) == 12
    assert data.target.records[0].region_xy == (0.5, 0.4) and data.target.labels.tolist() == [0, 1] * 6
    first = next(r for r in data.source.records if r.image_id == image_id(fmnist.images[0]))
    assert first.label == 0 and np.array_equal(first.array, 255 - fmnist.images[0])  # photo polarity


def test_transfer_learning_end_to_end_via_cli(tmp_path):
    """Toy size: simulated labeler, 1,500 Fashion-MNIST images -> 96 catalog items; both numbers reported."""
    from app.cli import main
    from models.preference.predict import load_preference_model

    catalog = generate_demo_catalog(tmp_path / "cat", seed=2, n_tops=48, n_bottoms=48, n_outfits=4)
    code = main(["--home", str(tmp_path / "home"), "train-preference", "--simulated", "warm-footwear",
                 "--source", "fashion-mnist", "--target", str(catalog), "--protocol", "model2",
                 "--source-limit", "1500", "--size", "32", "--widths", "8,16,32", "--source-epochs", "3",
                 "--source-batch", "32", "--epochs", "8", "--efficientnet-size", "48", "--efficientnet-epochs", "1",
                 "--threads", "1", "--run-id", "toy"])
    assert code == 0
    out = tmp_path / "home" / "runs" / "toy" / "sim-warm-footwear"
    metrics = json.loads((out / "metrics.json").read_text())
    rows = {r["method"]: r for r in metrics["transfer"]}
    assert set(rows) == {"vgg-scratch", "vgg-transfer-fmnist", "efficientnet-lite0-imagenet"}
    for row in rows.values():
        assert 0.0 <= row["test_accuracy"] <= 1.0 and row["test_n"] == rows["vgg-scratch"]["test_n"]
        assert row["gain_over_scratch"] == pytest.approx(row["test_accuracy"] - rows["vgg-scratch"]["test_accuracy"])
    source_test = metrics["source_tables"]["test"]
    assert source_test["n"] == round(1500 / 7) or abs(source_test["n"] - 1500 / 7) < 2
    assert source_test["accuracy"] > 0.7  # the source rule is learnable
    report = (out / "report.md").read_text()
    assert "gain over scratch" in report and "vgg-transfer-fmnist" in report and "| TP | FP | FN | TN |" in report
    with open(out / "report.csv") as handle:
        table = list(csv.DictReader(handle))
    assert {r["split"] for r in table} == {"train", "val", "test"}
    assert len(list((out / "overlays").glob("*.png"))) >= 1
    agreement = {r["class"]: r for r in metrics["agreement"]}  # Table 5 from the simulated clicks
    assert set(agreement) == {"preferred", "not_preferred"}
    assert sum(r["total"] for r in agreement.values()) >= 1
    assert all(0 <= r["matched"] <= r["total"] for r in agreement.values())
    from core.store.runs import describe_run

    run = describe_run(tmp_path / "home" / "runs" / "toy")
    assert run.report is not None and run.kinds == ("preference-cnn",) and len(run.checkpoints) == 4
    assert "sim-warm-footwear" in run.metrics["labelers"]
    for method in ("source", "vgg-scratch", "vgg-transfer-fmnist", "efficientnet-lite0-imagenet"):
        predictor = load_preference_model(out / method)
        assert 0.0 <= predictor.predict(np.full((40, 40, 3), 255, np.uint8)) <= 1.0


def test_cli_needs_a_labeler(tmp_path, capsys):
    from app.cli import main

    assert main(["--home", str(tmp_path), "train-preference", "--target", str(tmp_path)]) == 1
    assert "--labeler" in capsys.readouterr().err
