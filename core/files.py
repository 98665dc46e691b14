"""File helpers every track shares: content hashes and crash-safe writes.

A crash-safe write goes to a temporary name in the target's folder, is fsynced, then renamed
over the target (``os.replace`` is atomic on one file system) and the folder is fsynced, so a
reader sees either the old file or the whole new one, never a half-written one.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, BinaryIO

# Every temporary file the kit writes starts with this, so a sweep can find leftovers of a crash.
TEMP_PREFIX = ".tmp-"

__all__ = ["TEMP_PREFIX", "atomic_copy", "atomic_write_bytes", "atomic_write_json", "atomic_write_text", "atomic_writer", "fsync_dir",
           "fsync_file", "sha256_file", "temp_name"]


def sha256_file(path: str | os.PathLike[str], chunk: int = 1 << 20) -> str:
    """Hex sha256 of a file's content, read in chunks (bounded memory at any size)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def fsync_file(path: str | os.PathLike[str]) -> None:
    with open(path, "rb") as handle:
        os.fsync(handle.fileno())


def fsync_dir(path: str | os.PathLike[str]) -> None:
    """Make a rename inside ``path`` durable (a no-op where directories cannot be opened)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def temp_name(target: str | os.PathLike[str]) -> Path:
    """A unique temporary name beside ``target`` (same folder, so the final rename is atomic).

    It keeps the target's suffix, so tools that pick a format from the name still work."""
    target = Path(target)
    return target.with_name(f"{TEMP_PREFIX}{uuid.uuid4().hex[:12]}-{target.name}")


@contextmanager
def atomic_writer(target: str | os.PathLike[str]) -> Iterator[BinaryIO]:
    """Open a temporary file for writing; on success fsync it and rename it over ``target``.

    On any error the temporary file is removed and ``target`` is left as it was."""
    target = Path(target)
    tmp = temp_name(target)
    try:
        with open(tmp, "wb") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_dir(target.parent)


def atomic_write_bytes(target: str | os.PathLike[str], data: bytes) -> Path:
    with atomic_writer(target) as handle:
        handle.write(data)
    return Path(target)


def atomic_write_text(target: str | os.PathLike[str], text: str) -> Path:
    return atomic_write_bytes(target, text.encode("utf-8"))


def atomic_write_json(target: str | os.PathLike[str], payload: Any, **dumps: Any) -> Path:
    return atomic_write_text(target, json.dumps(payload, **dumps))


def atomic_copy(source: str | os.PathLike[str], target: str | os.PathLike[str]) -> Path:
    """Copy ``source`` over ``target`` crash-safely (temporary name, fsync, rename, folder fsync);
    on any error nothing is left at the temporary name and ``target`` is as it was."""
    target = Path(target)
    staged = temp_name(target)
    try:
        shutil.copyfile(source, staged)  # the kernel's copy (sendfile) where it can
        fsync_file(staged)
        os.replace(staged, target)
    except BaseException:
        staged.unlink(missing_ok=True)
        raise
    fsync_dir(target.parent)
    return target
