"""Gather one labeler's source (Fashion-MNIST) and target (catalog/folder) labels, torch-free.

Two origins: a simulated labeler (rules in ``core/labeling/simulated_labeler.py``; can label all 70,000
Fashion-MNIST images) or a person's answers stored in the ``image_label`` table (Fashion-MNIST
images are matched by :func:`core.labeling.fashion_mnist.image_id`, catalog/folder images by file sha256).
Fashion-MNIST images are given in photo polarity (dark garment on white) so the source looks
like the catalog photos.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Sequence, TYPE_CHECKING

import numpy as np

from core.labeling.image_sets import (ImageRecord, ImageSet, from_catalog, from_fashion_mnist, from_folder, load_image,
                             with_store_labels)

if TYPE_CHECKING:
    from core.store import Store


@dataclass
class LabeledData:
    labeler: str
    source: ImageSet          # Fashion-MNIST records with labels
    target: ImageSet          # catalog / folder records with labels (and clicks if any)


def target_set(target: str | os.PathLike[str], store: Store | None = None) -> ImageSet:
    """``"catalog"`` (the store's items), a catalog folder / items.csv, or any folder of images."""
    if str(target) == "catalog":
        if store is None:
            raise ValueError("--target catalog needs the store (run `python -m app import-catalog` first)")
        items = store.list_items()
        if not items:
            from core.labeling.image_sets import ImageSetError
            raise ImageSetError("the store has no catalog items; run `python -m app import-catalog PATH` first")
        records = tuple(ImageRecord(i["sha256"], path=Path(i["path"]),
                                    attributes={"item_id": i["item_id"], "kind": i["kind"], **(i.get("attributes") or {})})
                        for i in items)
        return ImageSet("catalog", records)
    path = Path(target)
    if (path.is_dir() and (path / "items.csv").is_file()) or path.name == "items.csv":
        return from_catalog(path)
    return from_folder(path)


def simulated_data(preset: str, target: ImageSet, *, source_limit: int | None = None, seed: int = 0) -> LabeledData:
    """Label Fashion-MNIST (all 70,000, or a seeded subset) and the target set with a preset's rules."""
    from core.labeling.fashion_mnist import load_fashion_mnist
    from core.labeling.simulated_labeler import get_simulated_labeler, simulated_click

    labeler = get_simulated_labeler(preset)
    data = load_fashion_mnist("all")
    labels = labeler.fashion.label(data.images, data.labels)
    indices: Sequence[int] = np.arange(len(labels))
    if source_limit is not None and source_limit < len(labels):
        indices = np.sort(np.random.default_rng(seed).choice(len(labels), size=source_limit, replace=False))
    source = _fashion_set(data.images, data.labels, indices, labels[indices])
    missing = [r for r in target.records if labeler.catalog.attribute not in r.attributes]
    if missing:
        raise ValueError(f"simulated labeler {preset!r} needs the {labeler.catalog.attribute!r} column; "
                         f"{len(missing)} target images lack it (use a catalog folder with items.csv)")
    target_labels = labeler.catalog.label([r.attributes for r in target.records], [r.image_id for r in target.records])
    clicked = tuple(replace(r, region_xy=simulated_click(load_image(r, size=128, channels=3) * 255))
                    for r in target.with_labels(target_labels).records)
    return LabeledData(f"sim-{preset}", source, ImageSet(target.name, clicked))


def _fashion_set(images: np.ndarray, classes: np.ndarray, indices: Sequence[int], labels: Sequence[int]) -> ImageSet:
    from core.labeling.fashion_mnist import CATEGORY_NAMES, image_id

    records = tuple(ImageRecord(image_id(images[i]), array=255 - images[i], label=int(y),
                                attributes={"class": CATEGORY_NAMES[int(classes[i])], "index": int(i)})
                    for i, y in zip(indices, labels))
    return ImageSet("fashion-mnist", records)


def store_data(store: Store, labeler_name: str, target: ImageSet) -> LabeledData:
    """A person's answers from the store: Fashion-MNIST images they labeled, and the target set's."""
    labelers = {row["name"]: row["labeler_id"] for row in store.list_labelers()}
    labeler_id = labelers.get(labeler_name) or (labeler_name if labeler_name in labelers.values() else None)
    if labeler_id is None:
        raise ValueError(f"no labeler {labeler_name!r} in the store (known: {', '.join(labelers) or 'none'})")
    rows = store.list_image_labels(labeler_id)
    source = with_store_labels(from_fashion_mnist("all", photo_polarity=True), rows)
    return LabeledData(labeler_name, ImageSet("fashion-mnist", source.records), with_store_labels(target, rows))
