"""Where user data lives: one data home (default ``./var`` or ``$IPE_HOME``)."""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class DataHome:
    """The folders of one data home. Nothing here touches the disk until ``ensure()``."""

    root: Path

    @classmethod
    def resolve(cls, home: str | os.PathLike[str] | None = None) -> "DataHome":
        return cls(Path(home or os.environ.get("IPE_HOME") or "var").resolve())

    @property
    def db_path(self) -> Path:
        return self.root / "ipe.duckdb"

    @property
    def videos(self) -> Path:
        return self.root / "videos"

    @property
    def catalog(self) -> Path:
        return self.root / "catalog"

    @property
    def features(self) -> Path:
        return self.root / "features"

    @property
    def runs(self) -> Path:
        return self.root / "runs"

    @property
    def uploads(self) -> Path:
        """Browser-recorded takes while they upload and wait to be committed (``core/collection/take_upload.py``)."""
        return self.root / "uploads"

    @property
    def quarantine(self) -> Path:
        return self.root / "quarantine"

    def ensure(self) -> "DataHome":
        for folder in (self.root, self.videos, self.catalog, self.features, self.runs):
            folder.mkdir(parents=True, exist_ok=True)
        return self


def resolve_inside(path: str | os.PathLike[str], root: str | os.PathLike[str]) -> Path | None:
    """``path`` (absolute, or relative to ``root``) resolved with symlinks followed, if that lies
    strictly inside ``root``; else None. What a visitor names is checked this way before it is read."""
    base = Path(root).resolve()
    given = Path(path).expanduser()
    resolved = (given if given.is_absolute() else base / given).resolve()
    return resolved if resolved.is_relative_to(base) and resolved != base else None
