"""Simulated labelers: documented preference rules so protocols and tests run without a person.

A simulated labeler has two rules that express one taste in two domains:

* :class:`FashionRule` over Fashion-MNIST (the paper's source domain)::

      score = class_weight[class] + brightness_weight * (lightness - 0.5)
              - heavy_dark_weight * [class is heavy] * darkness + noise
      preferred  <=>  score > 0

  ``darkness`` is the mean value of the garment's pixels / 255 (Fashion-MNIST stores inverted
  photos, so a high value is a dark part of the real garment; background pixels, value 0, are
  ignored) and ``lightness = 1 - darkness``. ``noise`` is Gaussian with ``noise_sd``, drawn
  from ``seed`` and the image's position, so the same call gives the same labels.

* :class:`CatalogRule` over catalog attributes (``items.csv`` columns)::

      preferred  <=>  item[attribute] in liked_values   (flipped with probability flip_prob)

A simulated labeler also "clicks" the region that decided (the paper's Table 5 input): the
centroid of the garment, i.e. of the non-white pixels (:func:`simulated_click`), since its
catalog rule is about the garment's colour.

The ``PRESETS`` are named tastes for the CLI (``--simulated NAME``). Labels are 1 for
"preferred", 0 for "not preferred".
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

import numpy as np

from core.labeling.fashion_mnist import CATEGORY_NAMES

HEAVY_CLASSES = ("Pullover", "Coat")


def _default_class_weights() -> dict[str, float]:
    # likes footwear and bags, mildly dislikes tops and trousers
    return {"T-shirt/top": -0.2, "Trouser": -0.6, "Pullover": -0.3, "Dress": 0.2, "Coat": -0.1,
            "Sandal": 1.0, "Shirt": -0.4, "Sneaker": 0.9, "Bag": 0.8, "Ankle boot": 0.6}


@dataclass(frozen=True)
class FashionRule:
    class_weights: Mapping[str, float] = field(default_factory=_default_class_weights)
    brightness_weight: float = 0.8
    heavy_dark_weight: float = 1.2
    noise_sd: float = 0.15
    seed: int = 0

    def scores(self, images: np.ndarray, classes: np.ndarray) -> np.ndarray:
        """Noise-free preference score per image ((N,28,28) uint8, (N,) class indices)."""
        images = np.asarray(images, dtype=np.float32) / 255.0
        flat = images.reshape(len(images), -1)
        garment = flat > (10 / 255.0)
        darkness = (flat * garment).sum(1) / np.maximum(garment.sum(1), 1)
        weights = np.array([self.class_weights.get(name, 0.0) for name in CATEGORY_NAMES], dtype=np.float32)
        heavy = np.isin(np.asarray(classes), [CATEGORY_NAMES.index(n) for n in HEAVY_CLASSES])
        return (weights[np.asarray(classes)] + self.brightness_weight * ((1.0 - darkness) - 0.5)
                - self.heavy_dark_weight * heavy * darkness)

    def label(self, images: np.ndarray, classes: np.ndarray) -> np.ndarray:
        """1 = preferred, 0 = not preferred, for every image."""
        noise = np.random.default_rng(self.seed).normal(0.0, self.noise_sd, size=len(classes))
        return (self.scores(images, classes) + noise > 0).astype(np.int64)


@dataclass(frozen=True)
class CatalogRule:
    attribute: str = "color_family"
    liked_values: tuple[str, ...] = ("warm",)
    flip_prob: float = 0.0
    seed: int = 0

    def label_item(self, attributes: Mapping[str, Any], item_key: str = "") -> int:
        """Label one catalog item from its attribute columns; ``item_key`` seeds its label noise."""
        if self.attribute not in attributes:
            raise KeyError(f"catalog item has no {self.attribute!r} column (has: {', '.join(attributes)})")
        liked = int(str(attributes[self.attribute]) in self.liked_values)
        if self.flip_prob > 0:
            digest = hashlib.sha256(f"{self.seed}:{item_key}".encode()).digest()
            if int.from_bytes(digest[:4], "big") / 2**32 < self.flip_prob:
                liked = 1 - liked
        return liked

    def label(self, items: Sequence[Mapping[str, Any]], keys: Sequence[str] | None = None) -> np.ndarray:
        keys = keys if keys is not None else [str(i) for i in range(len(items))]
        return np.array([self.label_item(a, k) for a, k in zip(items, keys)], dtype=np.int64)


def simulated_click(image_rgb: np.ndarray, *, white: int = 235) -> tuple[float, float] | None:
    """The centroid of the non-white pixels as image fractions (x, y); None for a blank image."""
    image = np.asarray(image_rgb)
    mask = (image < white).any(-1) if image.ndim == 3 else image < white
    rows, cols = np.nonzero(mask)
    if len(rows) == 0:
        return None
    return (float((cols.mean() + 0.5) / mask.shape[1]), float((rows.mean() + 0.5) / mask.shape[0]))


@dataclass(frozen=True)
class SimulatedLabeler:
    name: str
    fashion: FashionRule
    catalog: CatalogRule


PRESETS: dict[str, SimulatedLabeler] = {
    "warm-footwear": SimulatedLabeler("warm-footwear", FashionRule(), CatalogRule("color_family", ("warm",))),
    "cool-light": SimulatedLabeler(
        "cool-light",
        FashionRule(class_weights={n: 0.0 for n in CATEGORY_NAMES}, brightness_weight=2.0, heavy_dark_weight=0.5, seed=1),
        CatalogRule("color_family", ("cool",), seed=1),
    ),
    "neutral-bags": SimulatedLabeler(
        "neutral-bags",
        FashionRule(class_weights={**{n: -0.3 for n in CATEGORY_NAMES}, "Bag": 1.0, "Dress": 0.4}, seed=2),
        CatalogRule("color_family", ("neutral",), seed=2),
    ),
}


def get_simulated_labeler(name: str) -> SimulatedLabeler:
    try:
        return PRESETS[name]
    except KeyError:
        raise KeyError(f"unknown simulated labeler {name!r}; choose one of {', '.join(PRESETS)}") from None
