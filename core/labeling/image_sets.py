"""Image sets for preference labeling and training (torch-free).

An :class:`ImageSet` is an ordered tuple of :class:`ImageRecord` (content id, a file path or an
in-memory array, an optional label, attributes, an optional decisive-region click). Sources:

* a catalog folder (``items.csv``: item_id,kind,path,<attributes>; see ``core/collection/catalog.py``),
* any folder of images (``core/labeling/image_files.py``: the same file types labeling shows, recursively),
* Fashion-MNIST (``core/labeling/fashion_mnist.py``), ids are the sha256 of the 28x28 uint8 bytes.

Labels come from a simulated rule (``core/labeling/simulated_labeler.py``) or from the store's
``image_label`` rows (:func:`with_store_labels`). Label 1 = preferred, 0 = not preferred.
"""
from __future__ import annotations

import csv
import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import numpy as np
from PIL import Image

from core.errors import IPEError, MediaError
from core.files import sha256_file
from core.labeling.image_files import IMAGE_SUFFIXES, image_files
from core.media_limits import open_image
ANSWER_TO_LABEL = {"preferred": 1, "not_preferred": 0}


class ImageSetError(IPEError):
    """An image set could not be built."""


@dataclass(frozen=True)
class ImageRecord:
    image_id: str                      # sha256 of the file bytes (or of the array bytes)
    path: Path | None = None
    array: np.ndarray | None = field(default=None, compare=False, repr=False)
    label: int | None = None
    attributes: Mapping[str, Any] = field(default_factory=dict, compare=False)
    region_xy: tuple[float, float] | None = None  # decisive-region click, image fractions (x, y)


@dataclass(frozen=True)
class ImageSet:
    name: str
    records: tuple[ImageRecord, ...]

    def __len__(self) -> int:
        return len(self.records)

    @property
    def labels(self) -> np.ndarray:
        """Labels as int64; raises when any record is unlabeled (use :meth:`labeled` first)."""
        if any(r.label is None for r in self.records):
            raise ImageSetError(f"image set {self.name!r} has unlabeled images; call .labeled() first")
        return np.array([r.label for r in self.records], dtype=np.int64)

    def labeled(self) -> "ImageSet":
        return ImageSet(self.name, tuple(r for r in self.records if r.label is not None))

    def with_labels(self, labels: Sequence[int]) -> "ImageSet":
        if len(labels) != len(self.records):
            raise ImageSetError(f"{len(labels)} labels for {len(self.records)} images in {self.name!r}")
        return ImageSet(self.name, tuple(replace(r, label=int(y)) for r, y in zip(self.records, labels)))

    def subset(self, indices: Iterable[int]) -> "ImageSet":
        return ImageSet(self.name, tuple(self.records[int(i)] for i in indices))


def from_catalog(folder: str | os.PathLike[str], *, kind: str | None = None) -> ImageSet:
    """Every item of a catalog folder (or its ``items.csv``); attributes are the CSV's other columns."""
    csv_path = Path(folder)
    if csv_path.is_dir():
        csv_path = csv_path / "items.csv"
    if not csv_path.is_file():
        raise ImageSetError(f"{csv_path} not found: a catalog folder holds items.csv (item_id,kind,path,...)")
    with open(csv_path, newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    records = []
    for row in rows:
        if kind is not None and row.get("kind") != kind:
            continue
        path = (csv_path.parent / row["path"]).resolve()
        if not path.is_file():
            raise ImageSetError(f"{csv_path}: item {row.get('item_id')} points at missing file {path}")
        attributes = {k: v for k, v in row.items() if k != "path"}
        records.append(ImageRecord(sha256_file(path), path=path, attributes=attributes))
    if not records:
        raise ImageSetError(f"{csv_path} lists no items{'' if kind is None else f' of kind {kind!r}'}")
    return ImageSet(f"catalog:{csv_path.parent.name}", tuple(records))


def from_folder(folder: str | os.PathLike[str]) -> ImageSet:
    """Every image file under ``folder`` (sorted by path); duplicates by content are kept once."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ImageSetError(f"{folder} is not a folder of images")
    records = [ImageRecord(sha, path=path.resolve(), attributes={"name": path.stem})
               for path, sha in image_files(folder)]
    if not records:
        raise ImageSetError(f"no images ({', '.join(IMAGE_SUFFIXES)}) under {folder}")
    return ImageSet(f"folder:{folder.name}", tuple(records))


def from_fashion_mnist(split: str = "train", *, indices: Sequence[int] | None = None,
                       labels: Sequence[int] | None = None, photo_polarity: bool = False) -> ImageSet:
    """Fashion-MNIST images as arrays; ``attributes`` carry the class name and source index.

    ``photo_polarity`` stores ``255 - image`` (dark garment on white, like catalog photos) for
    transfer to catalog images; the id stays that of the stored Fashion-MNIST bytes.
    """
    from core.labeling.fashion_mnist import CATEGORY_NAMES, image_id, load_fashion_mnist

    data = load_fashion_mnist(split)
    chosen = range(len(data)) if indices is None else indices
    records = []
    for n, i in enumerate(chosen):
        image = data.images[int(i)]
        label = None if labels is None else int(labels[n])
        records.append(ImageRecord(image_id(image), array=255 - image if photo_polarity else image, label=label,
                                   attributes={"class": CATEGORY_NAMES[int(data.labels[int(i)])], "index": int(i),
                                               "split": split}))
    return ImageSet(f"fashion-mnist:{split}", tuple(records))


def with_store_labels(image_set: ImageSet, label_rows: Sequence[Mapping[str, Any]], *,
                      drop_unlabeled: bool = True) -> ImageSet:
    """Attach labels from ``image_label`` rows (dicts with image_sha256, answer, optional region_xy).

    Rows are taken in order (the store returns them by answer time) and the last answer per
    image wins; ``skip`` answers and undone rows (``undone_at`` set) give no label.
    """
    latest: dict[str, Mapping[str, Any]] = {}
    for row in label_rows:
        if row.get("undone_at") is not None:
            continue
        if row["answer"] == "skip":
            latest.pop(row["image_sha256"], None)
            continue
        if row["answer"] not in ANSWER_TO_LABEL:
            raise ImageSetError(f"unknown answer {row['answer']!r} in image_label rows")
        latest[row["image_sha256"]] = row
    records = []
    for record in image_set.records:
        row = latest.get(record.image_id)
        if row is None:
            if not drop_unlabeled:
                records.append(record)
            continue
        region = row.get("region_xy")
        records.append(replace(record, label=ANSWER_TO_LABEL[row["answer"]],
                               region_xy=tuple(region) if region is not None else None))
    return ImageSet(image_set.name, tuple(records))


def load_image(record: ImageRecord, *, size: int, channels: int) -> np.ndarray:
    """The record's image as float32 (size, size, channels) in [0, 1]; Fashion-MNIST is used as stored."""
    if record.array is not None:
        array = np.asarray(record.array)
        image = Image.fromarray(array if array.dtype == np.uint8 else (np.clip(array, 0, 1) * 255).astype(np.uint8))
    else:
        try:
            with open_image(record.path) as opened:  # pixel count checked before decoding
                image = opened.convert("RGB")
        except MediaError as err:
            raise ImageSetError(f"cannot read image {record.path}: {err}") from err
        except OSError as err:
            raise ImageSetError(f"cannot read image {record.path}: {err}") from err
    image = image.convert("L" if channels == 1 else "RGB")
    if image.size != (size, size):
        image = image.resize((size, size), Image.BILINEAR)
    out = np.asarray(image, dtype=np.float32) / 255.0
    return out[..., None] if channels == 1 else out


def stack_images(image_set: ImageSet, *, size: int, channels: int) -> np.ndarray:
    """All images of the set as float32 (N, size, size, channels) in [0, 1]."""
    if len(image_set) == 0:
        return np.zeros((0, size, size, channels), dtype=np.float32)
    return np.stack([load_image(r, size=size, channels=channels) for r in image_set.records])
