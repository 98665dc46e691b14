"""The generated DEMO catalog: enough varied garments, valid files, the agreed folder format, deterministic."""
from __future__ import annotations

import csv
import hashlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from data.demo_catalog import PALETTE, generate_demo_catalog, main

ITEM_COLUMNS = ["item_id", "kind", "path", "color", "color_family", "color_rgb", "pattern", "shape"]


def read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def digest(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def catalog(tmp_path_factory) -> Path:
    return generate_demo_catalog(tmp_path_factory.mktemp("demo") / "catalog", seed=0)


def test_folder_format_and_counts(catalog: Path) -> None:
    assert (catalog / "DEMO.txt").read_text().startswith("DEMO")
    with open(catalog / "items.csv", newline="", encoding="utf-8") as handle:
        assert next(csv.reader(handle)) == ITEM_COLUMNS
    items = read_csv(catalog / "items.csv")
    tops = [r for r in items if r["kind"] == "top"]
    bottoms = [r for r in items if r["kind"] == "bottom"]
    assert len(tops) >= 30 and len(bottoms) >= 30 and len(items) == len(tops) + len(bottoms)
    assert len({r["item_id"] for r in items}) == len(items)
    for row in items:
        assert row["path"].startswith(f"{row['kind']}s/") and (catalog / row["path"]).is_file()
    outfits = read_csv(catalog / "outfits.csv")
    assert list(outfits[0]) == ["outfit_id", "top_id", "bottom_id"]
    assert len(outfits) >= 60
    assert len({o["outfit_id"] for o in outfits}) == len(outfits)
    assert len({(o["top_id"], o["bottom_id"]) for o in outfits}) == len(outfits)  # unique pairs
    top_ids, bottom_ids = {r["item_id"] for r in tops}, {r["item_id"] for r in bottoms}
    assert all(o["top_id"] in top_ids and o["bottom_id"] in bottom_ids for o in outfits)
    # every garment is worn in some outfit
    assert {o["top_id"] for o in outfits} == top_ids and {o["bottom_id"] for o in outfits} == bottom_ids


def test_attributes_are_varied_and_consistent(catalog: Path) -> None:
    items = read_csv(catalog / "items.csv")
    for kind in ("top", "bottom"):
        rows = [r for r in items if r["kind"] == kind]
        assert len({r["color"] for r in rows}) >= 10
        assert {r["color_family"] for r in rows} == {"warm", "cool", "neutral"}
        assert {r["pattern"] for r in rows} == {"solid", "stripes", "dots", "checks"}
        assert len({r["shape"] for r in rows}) >= 4
    for row in items:
        rgb, family = PALETTE[row["color"]]
        assert row["color_family"] == family and row["color_rgb"] == "#%02x%02x%02x" % rgb


def test_every_file_is_a_valid_image_showing_its_colour(catalog: Path) -> None:
    for row in read_csv(catalog / "items.csv"):
        path = catalog / row["path"]
        with Image.open(path) as img:
            img.verify()
        with Image.open(path) as img:
            assert img.format == "PNG" and img.size == (256, 256)
            pixels = np.asarray(img.convert("RGB")).reshape(-1, 3).astype(int)
        assert (pixels[0] == 255).all()  # white background in the corner
        rgb = np.array(PALETTE[row["color"]][0])
        # the garment's own colour covers a good part of the image (patterns take some of it)
        share = (np.abs(pixels - rgb).sum(axis=1) < 12).mean()
        assert share > 0.08, f"{row['item_id']}: colour {row['color']} covers only {share:.1%}"


def test_same_seed_gives_identical_bytes(catalog: Path, tmp_path: Path) -> None:
    again = generate_demo_catalog(tmp_path / "again", seed=0)
    assert digest(again) == digest(catalog)


def test_sizes_and_cli(tmp_path: Path) -> None:
    small = generate_demo_catalog(tmp_path / "small", n_tops=4, n_bottoms=3, n_outfits=12)
    assert len(read_csv(small / "items.csv")) == 7 and len(read_csv(small / "outfits.csv")) == 12
    with pytest.raises(ValueError):
        generate_demo_catalog(tmp_path / "too_many", n_tops=2, n_bottoms=2, n_outfits=5)
    assert main([str(tmp_path / "cli"), "--seed", "1"]) == 0
    assert (tmp_path / "cli" / "DEMO.txt").is_file() and len(read_csv(tmp_path / "cli" / "outfits.csv")) == 64
