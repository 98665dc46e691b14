"""Fashion-MNIST from the Debian package ``dataset-fashion-mnist`` (offline, no downloads).

The package installs the four original IDX files (gzip) under
``/usr/share/datasets/fashion-mnist``; ``$IPE_FASHION_MNIST`` points elsewhere if needed.
Images are 28x28 uint8 with the garment *light on a black background* (Zalando inverted
the product photos), so a high pixel value means a dark part of the real garment.
"""
from __future__ import annotations

import gzip
import hashlib
import os
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core.errors import IPEError

DEFAULT_FOLDER = Path("/usr/share/datasets/fashion-mnist")  # where the Debian package puts it
CATEGORY_NAMES: tuple[str, ...] = (
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
)
_FILES = {"train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
          "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")}


class DatasetError(IPEError):
    """A dataset is missing or unreadable."""


@dataclass(frozen=True)
class FashionMNIST:
    images: np.ndarray  # (N, 28, 28) uint8
    labels: np.ndarray  # (N,) int64 class index into CATEGORY_NAMES
    split: str

    def __len__(self) -> int:
        return int(self.labels.shape[0])


def fashion_mnist_folder() -> Path:
    return Path(os.environ.get("IPE_FASHION_MNIST") or DEFAULT_FOLDER)


def _read_idx(path: Path, magic: int) -> np.ndarray:
    if not path.is_file():
        raise DatasetError(
            f"{path} not found: install Fashion-MNIST with `apt-get install dataset-fashion-mnist` "
            "or set IPE_FASHION_MNIST to a folder holding the four *-ubyte.gz files"
        )
    try:
        with gzip.open(path, "rb") as handle:
            data = handle.read()
    except (OSError, EOFError) as err:
        raise DatasetError(f"{path} is not a readable gzip file: {err}") from err
    found, count = struct.unpack(">II", data[:8])
    if found != magic:
        raise DatasetError(f"{path}: IDX magic {found:#x}, expected {magic:#x}; the file is damaged")
    if magic == 2051:
        rows, cols = struct.unpack(">II", data[8:16])
        return np.frombuffer(data, dtype=np.uint8, offset=16).reshape(count, rows, cols)
    return np.frombuffer(data, dtype=np.uint8, offset=8).astype(np.int64)


def load_fashion_mnist(split: str = "train", folder: str | os.PathLike[str] | None = None) -> FashionMNIST:
    """``split`` in {"train" (60,000), "test" (10,000), "all" (70,000: train then test)}."""
    if split == "all":
        train, test = load_fashion_mnist("train", folder), load_fashion_mnist("test", folder)
        return FashionMNIST(np.concatenate([train.images, test.images]), np.concatenate([train.labels, test.labels]), "all")
    if split not in _FILES:
        raise DatasetError(f"unknown Fashion-MNIST split {split!r}; use train, test or all")
    base = Path(folder) if folder else fashion_mnist_folder()
    images = _read_idx(base / _FILES[split][0], 2051)
    labels = _read_idx(base / _FILES[split][1], 2049)
    if len(images) != len(labels):
        raise DatasetError(f"{base}: {len(images)} images but {len(labels)} labels for split {split}")
    return FashionMNIST(images, labels, split)


def image_id(image: np.ndarray) -> str:
    """Content id of one image (sha256 of its uint8 bytes): what the labeling tool stores as image_sha256."""
    return hashlib.sha256(np.ascontiguousarray(image, dtype=np.uint8).tobytes()).hexdigest()
