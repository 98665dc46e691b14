"""The DuckDB store: one read-write process, a cursor per thread, atomic recordings.

Rules (see docs/architecture.md):
- One process owns the file read-write (the Streamlit server, or a CLI command when no
  server runs). A second read-write opener gets :class:`StoreLockedError` saying what to
  do. Readers may open the file ``read_only=True`` when no writer holds it.
- Each thread uses its own cursor (``Store.cursor()``). DuckDB's optimistic concurrency
  aborts conflicting concurrent writers, so writes inside this process are serialised by
  one lock; reads run concurrently.
- SQL is parameterised, always. Driver errors become :class:`StoreError` raised ``from``
  the driver error.
- A recording is committed atomically: the video is fsynced under a temporary name,
  renamed to its final name, then its row is inserted in one transaction. A crash between
  the rename and the insert leaves a file without a row, which :meth:`Store.sweep` finds.
"""
from __future__ import annotations

import errno
import hashlib
import json
import os
import re
import secrets
import shutil
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import duckdb

from core.errors import StoreError, StoreLockedError
from core.store.migrations import LATEST, current_version, migrate
from core.paths import DataHome

VIEW_STATUSES = ("ok", "skipped", "short", "failed")
ANSWERS = ("preferred", "not_preferred", "skip")
TEMP_PREFIX = ".tmp-"
_CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read aloud safely


def utcnow() -> datetime:
    """Naive UTC timestamp, the form every TIMESTAMP column holds."""
    return datetime.now(timezone.utc).replace(tzinfo=None)


def sha256_file(path: str | os.PathLike[str], chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def _fsync_file(path: Path) -> None:
    with open(path, "rb+") as handle:
        handle.flush()
        os.fsync(handle.fileno())


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _new_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def _withdrawal_code() -> str:
    chars = "".join(secrets.choice(_CODE_ALPHABET) for _ in range(12))
    return f"{chars[:4]}-{chars[4:8]}-{chars[8:]}"


def _json(value: Any) -> str | None:
    return None if value is None else json.dumps(value, sort_keys=True, default=str)


def _unjson(value: Any) -> Any:
    if value is None or not isinstance(value, str):
        return value
    return json.loads(value)


_WRITE_LOCKS: dict[str, threading.RLock] = {}
_WRITE_LOCKS_GUARD = threading.Lock()


def _write_lock_for(db_path: Path) -> threading.RLock:
    """One write lock per database file and process: two Store objects opened on the same file in
    one process share DuckDB's database instance, so their writers must queue on the same lock."""
    key = str(Path(db_path).resolve())
    with _WRITE_LOCKS_GUARD:
        return _WRITE_LOCKS.setdefault(key, threading.RLock())


class Store:
    """The kit's database. Open with :meth:`Store.open`; use as a context manager."""

    JSON_COLUMNS = {"attributes", "extra", "device_info", "plan", "video_meta", "meta", "params", "config", "metrics"}

    def __init__(self, home: DataHome, conn: duckdb.DuckDBPyConnection, read_only: bool) -> None:
        self.home = home
        self.read_only = read_only
        self._conn = conn
        self._local = threading.local()
        # every cursor handed out, by the thread that owns it; cursors of finished threads are
        # closed when the next one is made (a Streamlit server runs each rerun in a new thread)
        self._cursors: dict[threading.Thread, duckdb.DuckDBPyConnection] = {}
        self._cursors_lock = threading.Lock()
        self._write_lock = _write_lock_for(home.db_path)
        self._known_labelers: set[str] = set()
        self._closed = False

    # ------------------------------------------------------------------ opening
    @classmethod
    def open(cls, home: DataHome | str | os.PathLike[str] | None = None, *, read_only: bool = False) -> "Store":
        """Open (and, read-write, create and migrate) the store of a data home."""
        home = home if isinstance(home, DataHome) else DataHome.resolve(home)
        if read_only:
            if not home.db_path.is_file():
                raise StoreError(f"no store at {home.db_path}; create it with `python -m app init`")
        else:
            home.ensure()
        try:
            conn = duckdb.connect(str(home.db_path), read_only=read_only)
        except duckdb.IOException as err:
            text = str(err)
            if "lock" in text.lower():
                holder = re.search(r"held in (.+?) \(PID (\d+)\)", text)
                who = f"PID {holder.group(2)}, {holder.group(1)}" if holder else "another process"
                raise StoreLockedError(
                    f"the store {home.db_path} is in use by another process ({who}). Only one process may "
                    "write it, and while it does nobody else can open it: stop the other one (e.g. the "
                    "Streamlit server started by scripts/run.sh), or use another data home with --home; "
                    "tools that only read can open it read-only (read_only=True) once no writer runs, "
                    "or use an export (`python -m app export`, or the researcher page)."
                ) from err
            raise StoreError(f"cannot open the store {home.db_path}: {text}") from err
        except duckdb.ConnectionException as err:
            if "different configuration" not in str(err):
                raise StoreError(f"cannot open the store {home.db_path}: {err}") from err
            raise StoreError(
                f"the store {home.db_path} is already open in this process "
                f"{'read-write' if read_only else 'read-only'}; use that Store object (or Store.cursor() "
                "from another thread) instead of opening it again in another mode"
            ) from err
        except duckdb.Error as err:
            raise StoreError(f"cannot open the store {home.db_path}: {err}") from err
        try:
            if read_only:
                have = current_version(conn)
                if have != LATEST:
                    raise StoreError(
                        f"the store {home.db_path} has schema version {have}, this code needs {LATEST}: "
                        "run `python -m app init` (read-write) to migrate it"
                    )
            else:
                have = current_version(conn)
                if have > LATEST:
                    raise StoreError(
                        f"the store {home.db_path} has schema version {have}, newer than this code "
                        f"({LATEST}); update the kit"
                    )
                migrate(conn)
        except duckdb.Error as err:
            conn.close()
            raise StoreError(f"cannot migrate the store {home.db_path}: {err}") from err
        except StoreError:
            conn.close()
            raise
        return cls(home, conn, read_only)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        with self._cursors_lock:
            for cur in self._cursors.values():
                try:
                    cur.close()
                except duckdb.Error:
                    pass  # closing a cursor of a closed connection is harmless
            self._cursors.clear()
        self._conn.close()

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def schema_version(self) -> int:
        return current_version(self.cursor())

    # ------------------------------------------------------------------ plumbing
    def cursor(self) -> duckdb.DuckDBPyConnection:
        """This thread's cursor (created on first use)."""
        if self._closed:
            raise StoreError("the store is closed")
        cur = getattr(self._local, "cursor", None)
        if cur is None:
            with self._cursors_lock:
                for thread in [t for t in self._cursors if not t.is_alive()]:
                    try:
                        self._cursors.pop(thread).close()
                    except duckdb.Error:
                        pass  # its thread is gone; a cursor that cannot close holds nothing we need
                try:
                    cur = self._conn.cursor()
                except duckdb.Error as err:
                    raise StoreError(f"cannot open a cursor on the store: {err}") from err
                self._cursors[threading.current_thread()] = cur
            self._local.cursor = cur
        return cur

    @property
    def open_cursors(self) -> int:
        """How many per-thread cursors are open (finished threads' cursors are pruned lazily)."""
        with self._cursors_lock:
            return len(self._cursors)

    def _rows(self, sql: str, params: list | tuple = ()) -> list[dict[str, Any]]:
        try:
            cur = self.cursor().execute(sql, list(params))
            names = [d[0] for d in cur.description]
            rows = cur.fetchall()
        except duckdb.Error as err:
            raise StoreError(f"query failed: {err}") from err
        return [
            {n: (_unjson(v) if n in self.JSON_COLUMNS else v) for n, v in zip(names, row)} for row in rows
        ]

    def _one(self, sql: str, params: list | tuple = ()) -> dict[str, Any] | None:
        rows = self._rows(sql, params)
        return rows[0] if rows else None

    @contextmanager
    def transaction(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A write transaction on this thread's cursor, serialised with other writers.

        Any DuckDB error inside rolls the transaction back and is raised as
        :class:`StoreError` ``from`` the driver error (a constraint violation says so).
        """
        if self.read_only:
            raise StoreError("the store is open read-only; open it read-write to change data")
        with self._write_lock:
            cur = self.cursor()
            try:
                cur.execute("BEGIN TRANSACTION")
            except duckdb.Error as err:
                raise StoreError(f"cannot start a transaction: {err}") from err
            try:
                yield cur
            except BaseException as exc:
                try:
                    cur.execute("ROLLBACK")
                except duckdb.Error:
                    pass  # the transaction is already aborted; the original error matters
                if isinstance(exc, duckdb.ConstraintException):
                    raise StoreError(f"rejected by the store's rules: {exc}") from exc
                if isinstance(exc, duckdb.Error):
                    raise StoreError(f"write failed: {exc}") from exc
                raise
            try:
                cur.execute("COMMIT")
            except duckdb.Error as err:
                raise StoreError(f"commit failed: {err}") from err

    def _exec(self, cur: duckdb.DuckDBPyConnection, sql: str, params: list | tuple = ()) -> None:
        try:
            cur.execute(sql, list(params))
        except duckdb.ConstraintException as err:
            raise StoreError(f"rejected by the store's rules: {err}") from err
        except duckdb.Error as err:
            raise StoreError(f"write failed: {err}") from err

    def count(self, table: str) -> int:
        if table not in {
            "catalog", "item", "outfit", "volunteer", "session", "view", "labeler", "image_label",
            "feature_cache", "split", "split_member", "model_run",
        }:
            raise StoreError(f"unknown table {table!r}")
        return int(self._rows(f"SELECT count(*) AS n FROM {table}")[0]["n"])  # table name from the allow-list

    # ------------------------------------------------------------------ catalog
    def list_catalogs(self) -> list[dict[str, Any]]:
        return self._rows("SELECT * FROM catalog ORDER BY created_at, catalog_id")

    def list_items(self, kind: str | None = None) -> list[dict[str, Any]]:
        if kind is not None and kind not in ("top", "bottom"):
            raise StoreError(f"kind must be 'top' or 'bottom', not {kind!r}")
        rows = self._rows(
            "SELECT item_id, catalog_id, kind, path, sha256, width, height, attributes FROM item "
            "WHERE ? IS NULL OR kind = ? ORDER BY item_id",
            [kind, kind],
        )
        for row in rows:
            row["path"] = str(self.home.root / row["path"])
        return rows

    def list_outfits(self) -> list[dict[str, Any]]:
        rows = self._rows(
            "SELECT o.outfit_id, o.catalog_id, o.top_id, o.bottom_id, t.path AS top_path, b.path AS bottom_path "
            "FROM outfit o JOIN item t ON t.item_id = o.top_id JOIN item b ON b.item_id = o.bottom_id "
            "ORDER BY o.outfit_id"
        )
        for row in rows:
            row["top_path"] = str(self.home.root / row["top_path"])
            row["bottom_path"] = str(self.home.root / row["bottom_path"])
        return rows

    # ------------------------------------------------------------------ volunteers
    def add_volunteer(
        self, *, age_band: str, gender: str, extra: dict | None = None, consent: dict[str, Any]
    ) -> dict[str, Any]:
        """Create a pseudonymous volunteer; ``consent['recording']`` must be true."""
        if not consent.get("version"):
            raise StoreError("consent needs a version")
        if not consent.get("recording"):
            raise StoreError("a volunteer can only be added after consenting to recording and analysis")
        if not age_band or not gender:
            raise StoreError("age band and gender are required (gender may be 'prefer not to say')")
        accepted = consent.get("accepted_at") or utcnow()
        for _ in range(5):
            volunteer_id = "v-" + secrets.token_hex(4)
            code = _withdrawal_code()
            try:
                with self.transaction() as cur:
                    cur.execute(
                        "INSERT INTO volunteer (volunteer_id, withdrawal_code, age_band, gender, extra, consent_version, "
                        "consent_recording, consent_training, consent_publication, consent_at) "
                        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        [volunteer_id, code, age_band, gender, _json(extra or {}), str(consent["version"]),
                         bool(consent.get("recording")), bool(consent.get("training")),
                         bool(consent.get("publication")), accepted],
                    )
            except StoreError as err:
                if isinstance(err.__cause__, duckdb.ConstraintException):
                    continue  # an id or code collision: draw again
                raise
            return self.get_volunteer(volunteer_id)  # type: ignore[return-value]
        raise StoreError("could not draw a unique volunteer id; try again")

    def get_volunteer(self, volunteer_id: str) -> dict[str, Any] | None:
        return self._one("SELECT * FROM volunteer WHERE volunteer_id = ?", [volunteer_id])

    def find_volunteer(self, id_or_withdrawal_code: str) -> dict[str, Any] | None:
        key = (id_or_withdrawal_code or "").strip()
        return self._one(
            "SELECT * FROM volunteer WHERE volunteer_id = ? OR withdrawal_code = upper(?)", [key, key]
        )

    def list_volunteers(self) -> list[dict[str, Any]]:
        return self._rows(
            "SELECT v.*, (SELECT count(*) FROM session s WHERE s.volunteer_id = v.volunteer_id) AS sessions "
            "FROM volunteer v ORDER BY v.created_at, v.volunteer_id"
        )

    # ------------------------------------------------------------------ sessions
    def start_session(
        self,
        volunteer_id: str,
        *,
        device_info: dict | None = None,
        plan: list[str] | None = None,
        research_mode: str | None = None,
    ) -> str:
        if self.get_volunteer(volunteer_id) is None:
            raise StoreError(f"unknown volunteer {volunteer_id!r}")
        session_id = _new_id("s")
        with self.transaction() as cur:
            self._exec(
                cur,
                "INSERT INTO session (session_id, volunteer_id, started_at, device_info, plan, research_mode) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                [session_id, volunteer_id, utcnow(), _json(device_info or {}), _json(plan or []), research_mode],
            )
        return session_id

    def get_session(self, session_id: str) -> dict[str, Any] | None:
        return self._one("SELECT * FROM session WHERE session_id = ?", [session_id])

    def finish_session(self, session_id: str, *, stopped_early: bool = False) -> None:
        with self.transaction() as cur:
            self._exec(
                cur,
                "UPDATE session SET finished_at = ?, stopped_early = ? WHERE session_id = ? AND finished_at IS NULL",
                [utcnow(), stopped_early, session_id],
            )

    def sessions_for_volunteer(self, volunteer_id: str) -> list[dict[str, Any]]:
        return self._rows(
            "SELECT * FROM session WHERE volunteer_id = ? ORDER BY started_at", [volunteer_id]
        )

    def outfits_seen_by(self, volunteer_id: str) -> set[str]:
        rows = self._rows("SELECT DISTINCT outfit_id FROM view WHERE volunteer_id = ?", [volunteer_id])
        return {r["outfit_id"] for r in rows}

    def outfit_coverage(self) -> dict[str, int]:
        """Rated (status ok) views per outfit, every outfit present (0 when unrated)."""
        rows = self._rows(
            "SELECT o.outfit_id, count(v.view_id) AS n FROM outfit o "
            "LEFT JOIN view v ON v.outfit_id = o.outfit_id AND v.status = 'ok' GROUP BY o.outfit_id"
        )
        return {r["outfit_id"]: int(r["n"]) for r in rows}

    # ------------------------------------------------------------------ recordings
    def new_video_tempfile(self, suffix: str = ".mp4") -> Path:
        """A fresh temporary path under ``videos/`` for a writer to fill (not created)."""
        self.home.videos.mkdir(parents=True, exist_ok=True)
        return self.home.videos / f"{TEMP_PREFIX}{uuid.uuid4().hex}{suffix}"

    def views_for_session(self, session_id: str) -> list[dict[str, Any]]:
        return self._rows("SELECT * FROM view WHERE session_id = ? ORDER BY position", [session_id])

    def get_view(self, view_id: str) -> dict[str, Any] | None:
        return self._one("SELECT * FROM view WHERE view_id = ?", [view_id])

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
        video_meta: dict[str, Any] | None = None,
        _after_rename: Callable[[], None] | None = None,
    ) -> dict[str, Any]:
        """Store one view (a recording + its rating, or a skip) atomically.

        Idempotent on ``(session_id, position)``: committing the same slot again returns
        the existing row and deletes the new temporary file. ``_after_rename`` is a test
        seam, called between the rename and the insert (crash tests kill the process there).
        """
        temp = Path(temp_video) if temp_video is not None else None
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
        session = self.get_session(session_id)
        if session is None:
            raise StoreError(f"unknown session {session_id!r}")
        if self._one("SELECT outfit_id FROM outfit WHERE outfit_id = ?", [outfit_id]) is None:
            raise StoreError(f"unknown outfit {outfit_id!r}")
        if temp is not None and (not temp.is_file() or temp.stat().st_size == 0):
            raise StoreError(f"the recording {temp} is missing or empty; nothing was stored")

        with self._write_lock:
            existing = self._one(
                "SELECT * FROM view WHERE session_id = ? AND position = ?", [session_id, position]
            )
            if existing is not None:
                if temp is not None:
                    temp.unlink(missing_ok=True)
                return existing
            view_id = _new_id("w")
            video_rel = sha = None
            final: Path | None = None
            if temp is not None:
                folder = self.home.videos / session["volunteer_id"]
                final = folder / f"{view_id}{temp.suffix or '.mp4'}"
                try:
                    _fsync_file(temp)
                    sha = sha256_file(temp)
                    folder.mkdir(parents=True, exist_ok=True)
                    try:
                        os.replace(temp, final)
                    except OSError as err:
                        if err.errno != errno.EXDEV:
                            raise
                        # a temporary file on another file system: copy beside the target, then rename
                        staged = folder / f"{TEMP_PREFIX}{view_id}{final.suffix}"
                        shutil.copyfile(temp, staged)
                        _fsync_file(staged)
                        os.replace(staged, final)
                        temp.unlink()
                    _fsync_dir(folder)
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
                    self._exec(
                        cur,
                        "INSERT INTO view (view_id, session_id, volunteer_id, outfit_id, position, status, rating, "
                        "shown_at, rated_at, lead_time_s, video_path, video_sha256, frames, fps, duration_s, width, "
                        "height, video_meta) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        [view_id, session_id, session["volunteer_id"], outfit_id, int(position), status, rating,
                         shown_at, rated_at, lead, video_rel, sha, meta.get("frames"), meta.get("fps"),
                         meta.get("duration_s"), meta.get("width"), meta.get("height"), _json(meta)],
                    )
            except BaseException:
                if final is not None:
                    final.unlink(missing_ok=True)  # no file without a row
                raise
        return self.get_view(view_id)  # type: ignore[return-value]

    def list_views(
        self, *, volunteer_id: str | None = None, status: str | None = None
    ) -> list[dict[str, Any]]:
        rows = self._rows(
            "SELECT v.*, s.started_at AS session_started_at FROM view v JOIN session s USING (session_id) "
            "WHERE (? IS NULL OR v.volunteer_id = ?) AND (? IS NULL OR v.status = ?) "
            "ORDER BY s.started_at, v.session_id, v.position",
            [volunteer_id, volunteer_id, status, status],
        )
        return rows

    def video_abspath(self, view: dict[str, Any]) -> Path | None:
        return self.home.root / view["video_path"] if view.get("video_path") else None

    # ------------------------------------------------------------------ deletion and sweep
    def delete_volunteer(self, id_or_code: str) -> dict[str, Any]:
        """Delete a volunteer everywhere, files first, then rows; verified.

        Files: their recordings, the video folder, orphans of theirs a sweep quarantined,
        and every feature file of their videos (registered in ``feature_cache`` or lying in
        ``home.features`` under the video's hash). Rows: volunteer, sessions, views, split
        memberships and feature-cache entries. Files go before rows so that an interrupted
        deletion can simply be run again (the volunteer is still found by id or code).
        Trained model runs are not retrained; their data fingerprint no longer matches.
        """
        with self._write_lock:
            volunteer = self.find_volunteer(id_or_code)
            if volunteer is None:
                raise StoreError(f"no volunteer with id or withdrawal code {id_or_code!r}")
            vid = volunteer["volunteer_id"]
            views = self._rows("SELECT view_id, video_path, video_sha256 FROM view WHERE volunteer_id = ?", [vid])
            # hashes of this volunteer's videos that no one else's view shares (identical bytes of
            # someone else only happen in synthetic data; their features stay)
            own = ("SELECT DISTINCT video_sha256 FROM view WHERE volunteer_id = ? AND video_sha256 IS NOT NULL "
                   "AND video_sha256 NOT IN (SELECT video_sha256 FROM view WHERE volunteer_id <> ? "
                   "AND video_sha256 IS NOT NULL)")
            hashes = sorted(r["video_sha256"] for r in self._rows(own, [vid, vid]))
            features = self._rows(f"SELECT * FROM feature_cache WHERE video_sha256 IN ({own})", [vid, vid])
            files = {self.home.root / v["video_path"] for v in views if v["video_path"]}
            files |= {self._feature_path(f["path"]) for f in features}
            if self.home.features.is_dir() and hashes:
                wanted = set(hashes)
                files |= {p for p in self.home.features.rglob("*")
                          if p.is_file() and p.name.split(".")[0] in wanted}
            if (self.home.videos / vid).is_dir():
                files |= {p for p in (self.home.videos / vid).rglob("*") if p.is_file()}
            if self.home.quarantine.is_dir():
                files |= {p for p in self.home.quarantine.glob(f"*/videos/{vid}/*") if p.is_file()}
            deleted = []
            for path in sorted(files):
                try:
                    path.unlink(missing_ok=True)
                except OSError as err:
                    raise StoreError(f"could not delete {path} ({err}); fix the permission and run the deletion again") from err
                deleted.append(str(path))
            for folder in [self.home.videos / vid, *self.home.quarantine.glob(f"*/videos/{vid}")]:
                if folder.is_dir() and not any(folder.iterdir()):
                    folder.rmdir()
            counts: dict[str, int] = {}
            with self.transaction() as cur:
                cur.execute(f"DELETE FROM feature_cache WHERE video_sha256 IN ({own})", [vid, vid])
                counts["feature_cache"] = len(features)
                for table in ("view", "session", "split_member", "volunteer"):  # fixed table names
                    before = cur.execute(f"SELECT count(*) FROM {table} WHERE volunteer_id = ?", [vid]).fetchall()[0][0]
                    cur.execute(f"DELETE FROM {table} WHERE volunteer_id = ?", [vid])
                    counts[table] = int(before)
            left_rows = sum(
                self._rows(f"SELECT count(*) AS n FROM {t} WHERE volunteer_id = ?", [vid])[0]["n"]
                for t in ("volunteer", "session", "view", "split_member")
            )
            if hashes:
                left_rows += self._rows("SELECT count(*) AS n FROM feature_cache WHERE list_contains(?, video_sha256)",
                                        [hashes])[0]["n"]
            left_files = [p for p in deleted if Path(p).exists()]
            if left_rows or left_files:
                raise StoreError(f"deletion of {vid} incomplete: {left_rows} rows and files {left_files} remain; run it again")
        return {
            "volunteer_id": vid,
            "rows_deleted": sum(counts.values()),
            "rows_by_table": counts,
            "files_deleted": deleted,
            "verified": True,
        }

    def _feature_path(self, stored: str) -> Path:
        path = Path(stored)
        return path if path.is_absolute() else self.home.root / path

    def sweep(self, *, quarantine: bool = False, temp_grace_s: float = 300.0) -> dict[str, Any]:
        """Find video files without rows, rows without files and stale temporary files.

        With ``quarantine=True`` orphan and stale temporary files are moved to
        ``home.quarantine`` (never deleted). Temporary files younger than
        ``temp_grace_s`` may belong to a writer that is still running and are left alone.
        """
        import time

        known = {
            r["video_path"] for r in self._rows("SELECT video_path FROM view WHERE video_path IS NOT NULL")
        }
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
            for r in self._rows("SELECT view_id, video_path FROM view WHERE video_path IS NOT NULL")
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

    # ------------------------------------------------------------------ labeling
    def add_labeler(self, name: str) -> str:
        name = (name or "").strip()
        if not name:
            raise StoreError("a labeler needs a name or id")
        with self.transaction() as cur:
            rows = cur.execute("SELECT labeler_id FROM labeler WHERE name = ?", [name]).fetchall()
            row = rows[0] if rows else None
            if row:
                return row[0]
            labeler_id = _new_id("l")
            self._exec(cur, "INSERT INTO labeler (labeler_id, name) VALUES (?, ?)", [labeler_id, name])
        return labeler_id

    def list_labelers(self) -> list[dict[str, Any]]:
        return self._rows("SELECT * FROM labeler ORDER BY name")

    def add_image_label(
        self,
        *,
        labeler_id: str,
        image_path: str,
        image_sha256: str,
        answer: str,
        response_ms: int,
        region_xy: tuple[float, float] | None = None,
        is_gold: bool = False,
        slow: bool = False,
        label_id: str | None = None,
        image_set: str | None = None,
        answered_at: datetime | None = None,
    ) -> str:
        """Store one answer; idempotent on ``label_id`` (a UUID made by the client)."""
        if answer not in ANSWERS:
            raise StoreError(f"answer must be one of {ANSWERS}, not {answer!r}")
        if response_ms < 0:
            raise StoreError("a response time cannot be negative")
        if region_xy is not None and not all(0.0 <= c <= 1.0 for c in region_xy):
            raise StoreError("a decisive-region click is given in image fractions (0..1)")
        label_id = label_id or str(uuid.uuid4())
        if labeler_id not in self._known_labelers:  # labelers are never deleted: check once per id
            if self._one("SELECT labeler_id FROM labeler WHERE labeler_id = ?", [labeler_id]) is None:
                raise StoreError(f"unknown labeler {labeler_id!r}")
            self._known_labelers.add(labeler_id)
        rx, ry = region_xy if region_xy is not None else (None, None)
        try:
            with self.transaction() as cur:  # one primary-key insert in the common case
                cur.execute(
                    "INSERT INTO image_label (label_id, labeler_id, image_set, image_path, image_sha256, answer, "
                    "response_ms, region_x, region_y, is_gold, slow, answered_at) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [label_id, labeler_id, image_set, image_path, image_sha256, answer, int(response_ms), rx, ry,
                     bool(is_gold), bool(slow), answered_at or utcnow()],
                )
        except StoreError as err:
            # a retry of an answer already stored (same label_id) is fine; anything else is not
            if isinstance(err.__cause__, duckdb.ConstraintException) and self._one(
                "SELECT label_id FROM image_label WHERE label_id = ?", [label_id]
            ):
                return label_id
            raise
        return label_id

    def set_label_region(self, label_id: str, region_xy: tuple[float, float]) -> None:
        if not all(0.0 <= c <= 1.0 for c in region_xy):
            raise StoreError("a decisive-region click is given in image fractions (0..1)")
        with self.transaction() as cur:
            self._exec(cur, "UPDATE image_label SET region_x = ?, region_y = ? WHERE label_id = ?",
                       [region_xy[0], region_xy[1], label_id])

    def undo_image_label(self, label_id: str) -> None:
        """Mark an answer as undone; it is kept (with ``undone_at``) for the audit trail."""
        with self.transaction() as cur:
            self._exec(cur, "UPDATE image_label SET undone_at = ? WHERE label_id = ? AND undone_at IS NULL",
                       [utcnow(), label_id])

    def list_image_labels(self, labeler_id: str | None = None, *, include_undone: bool = False) -> list[dict[str, Any]]:
        rows = self._rows(
            "SELECT * FROM image_label WHERE (? IS NULL OR labeler_id = ?) AND (? OR undone_at IS NULL) "
            "ORDER BY answered_at, created_at",
            [labeler_id, labeler_id, include_undone],
        )
        for row in rows:
            row["region_xy"] = None if row["region_x"] is None else (row["region_x"], row["region_y"])
        return rows

    # ------------------------------------------------------------------ features and runs
    def put_feature_cache(
        self, *, video_sha256: str, extractor: str, version: str, path: str, meta: dict | None = None
    ) -> None:
        with self.transaction() as cur:
            self._exec(
                cur,
                "INSERT OR REPLACE INTO feature_cache (video_sha256, extractor, version, path, meta) VALUES (?, ?, ?, ?, ?)",
                [video_sha256, extractor, version, path, _json(meta or {})],
            )

    def get_feature_cache(self, video_sha256: str, extractor: str, version: str) -> dict[str, Any] | None:
        return self._one(
            "SELECT * FROM feature_cache WHERE video_sha256 = ? AND extractor = ? AND version = ?",
            [video_sha256, extractor, version],
        )

    def add_model_run(
        self, *, kind: str, config: dict, metrics: dict, checkpoint_path: str, split_name: str | None = None,
        run_id: str | None = None,
    ) -> str:
        run_id = run_id or _new_id("run")
        with self.transaction() as cur:
            self._exec(
                cur,
                "INSERT INTO model_run (run_id, kind, config, metrics, checkpoint_path, split_name) VALUES (?, ?, ?, ?, ?, ?)",
                [run_id, kind, _json(config), _json(metrics), checkpoint_path, split_name],
            )
        return run_id

    def list_model_runs(self, kind: str | None = None) -> list[dict[str, Any]]:
        return self._rows(
            "SELECT * FROM model_run WHERE ? IS NULL OR kind = ? ORDER BY created_at", [kind, kind]
        )

    # ------------------------------------------------------------------ stats
    def stats(self, thresholds: Any = None) -> dict[str, Any]:
        """Counts for the researcher page and ``python -m app stats``."""
        from core.labels import LabelThresholds, score_to_class, CLASS_NAMES

        thresholds = thresholds or LabelThresholds()
        by_status = {r["status"]: int(r["n"]) for r in self._rows("SELECT status, count(*) AS n FROM view GROUP BY status")}
        classes = {name: 0 for name in CLASS_NAMES}
        for row in self._rows("SELECT rating FROM view WHERE status = 'ok' AND rating IS NOT NULL"):
            classes[CLASS_NAMES[score_to_class(row["rating"], thresholds)]] += 1
        coverage = self.outfit_coverage()
        values = sorted(coverage.values())
        return {
            "volunteers": self.count("volunteer"),
            "sessions": self.count("session"),
            "sessions_finished": int(self._rows("SELECT count(*) AS n FROM session WHERE finished_at IS NOT NULL")[0]["n"]),
            "views": sum(by_status.values()),
            "views_by_status": {s: by_status.get(s, 0) for s in VIEW_STATUSES},
            "classes": classes,
            "thresholds": {"negative_max": thresholds.negative_max, "positive_min": thresholds.positive_min},
            "items": self.count("item"),
            "outfits": self.count("outfit"),
            "coverage_min": values[0] if values else 0,
            "coverage_max": values[-1] if values else 0,
            "labelers": self.count("labeler"),
            "image_labels": int(self._rows("SELECT count(*) AS n FROM image_label WHERE undone_at IS NULL")[0]["n"]),
            "splits": [r["split_name"] for r in self._rows("SELECT split_name FROM split ORDER BY split_name")],
            "model_runs": self.count("model_run"),
        }
