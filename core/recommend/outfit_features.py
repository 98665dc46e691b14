"""Outfit feature vectors for content-based (cold-start) recommendation, torch-free.

An outfit is a top and a bottom. Its feature vector is, per garment, a colour histogram of
the garment pixels (hue bins for coloured pixels, three lightness bins for grey-ish ones;
background = near white) and, when the catalog has attribute columns, one-hot vectors of
``color_family``, ``pattern`` and ``shape`` (``top.*`` then ``bottom.*``). The histogram
part works on any catalog; the one-hot part makes the demo catalog's known attributes
visible to the models. A preference-CNN embedding can replace both (pass your own matrix
to the models).
"""
from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TYPE_CHECKING

import numpy as np

from core.errors import CatalogError

if TYPE_CHECKING:
    from core.store import Store

ATTRIBUTE_KEYS = ("color_family", "pattern", "shape")


@dataclass(frozen=True)
class OutfitTable:
    """Outfits with their garments' attributes (``top.pattern`` ...) and image paths."""

    outfit_ids: tuple[str, ...]
    attributes: tuple[dict[str, str], ...]
    image_paths: tuple[tuple[str, str], ...] | None = None  # (top, bottom) absolute paths

    def __post_init__(self) -> None:
        if len(self.outfit_ids) != len(self.attributes):
            raise ValueError("outfit_ids and attributes differ in length")
        if self.image_paths is not None and len(self.image_paths) != len(self.outfit_ids):
            raise ValueError("outfit_ids and image_paths differ in length")


def _outfit_attributes(top: dict[str, Any], bottom: dict[str, Any]) -> dict[str, str]:
    out: dict[str, str] = {}
    for prefix, item in (("top", top), ("bottom", bottom)):
        for key, value in item.items():
            if key not in ("item_id", "kind", "path", "sha256", "width", "height", "catalog_id") and value not in (None, ""):
                out[f"{prefix}.{key}"] = str(value)
    return out


def load_outfit_table(catalog: str | Path) -> OutfitTable:
    """From a catalog folder (``items.csv`` + ``outfits.csv``, see CONVENTIONS)."""
    folder = Path(catalog)
    try:
        with open(folder / "items.csv", newline="", encoding="utf-8") as handle:
            items = {row["item_id"]: row for row in csv.DictReader(handle)}
        with open(folder / "outfits.csv", newline="", encoding="utf-8") as handle:
            outfits = list(csv.DictReader(handle))
    except (OSError, KeyError) as e:
        raise CatalogError(f"cannot read the catalog in {folder}: {e}; it needs items.csv and outfits.csv") from e
    ids, attrs, paths = [], [], []
    for row in outfits:
        top, bottom = items.get(row["top_id"]), items.get(row["bottom_id"])
        if top is None or bottom is None:
            raise CatalogError(f"outfit {row['outfit_id']} names an item missing from items.csv")
        ids.append(row["outfit_id"])
        attrs.append(_outfit_attributes(top, bottom))
        paths.append((str(folder / top["path"]), str(folder / bottom["path"])))
    return OutfitTable(tuple(ids), tuple(attrs), tuple(paths))


def outfit_table_from_store(store: Store) -> OutfitTable:
    """From a :class:`core.store.Store` (``list_items`` attributes, ``list_outfits`` paths)."""
    items = {}
    for item in store.list_items():
        attributes = item.get("attributes") or {}
        items[item["item_id"]] = dict(attributes) if isinstance(attributes, dict) else {}
    ids, attrs, paths = [], [], []
    for row in store.list_outfits():
        ids.append(row["outfit_id"])
        attrs.append(_outfit_attributes(items.get(row["top_id"], {}), items.get(row["bottom_id"], {})))
        paths.append((row["top_path"], row["bottom_path"]))
    return OutfitTable(tuple(ids), tuple(attrs), tuple(paths))


@dataclass(frozen=True)
class OutfitFeatureConfig:
    histogram: bool = True
    attributes: bool = True
    hue_bins: int = 12
    size: int = 64                 # images are reduced to size x size before the histogram
    background_min: int = 235      # all RGB channels >= this -> background
    grey_saturation_max: int = 40  # HSV saturation (0..255) below this -> a lightness bin


def colour_histogram(path: str | Path, config: OutfitFeatureConfig = OutfitFeatureConfig()) -> np.ndarray:
    """``hue_bins + 3`` fractions of the garment pixels: hue bins, then dark/mid/light greys."""
    from PIL import Image  # PIL is light, but only needed here

    try:
        with Image.open(path) as image:
            rgb = image.convert("RGB").resize((config.size, config.size), Image.BILINEAR)
    except OSError as e:
        raise CatalogError(f"cannot read garment image {path}: {e}") from e
    arr = np.asarray(rgb)
    hsv = np.asarray(rgb.convert("HSV")).reshape(-1, 3).astype(np.int32)
    garment = ~(arr.reshape(-1, 3) >= config.background_min).all(axis=1)
    hist = np.zeros(config.hue_bins + 3, np.float64)
    if garment.sum() == 0:
        return hist.astype(np.float32)
    hsv = hsv[garment]
    coloured = hsv[:, 1] >= config.grey_saturation_max
    hue_bin = (hsv[coloured, 0] * config.hue_bins) // 256
    np.add.at(hist, hue_bin, 1.0)
    grey_v = hsv[~coloured, 2]
    np.add.at(hist, config.hue_bins + np.minimum(grey_v // 86, 2), 1.0)
    return (hist / hist.sum()).astype(np.float32)


def attribute_vocabulary(table: OutfitTable) -> list[tuple[str, str]]:
    """Sorted (key, value) pairs of the one-hot part (keys ``top.pattern`` ..., known keys only)."""
    pairs = set()
    for attrs in table.attributes:
        for key, value in attrs.items():
            if key.split(".", 1)[-1] in ATTRIBUTE_KEYS:
                pairs.add((key, value))
    return sorted(pairs)


def outfit_features(table: OutfitTable, config: OutfitFeatureConfig = OutfitFeatureConfig()) -> np.ndarray:
    """(n_outfits, D) float32 feature matrix, rows in ``table.outfit_ids`` order."""
    parts: list[np.ndarray] = []
    if config.histogram and table.image_paths is not None:
        cache: dict[str, np.ndarray] = {}
        rows = []
        for top, bottom in table.image_paths:
            for path in (top, bottom):
                if path not in cache:
                    cache[path] = colour_histogram(path, config)
            rows.append(np.concatenate([cache[top], cache[bottom]]))
        parts.append(np.stack(rows))
    if config.attributes:
        vocab = attribute_vocabulary(table)
        if vocab:
            index = {pair: i for i, pair in enumerate(vocab)}
            onehot = np.zeros((len(table.outfit_ids), len(vocab)), np.float32)
            for row, attrs in enumerate(table.attributes):
                for key, value in attrs.items():
                    if (key, value) in index:
                        onehot[row, index[(key, value)]] = 1.0
            parts.append(onehot)
    if not parts:
        raise CatalogError("no outfit features: the catalog has neither images nor color_family/pattern/shape columns")
    return np.concatenate(parts, axis=1).astype(np.float32)
