"""Image files in a folder: the one list of file types that labeling and training both read.

Labeling (``core/labeling/session.py``) and training (``core/labeling/image_sets.py``) must
see the same files, or labels given to an image would be dropped when training reads the
folder; both list folders with :func:`image_files`.
"""
from __future__ import annotations

import os
from pathlib import Path

from core.files import sha256_file

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".gif")


def image_files(folder: str | os.PathLike[str], *, recursive: bool = True) -> list[tuple[Path, str]]:
    """``(path, sha256)`` of every image file under ``folder``, sorted by path, each content once.

    Files are those with a suffix in :data:`IMAGE_SUFFIXES` (any case). A file whose real
    location (symlinks followed) is outside ``folder`` is left out, so a folder cannot hand
    out files from elsewhere on the server.
    """
    root = Path(folder).expanduser().resolve()
    found = root.rglob("*") if recursive else root.iterdir()
    out: list[tuple[Path, str]] = []
    seen: set[str] = set()
    for path in sorted(p for p in found if p.suffix.lower() in IMAGE_SUFFIXES):
        real = path.resolve()
        if not real.is_file() or not real.is_relative_to(root):
            continue
        sha = sha256_file(real)
        if sha not in seen:
            seen.add(sha)
            out.append((path, sha))
    return out
