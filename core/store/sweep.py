"""The sweep: video files without rows, rows without files, stale temporary files."""
from __future__ import annotations

import os
import time
from typing import Any

from core.store.connection import StoreConnection, utcnow
from core.store.files import TEMP_PREFIX


class Sweep(StoreConnection):
    def sweep(self, *, quarantine: bool = False, temp_grace_s: float = 300.0) -> dict[str, Any]:
        """Find video files without rows, rows without files and stale temporary files.

        With ``quarantine=True`` orphan and stale temporary files are moved to
        ``home.quarantine`` (never deleted). Temporary files younger than
        ``temp_grace_s`` may belong to a writer that is still running and are left alone.
        """
        known = {r["video_path"] for r in self.rows("SELECT video_path FROM view WHERE video_path IS NOT NULL")}
        orphans: list[str] = []
        temps: list[str] = []
        now = time.time()
        if self.home.videos.is_dir():
            for path in sorted(self.home.videos.rglob("*")):
                if not path.is_file():
                    continue
                rel = str(path.relative_to(self.home.root))
                if path.name.startswith(TEMP_PREFIX):
                    if now - path.stat().st_mtime >= temp_grace_s:
                        temps.append(rel)
                elif rel not in known:
                    orphans.append(rel)
        missing = [
            r["view_id"]
            for r in self.rows("SELECT view_id, video_path FROM view WHERE video_path IS NOT NULL")
            if not (self.home.root / r["video_path"]).is_file()
        ]
        moved: list[str] = []
        if quarantine and (orphans or temps):
            stamp = utcnow().strftime("%Y%m%dT%H%M%S")
            for rel in orphans + temps:
                target = self.home.quarantine / stamp / rel
                target.parent.mkdir(parents=True, exist_ok=True)
                os.replace(self.home.root / rel, target)
                moved.append(str(target))
        return {"orphan_files": orphans, "missing_files": missing, "temp_files": temps, "quarantined": moved}
