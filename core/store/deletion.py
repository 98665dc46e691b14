"""Withdrawal: deleting a volunteer everywhere, files first, then rows, verified."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from core.errors import StoreError
from core.store.home_files import home_file
from core.store.people import VolunteerTables

_OWN_HASHES = (
    # hashes of this volunteer's videos that no one else's view shares (identical bytes of
    # someone else only happen in synthetic data; their features stay)
    "SELECT DISTINCT video_sha256 FROM view WHERE volunteer_id = ? AND video_sha256 IS NOT NULL "
    "AND video_sha256 NOT IN (SELECT video_sha256 FROM view WHERE volunteer_id <> ? AND video_sha256 IS NOT NULL)"
)
_VOLUNTEER_TABLES = ("outfit_reservation", "view", "session", "split_member", "volunteer")  # fixed table names


class Deletion(VolunteerTables):
    def delete_volunteer(self, id_or_code: str) -> dict[str, Any]:
        """Delete a volunteer everywhere, files first, then rows; verified.

        Files: their recordings, the video folder, orphans of theirs a sweep quarantined,
        browser-recorded takes still uploading or waiting to be committed, and every feature file of their videos (registered in ``feature_cache`` or lying in
        ``home.features`` under the video's hash). Rows: volunteer, sessions, views, outfit reservations, split
        memberships and feature-cache entries; a SHA-256 of each session id is kept in
        ``withdrawn_session`` so that a late take on another server is discarded as a withdrawal
        (see ``recordings.py``). Files go before rows so that an interrupted
        deletion can simply be run again (the volunteer is still found by id or code).
        Trained model runs are not retrained; their data fingerprint no longer matches.
        """
        with self.write_lock():
            volunteer = self.find_volunteer(id_or_code)
            if volunteer is None:
                raise StoreError(f"no volunteer with id or withdrawal code {id_or_code!r}")
            vid = volunteer["volunteer_id"]
            # the write lock keeps new sessions out until the end, so this list stays whole
            sessions = [r["session_id"] for r in self.rows("SELECT session_id FROM session WHERE volunteer_id = ?", [vid])]
            # remembered first: a late write for them is refused as a withdrawal, not as an unknown id
            self._withdrawn.update([vid, *sessions])
            hashes = sorted(r["video_sha256"] for r in self.rows(_OWN_HASHES, [vid, vid]))
            features = self.rows(f"SELECT * FROM feature_cache WHERE video_sha256 IN ({_OWN_HASHES})", [vid, vid])
            deleted = self._delete_files(self._files_of(vid, hashes, features, sessions))
            upload_folders = {Path(p).parent for p in deleted if Path(p).parent.parent == self.home.uploads}
            for folder in [self.home.videos / vid, *self.home.quarantine.glob(f"*/videos/{vid}"), *upload_folders]:
                if folder.is_dir() and not folder.is_symlink() and not any(folder.iterdir()):
                    folder.rmdir()
            counts: dict[str, int] = {}
            with self.transaction() as cur:
                for session_id in sessions:  # other servers learn of the withdrawal from these
                    cur.execute("INSERT INTO withdrawn_session (session_hash) VALUES (?) ON CONFLICT DO NOTHING",
                                [session_hash(session_id)])
                cur.execute(f"DELETE FROM feature_cache WHERE video_sha256 IN ({_OWN_HASHES})", [vid, vid])
                counts["feature_cache"] = len(features)
                for table in _VOLUNTEER_TABLES:
                    before = cur.execute(f"SELECT count(*) FROM {table} WHERE volunteer_id = ?", [vid]).fetchall()[0][0]
                    cur.execute(f"DELETE FROM {table} WHERE volunteer_id = ?", [vid])
                    counts[table] = int(before)
            self._verify_deleted(vid, hashes, deleted)
        return {
            "volunteer_id": vid,
            "rows_deleted": sum(counts.values()),
            "rows_by_table": counts,
            "files_deleted": deleted,
            "verified": True,
        }

    def _files_of(self, vid: str, hashes: list[str], features: list[dict[str, Any]], sessions: list[str]) -> set[Path]:
        """Every file to delete, each checked to lie inside the data home (symlinks resolved):
        a row or a link pointing elsewhere stops the deletion before any file is touched."""
        root = self.home.root
        views = self.rows("SELECT video_path FROM view WHERE volunteer_id = ? AND video_path IS NOT NULL", [vid])
        files = {home_file(root, v["video_path"], what="the video") for v in views}
        files |= {home_file(root, f["path"], what="the feature file") for f in features}
        if self.home.features.is_dir() and hashes:
            wanted = set(hashes)
            files |= {p for p in self.home.features.rglob("*") if p.is_file() and p.name.split(".")[0] in wanted}
        if (self.home.videos / vid).is_dir():
            files |= {p for p in (self.home.videos / vid).rglob("*") if p.is_file()}
        if self.home.quarantine.is_dir():
            files |= {p for p in self.home.quarantine.glob(f"*/videos/{vid}/*") if p.is_file()}
        files |= self._uploads_of(vid, set(sessions))
        base = root.resolve()
        outside = sorted(str(p) for p in files if base not in p.resolve().parents)
        if outside:
            raise StoreError(f"deletion of {vid} refused, nothing was deleted: {', '.join(outside[:5])} "
                             f"lead(s) outside the data home {root} (a symlink?); remove the link, then run it again")
        return files

    def _uploads_of(self, vid: str, sessions: set[str]) -> set[Path]:
        """Browser-recorded takes of ``sessions`` still uploading or waiting to be committed: each slot's
        folder under ``home.uploads`` names its session in ``slot.json``; its normalised video too."""
        if not self.home.uploads.is_dir():
            return set()
        files: set[Path] = set()
        for slot_file in self.home.uploads.glob("*/slot.json"):
            try:
                slot = json.loads(slot_file.read_text())
            except (OSError, ValueError) as err:
                raise StoreError(f"deletion of {vid} stopped before any file was touched: {slot_file} cannot be read "
                                 f"({err}); remove that upload folder by hand, then run it again") from err
            if isinstance(slot, dict) and slot.get("session_id") in sessions:
                files |= {p for p in slot_file.parent.iterdir() if p.is_file()}
                if slot.get("video"):
                    files.add(Path(slot["video"]))
        return files

    @staticmethod
    def _delete_files(files: set[Path]) -> list[str]:
        deleted = []
        for path in sorted(files):
            try:
                path.unlink(missing_ok=True)
            except OSError as err:
                raise StoreError(f"could not delete {path} ({err}); fix the permission and run the deletion again") from err
            deleted.append(str(path))
        return deleted

    def _verify_deleted(self, vid: str, hashes: list[str], deleted: list[str]) -> None:
        left_rows = sum(
            self.rows(f"SELECT count(*) AS n FROM {t} WHERE volunteer_id = ?", [vid])[0]["n"]
            for t in _VOLUNTEER_TABLES
        )
        if hashes:
            marks = ", ".join("?" for _ in hashes)  # placeholders only: the values are parameters
            left_rows += self.rows(f"SELECT count(*) AS n FROM feature_cache WHERE video_sha256 IN ({marks})",
                                   hashes)[0]["n"]
        left_files = [p for p in deleted if Path(p).exists()]
        if left_rows or left_files:
            raise StoreError(f"deletion of {vid} incomplete: {left_rows} rows and files {left_files} remain; run it again")


def session_hash(session_id: str) -> str:
    """The one-way mark ``withdrawn_session`` keeps of a withdrawn session's id."""
    return hashlib.sha256(f"withdrawn-session:{session_id}".encode()).hexdigest()
