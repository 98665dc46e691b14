"""Recordings: temporary video files, the atomic commit of a view, and reads of views.

A recording is committed atomically: the video is fsynced under a temporary name, renamed
to its final name, then its row is inserted in one transaction. A crash between the rename
and the insert leaves a file without a row, which :meth:`Store.sweep` finds.
"""
from __future__ import annotations

import errno
import os
import shutil
import uuid
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from core.errors import StoreError, VolunteerWithdrawnError
from core.store import reservations
from core.store.connection import execute, new_id, to_json, utcnow
from core.store.deletion import session_hash
from core.files import TEMP_PREFIX, fsync_dir, fsync_file, sha256_file
from core.store.people import VolunteerTables

VIEW_STATUSES = ("ok", "skipped", "short", "failed")


def _check_view_values(status: str, rating: int | None, position: int, temp: Path | None) -> None:
    if status not in VIEW_STATUSES:
        raise StoreError(f"status must be one of {VIEW_STATUSES}, not {status!r}")
    if rating is not None:
        if isinstance(rating, bool) or not isinstance(rating, int) or not 0 <= rating <= 100:
            raise StoreError(f"a rating is a whole number from 0 to 100, not {rating!r}")
    if isinstance(position, bool) or not isinstance(position, int) or position < 0:
        raise StoreError(f"a view's position in its session is a whole number from 0, not {position!r}")
    if status == "ok" and (rating is None or temp is None):
        raise StoreError("a view with status 'ok' needs both a recording and a rating")
    if status == "skipped" and rating is not None:
        raise StoreError("a skipped view has no rating")


def _check_touch(touched_at: datetime | None, rating: int | None, shown_at: datetime,
                 rated_at: datetime | None) -> None:
    if touched_at is None:
        return
    if rating is None or rated_at is None:
        raise StoreError("a first touch of the rating needs a rating and its time (rated_at)")
    if not shown_at <= touched_at <= rated_at:
        raise StoreError(f"the rating's first touch ({touched_at}) must lie between the outfit shown ({shown_at}) "
                         f"and the rating confirmed ({rated_at})")


def _move_into_place(temp: Path, folder: Path, final: Path, staged_name: str) -> None:
    """fsync ``temp`` and rename it to ``final``; across file systems copy beside the target first."""
    fsync_file(temp)
    folder.mkdir(parents=True, exist_ok=True)
    try:
        os.replace(temp, final)
    except OSError as err:
        if err.errno != errno.EXDEV:
            raise
        # a temporary file on another file system: copy beside the target, then rename
        staged = folder / staged_name
        shutil.copyfile(temp, staged)
        fsync_file(staged)
        os.replace(staged, final)
        temp.unlink()
    fsync_dir(folder)


class RecordingTables(VolunteerTables):
    def new_video_tempfile(self, suffix: str = ".mp4") -> Path:
        """A fresh temporary path under ``videos/`` for a writer to fill (not created)."""
        self.home.videos.mkdir(parents=True, exist_ok=True)
        return self.home.videos / f"{TEMP_PREFIX}{uuid.uuid4().hex}{suffix}"

    def views_for_session(self, session_id: str) -> list[dict[str, Any]]:
        return self.rows("SELECT * FROM view WHERE session_id = ? ORDER BY position", [session_id])

    def get_view(self, view_id: str) -> dict[str, Any] | None:
        return self.one("SELECT * FROM view WHERE view_id = ?", [view_id])

    def list_views(self, *, volunteer_id: str | None = None, status: str | None = None) -> list[dict[str, Any]]:
        return self.rows(
            "SELECT v.*, s.started_at AS session_started_at FROM view v JOIN session s USING (session_id) "
            "WHERE (? IS NULL OR v.volunteer_id = ?) AND (? IS NULL OR v.status = ?) "
            "ORDER BY s.started_at, v.session_id, v.position",
            [volunteer_id, volunteer_id, status, status],
        )

    def video_abspath(self, view: dict[str, Any]) -> Path | None:
        return self.home.root / view["video_path"] if view.get("video_path") else None

    def commit_recording(
        self,
        *,
        session_id: str,
        outfit_id: str,
        position: int,
        temp_video: Path | str | None,
        rating: int | None,
        status: str,
        shown_at: datetime,
        rated_at: datetime | None = None,
        touched_at: datetime | None = None,
        video_meta: dict[str, Any] | None = None,
        _after_rename: Callable[[], None] | None = None,
    ) -> dict[str, Any]:
        """Store one view (a recording + its rating, or a skip) atomically.

        Idempotent on ``(session_id, position)``: committing the same slot again returns
        the existing row and deletes the new temporary file. ``touched_at``: when the volunteer
        first set the rating (between ``shown_at`` and ``rated_at``). ``_after_rename`` is a test
        seam, called between the rename and the insert (crash tests kill the process there).
        """
        temp = Path(temp_video) if temp_video is not None else None
        _check_view_values(status, rating, position, temp)
        _check_touch(touched_at, rating, shown_at, rated_at)
        if self.one("SELECT outfit_id FROM outfit WHERE outfit_id = ?", [outfit_id]) is None:
            raise StoreError(f"unknown outfit {outfit_id!r}")
        if temp is not None and (not temp.is_file() or temp.stat().st_size == 0):
            raise StoreError(f"the recording {temp} is missing or empty; nothing was stored")

        # the session and its volunteer are checked under the write lock that a withdrawal holds
        # while it deletes: a commit either lands before the deletion (which then removes it) or
        # finds the volunteer gone
        with self.write_lock():
            session = self._session_for_commit(session_id, temp)
            existing = self.one("SELECT * FROM view WHERE session_id = ? AND position = ?", [session_id, position])
            if existing is not None:
                if temp is not None:
                    temp.unlink(missing_ok=True)
                return existing
            view_id = new_id("w")
            video_rel = sha = None
            final: Path | None = None
            if temp is not None:
                folder = self.home.videos / session["volunteer_id"]
                final = folder / f"{view_id}{temp.suffix or '.mp4'}"
                try:
                    sha = sha256_file(temp)
                    _move_into_place(temp, folder, final, f"{TEMP_PREFIX}{view_id}{final.suffix}")
                except OSError as err:
                    raise StoreError(f"could not store the recording {temp} as {final}: {err}; "
                                     "check the disk space and permissions of the data home") from err
                video_rel = str(final.relative_to(self.home.root))
            if _after_rename is not None:
                _after_rename()
            meta = dict(video_meta or {})
            lead = meta.get("lead_time_s")
            if lead is None and rated_at is not None:
                lead = (rated_at - shown_at).total_seconds()
            try:
                with self.transaction() as cur:
                    execute(
                        cur,
                        "INSERT INTO view (view_id, session_id, volunteer_id, outfit_id, position, status, rating, "
                        "shown_at, rated_at, touched_at, lead_time_s, video_path, video_sha256, frames, fps, duration_s, "
                        "width, height, video_meta) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        [view_id, session_id, session["volunteer_id"], outfit_id, int(position), status, rating,
                         shown_at, rated_at, touched_at, lead, video_rel, sha, meta.get("frames"), meta.get("fps"),
                         meta.get("duration_s"), meta.get("width"), meta.get("height"), to_json(meta)],
                    )
                    reservations.release(cur, session_id, outfit_id, utcnow())
            except BaseException:
                if final is not None:
                    final.unlink(missing_ok=True)  # no file without a row
                raise
        return self.get_view(view_id)  # type: ignore[return-value]

    def _was_withdrawn(self, session_id: str) -> bool:
        """Its volunteer withdrew, through this process or any other on the same store."""
        return session_id in self._withdrawn or self.one(
            "SELECT 1 AS x FROM withdrawn_session WHERE session_hash = ?", [session_hash(session_id)]) is not None

    def _session_for_commit(self, session_id: str, temp: Path | None) -> dict[str, Any]:
        """The session row, its volunteer present; a withdrawn volunteer's take is deleted."""
        session = self.get_session(session_id)
        if session is None and not self._was_withdrawn(session_id):
            raise StoreError(f"unknown session {session_id!r}")
        if session is not None and self.get_volunteer(session["volunteer_id"]) is not None:
            return session
        if temp is not None:
            temp.unlink(missing_ok=True)  # their face is not kept anywhere
        who = session["volunteer_id"] if session is not None else f"of session {session_id}"
        raise VolunteerWithdrawnError(f"the volunteer {who} has withdrawn and their data was deleted; "
                                      "the recording was discarded, nothing was stored")
