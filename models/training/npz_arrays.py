"""Arrays read lazily from the feature cache's ``.npz`` files, so RAM stays bounded.

``ReactionFeatures.save`` writes an *uncompressed* npz (``np.savez``): every member is a plain
``.npy`` stored contiguously inside the zip. :func:`npz_member` finds where a member's data
starts, so a video's clips (N, 16, 112, 112, 3) uint8 can be read one clip at a time with a
single ``pread`` (:meth:`ArrayRef.read`) or opened as a read-only ``np.memmap``
(:meth:`ArrayRef.open`) instead of being loaded whole. A compressed member cannot be mapped:
it is then decompressed on each read (correct, slower; re-save with ``np.savez`` to fix).

``LazyArrays`` is a sequence of such references that behaves like a list of arrays
(``seq[i]`` is a memmap), pickles as a few numbers per array (cheap to send to DataLoader
workers) and holds no open file between reads.
"""
from __future__ import annotations

import os
import struct
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np

from core.errors import IPEError

_LOCAL_HEADER = struct.Struct("<4s5H3I2H")  # zip local file header, 30 bytes


class LazyArrayError(IPEError):
    """A feature file cannot be read lazily (missing, truncated or not an npz)."""


@dataclass(frozen=True)
class ArrayRef:
    """One array inside a file: ``offset`` of its raw data (None: compressed npz member)."""

    path: str
    member: str
    shape: tuple[int, ...]
    dtype: str
    offset: int | None
    fortran: bool = False

    @property
    def ndim(self) -> int:
        return len(self.shape)

    def __len__(self) -> int:
        return self.shape[0]

    def open(self) -> np.ndarray:
        """The whole array as a read-only memmap (or, for a compressed member, loaded)."""
        if self.offset is None:
            return self._load_member()
        return np.memmap(self.path, dtype=np.dtype(self.dtype), mode="r", offset=self.offset, shape=self.shape,
                         order="F" if self.fortran else "C")

    def read(self, index: int | None = None) -> np.ndarray:
        """A fresh in-memory copy of ``array[index]`` (or of the whole array): one ``pread``."""
        if self.offset is None or self.fortran:
            whole = np.asarray(self._load_member() if self.offset is None else self.open())
            return np.array(whole if index is None else whole[index])
        dtype = np.dtype(self.dtype)
        row = int(np.prod(self.shape[1:], dtype=np.int64)) * dtype.itemsize
        if index is None:
            start, count, shape = 0, self.shape[0] * row, self.shape
        else:
            if not -self.shape[0] <= index < self.shape[0]:
                raise IndexError(f"index {index} out of range for {self.shape[0]} items in {self.path}:{self.member}")
            start, count, shape = (index % self.shape[0]) * row, row, self.shape[1:]
        buf = bytearray(count)
        fd = os.open(self.path, os.O_RDONLY)
        try:
            got = os.preadv(fd, [buf], self.offset + start)
        finally:
            os.close(fd)
        if got != count:
            raise LazyArrayError(f"{self.path}: {self.member} is truncated ({got} of {count} bytes); re-run extraction")
        return np.frombuffer(buf, dtype=dtype).reshape(shape)

    def _load_member(self) -> np.ndarray:
        with np.load(self.path, allow_pickle=False) as data:
            return data[self.member]


def npz_member(path: str | Path, member: str) -> ArrayRef:
    """Where ``member`` (e.g. "clips") lies inside the npz at ``path``; reads headers only."""
    path = str(path)
    try:
        with zipfile.ZipFile(path) as zf:
            info = zf.getinfo(f"{member}.npy")
            with zf.open(info) as handle:  # the .npy header: shape, dtype, order
                version = np.lib.format.read_magic(handle)
                read_header = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
                shape, fortran, dtype = read_header(handle)
                header_len = handle.tell() if info.compress_type == zipfile.ZIP_STORED else None
        if info.compress_type != zipfile.ZIP_STORED:
            return ArrayRef(path, member, tuple(shape), dtype.str, None, fortran)
        with open(path, "rb") as raw:
            raw.seek(info.header_offset)
            fields = _LOCAL_HEADER.unpack(raw.read(_LOCAL_HEADER.size))
        if fields[0] != b"PK\x03\x04":
            raise LazyArrayError(f"{path}: bad zip local header for {member}.npy")
        name_len, extra_len = fields[-2], fields[-1]
        data_start = info.header_offset + _LOCAL_HEADER.size + name_len + extra_len + header_len
    except (OSError, KeyError, ValueError, zipfile.BadZipFile) as err:
        raise LazyArrayError(f"cannot read {member!r} from {path}: {err}; re-run `python -m app extract`") from err
    if dtype.hasobject:
        raise LazyArrayError(f"{path}: {member} holds Python objects; refusing to read it")
    return ArrayRef(path, member, tuple(shape), dtype.str, data_start, fortran)


class LazyArrays(Sequence[np.ndarray]):
    """A list of :class:`ArrayRef`; ``seq[i]`` opens array ``i`` as a read-only memmap."""

    def __init__(self, refs: Sequence[ArrayRef]) -> None:
        self.refs = list(refs)

    def __len__(self) -> int:
        return len(self.refs)

    def __getitem__(self, i):  # type: ignore[override]
        if isinstance(i, slice):
            return LazyArrays(self.refs[i])
        return self.refs[i].open()

    def __iter__(self) -> Iterator[np.ndarray]:
        return (r.open() for r in self.refs)

    def take(self, indices: Sequence[int]) -> "LazyArrays":
        return LazyArrays([self.refs[i] for i in indices])

    def shape(self, i: int) -> tuple[int, ...]:
        return self.refs[i].shape

    def dtype(self, i: int) -> np.dtype:
        return np.dtype(self.refs[i].dtype)

    def read(self, i: int, index: int | None = None) -> np.ndarray:
        return self.refs[i].read(index)


def shape_of(arrays: Sequence[np.ndarray], i: int) -> tuple[int, ...]:
    """Shape of ``arrays[i]`` without reading it (lists of arrays or :class:`LazyArrays`)."""
    return arrays.shape(i) if isinstance(arrays, LazyArrays) else tuple(arrays[i].shape)


def read_item(arrays: Sequence[np.ndarray], i: int, index: int | None = None) -> np.ndarray:
    """``arrays[i]`` (or ``arrays[i][index]``) as an in-memory array."""
    if isinstance(arrays, LazyArrays):
        return arrays.read(i, index)
    return arrays[i] if index is None else arrays[i][index]


def take(arrays: Sequence[np.ndarray], indices: Sequence[int]) -> Sequence[np.ndarray]:
    return arrays.take(indices) if isinstance(arrays, LazyArrays) else [arrays[i] for i in indices]
