"""Paths into the data home, and copying files into it.

Every path the store keeps (a view's video, an item's image, a feature file) is relative to
the data home, normalised, and resolves (symlinks followed) to a place inside it. Rows come
from imports and from people editing the database, so the rule is checked both when a path
enters the store and where the path is used to read, copy or delete a file.
"""
from __future__ import annotations

import errno
import os
import posixpath
from pathlib import Path
from typing import Any

from core.errors import StoreError

MAX_PATH_CHARS = 1024


def relative_path_problem(rel: object) -> str | None:
    """Why ``rel`` is not a clean relative path (``None`` when it is one).

    Clean: a non-empty string of '/'-separated names, none of them empty, ``.`` or ``..``,
    no backslash, no NUL, not absolute, at most :data:`MAX_PATH_CHARS` characters.
    """
    if not isinstance(rel, str):
        return f"a path must be text, not {type(rel).__name__}"
    if not rel:
        return "the path is empty"
    if len(rel) > MAX_PATH_CHARS:
        return f"the path is longer than {MAX_PATH_CHARS} characters"
    if "\x00" in rel or "\\" in rel:
        return "the path holds a NUL or a backslash"
    if rel.startswith("/") or (len(rel) > 1 and rel[1] == ":"):
        return "the path is absolute"
    if any(part in ("", ".", "..") for part in rel.split("/")) or posixpath.normpath(rel) != rel:
        return "the path is not normalised (empty, '.' or '..' parts)"
    return None


def inside(root: Path, rel: str, *, what: str = "path") -> Path:
    """``root / rel`` after checking that ``rel`` is clean and resolves (symlinks followed) inside ``root``.

    Raises :class:`StoreError` naming the path otherwise; nothing is touched.
    """
    problem = relative_path_problem(rel)
    if problem is not None:
        raise StoreError(f"{what} {str(rel)[:200]!r} is refused: {problem}; paths are relative to {root}")
    base = root.resolve()
    target = base / rel
    try:
        real = target.resolve()
    except (OSError, RuntimeError) as err:  # a symlink loop
        raise StoreError(f"{what} {rel!r} cannot be resolved ({err})") from err
    if real != base and base not in real.parents:
        raise StoreError(f"{what} {rel!r} leads outside {root} (to {real}); it is refused, nothing was touched")
    return target


def home_file(root: Path, stored: str, *, what: str = "path") -> Path:
    """The file a stored path names, checked to lie inside the data home ``root``.

    A feature-cache row may hold an absolute path: it is accepted when it lies inside the
    home, checked with symlinks resolved like a relative one.
    """
    if isinstance(stored, str) and stored.startswith("/"):
        base = root.resolve()
        path = Path(stored)
        real = path.resolve()
        if base not in real.parents:
            raise StoreError(f"{what} {stored!r} lies outside the data home {root}; it is refused, "
                             "nothing was touched: correct the row, then run the command again")
        return path
    return inside(root, stored, what=what)


def unaliased(base: Path, rel: str) -> bool:
    """Whether ``base / rel`` names itself: no symlink (to anywhere) on the way. ``base`` is resolved."""
    path = base / rel
    return os.path.realpath(path) == str(path)


def disk_problem(err: OSError, where: Path) -> str:
    """What an OSError while writing under ``where`` means for a person, and what to do."""
    if err.errno in (errno.ENOSPC, errno.EDQUOT):
        return f"no space left on the disk of {where} ({err.strerror}); free some space, then run it again"
    return f"{err}; check the free space and permissions of {where}, then run it again"


def progress_over(iterable: Any, total: int, desc: str, enabled: bool) -> Any:
    """``iterable`` with a tqdm bar counting files when ``enabled``."""
    if not enabled:
        return iterable
    from tqdm import tqdm

    return tqdm(iterable, total=total, desc=desc, unit="file")


def make_dirs(folder: Path, created: list[Path]) -> None:
    """``mkdir -p`` that records the folders it made (outermost first), so a failure can remove them."""
    missing = []
    probe = folder
    while not probe.exists():
        missing.append(probe)
        probe = probe.parent
    for path in reversed(missing):
        path.mkdir()
        created.append(path)


def undo_copies(copied: list[Path], made: list[Path]) -> None:
    """Remove the files an import copied, then the folders :func:`make_dirs` made for them where empty."""
    for path in copied:
        path.unlink(missing_ok=True)
    for folder in reversed(made):
        try:
            folder.rmdir()
        except OSError:
            pass  # not empty (someone else's file) or already gone: leave it
