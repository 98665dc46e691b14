"""The sweep: video files without rows, rows without files or whose file changed, stale temporary files."""
from __future__ import annotations

import os
import time
from typing import Any

from core.store.connection import StoreConnection, utcnow
from core.files import TEMP_PREFIX, sha256_file


class Sweep(StoreConnection):
    def sweep(self, *, quarantine: bool = False, temp_grace_s: float = 300.0,
              verify_hashes: bool = True) -> dict[str, Any]:
        """Find video files without rows, rows without files, rows whose file changed, and
        stale temporary files.

        ``changed_files`` lists the views whose video no longer has the sha256 stored with
        the row (with ``verify_hashes``, the default: every video is read). Their cached
        features were computed from the original bytes and the training data looks them up
        by the stored hash, so a changed file is reported, never silently used: restore the
        original (e.g. from an export) or delete the view. With ``quarantine=True`` orphan
        and stale temporary files are moved to ``home.quarantine`` (never deleted).
        Temporary files younger than ``temp_grace_s`` may belong to a writer that is still
        running and are left alone.
        """
        # files first, rows second: a take committed meanwhile by another process (renamed, then
        # its row inserted) is then never taken for an orphan
        files = sorted(p for p in self.home.videos.rglob("*") if p.is_file()) if self.home.videos.is_dir() else []
        rows = self.rows("SELECT view_id, video_path, video_sha256 FROM view WHERE video_path IS NOT NULL")
        known = {r["video_path"] for r in rows}
        orphans: list[str] = []
        temps: list[str] = []
        now = time.time()
        for path in files:
            rel = str(path.relative_to(self.home.root))
            if path.name.startswith(TEMP_PREFIX):
                try:
                    if now - path.stat().st_mtime >= temp_grace_s:
                        temps.append(rel)
                except FileNotFoundError:
                    pass  # committed (renamed) or discarded since it was listed
            elif rel not in known:
                orphans.append(rel)
        missing, changed = [], []
        for row in rows:
            path = self.home.root / row["video_path"]
            if not path.is_file():
                missing.append(row["view_id"])
            elif verify_hashes and sha256_file(path) != row["video_sha256"]:
                changed.append(row["view_id"])
        moved: list[str] = []
        if quarantine and (orphans or temps):
            stamp = utcnow().strftime("%Y%m%dT%H%M%S")
            for rel in orphans + temps:
                target = self.home.quarantine / stamp / rel
                target.parent.mkdir(parents=True, exist_ok=True)
                os.replace(self.home.root / rel, target)
                moved.append(str(target))
        return {"orphan_files": orphans, "missing_files": missing, "changed_files": changed, "temp_files": temps,
                "quarantined": moved}
