"""Opening the DuckDB file, locking, per-thread cursors, transactions and the query API.

Rules (see docs/architecture.md):
- One process owns the file read-write (the Streamlit server, or a CLI command when no
  server runs). A second read-write opener gets :class:`StoreLockedError` saying what to
  do. Readers may open the file ``read_only=True`` when no writer holds it.
- Each thread uses its own cursor (:meth:`StoreConnection.cursor`). DuckDB's optimistic
  concurrency aborts conflicting concurrent writers, so writes inside this process are
  serialised by one lock (:meth:`StoreConnection.write_lock`); reads run concurrently.
- SQL is parameterised, always. Driver errors become :class:`StoreError` raised ``from``
  the driver error.

The public query API other modules use: :meth:`~StoreConnection.rows`,
:meth:`~StoreConnection.one`, :meth:`~StoreConnection.transaction` (with :func:`execute`
inside it), :meth:`~StoreConnection.snapshot` and :meth:`~StoreConnection.write_lock`.
"""
from __future__ import annotations

import json
import os
import re
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, TypeVar

import duckdb

from core.errors import StoreError, StoreLockedError
from core.paths import DataHome
from core.store.migrations import LATEST, current_version, migrate

TABLES = (
    "catalog", "item", "outfit", "volunteer", "session", "view", "labeler", "image_label",
    "feature_cache", "split", "split_member", "model_run",
)
JSON_COLUMNS = {"attributes", "extra", "device_info", "plan", "video_meta", "meta", "params", "config", "metrics"}

S = TypeVar("S", bound="StoreConnection")


def utcnow() -> datetime:
    """Naive UTC timestamp, the form every TIMESTAMP column holds."""
    return datetime.now(timezone.utc).replace(tzinfo=None)


def new_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def to_json(value: Any) -> str | None:
    return None if value is None else json.dumps(value, sort_keys=True, default=str)


def from_json(value: Any) -> Any:
    if value is None or not isinstance(value, str):
        return value
    return json.loads(value)


def execute(cur: duckdb.DuckDBPyConnection, sql: str, params: list | tuple = ()) -> None:
    """One statement on a transaction's cursor; driver errors become :class:`StoreError`."""
    try:
        cur.execute(sql, list(params))
    except duckdb.ConstraintException as err:
        raise StoreError(f"rejected by the store's rules: {err}") from err
    except duckdb.Error as err:
        raise StoreError(f"write failed: {err}") from err


_SHARED: dict[str, tuple[threading.RLock, set[str]]] = {}
_SHARED_GUARD = threading.Lock()


def _shared_for(db_path: Path) -> tuple[threading.RLock, set[str]]:
    """The write lock and the withdrawn ids of one database file in this process.

    Two Store objects opened on the same file in one process share DuckDB's database instance,
    so their writers must queue on the same lock. The withdrawn ids (volunteers and sessions
    deleted by this process) let a late write for a deleted volunteer be told from an unknown id.
    """
    key = str(Path(db_path).resolve())
    with _SHARED_GUARD:
        return _SHARED.setdefault(key, (threading.RLock(), set()))


def _connect(home: DataHome, read_only: bool) -> duckdb.DuckDBPyConnection:
    try:
        return duckdb.connect(str(home.db_path), read_only=read_only)
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


def _check_schema(conn: duckdb.DuckDBPyConnection, home: DataHome, read_only: bool) -> None:
    have = current_version(conn)
    if read_only:
        if have != LATEST:
            raise StoreError(
                f"the store {home.db_path} has schema version {have}, this code needs {LATEST}: "
                "run `python -m app init` (read-write) to migrate it"
            )
        return
    if have > LATEST:
        raise StoreError(
            f"the store {home.db_path} has schema version {have}, newer than this code ({LATEST}); update the kit"
        )
    migrate(conn)


class StoreConnection:
    """The connection half of :class:`core.store.Store`: open, close, cursors, transactions, queries."""

    JSON_COLUMNS = JSON_COLUMNS

    def __init__(self, home: DataHome, conn: duckdb.DuckDBPyConnection, read_only: bool) -> None:
        self.home = home
        self.read_only = read_only
        self._conn = conn
        self._local = threading.local()
        # every cursor handed out, by the thread that owns it; cursors of finished threads are
        # closed when the next one is made (a Streamlit server runs each rerun in a new thread)
        self._cursors: dict[threading.Thread, duckdb.DuckDBPyConnection] = {}
        self._cursors_lock = threading.Lock()
        self._write_lock, self._withdrawn = _shared_for(home.db_path)
        self._closed = False

    @classmethod
    def open(cls: type[S], home: DataHome | str | os.PathLike[str] | None = None, *, read_only: bool = False) -> S:
        """Open (and, read-write, create and migrate) the store of a data home."""
        home = home if isinstance(home, DataHome) else DataHome.resolve(home)
        if read_only:
            if not home.db_path.is_file():
                raise StoreError(f"no store at {home.db_path}; create it with `python -m app init`")
        else:
            home.ensure()
        conn = _connect(home, read_only)
        try:
            _check_schema(conn, home, read_only)
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

    def __enter__(self: S) -> S:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def schema_version(self) -> int:
        return current_version(self.cursor())

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

    def rows(self, sql: str, params: list | tuple = ()) -> list[dict[str, Any]]:
        """A parameterised query's rows as dicts; JSON columns decoded."""
        try:
            cur = self.cursor().execute(sql, list(params))
            names = [d[0] for d in cur.description]
            rows = cur.fetchall()
        except duckdb.Error as err:
            raise StoreError(f"query failed: {err}") from err
        return [{n: (from_json(v) if n in self.JSON_COLUMNS else v) for n, v in zip(names, row)} for row in rows]

    def one(self, sql: str, params: list | tuple = ()) -> dict[str, Any] | None:
        """The first row of :meth:`rows`, or ``None``."""
        rows = self.rows(sql, params)
        return rows[0] if rows else None

    @contextmanager
    def write_lock(self) -> Iterator[None]:
        """Hold this store's write lock (reentrant) across several reads and writes, e.g. a check
        and the write that depends on it. Every transaction takes the same lock."""
        if self.read_only:
            raise StoreError("the store is open read-only; open it read-write to change data")
        with self._write_lock:
            yield

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

    @contextmanager
    def snapshot(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A read transaction on this thread's cursor: every query inside sees the same snapshot,
        even while other threads write. Nothing written inside is kept (it is rolled back)."""
        cur = self.cursor()
        try:
            cur.execute("BEGIN TRANSACTION")
        except duckdb.Error as err:
            raise StoreError(f"cannot start a read transaction: {err}") from err
        try:
            yield cur
        except duckdb.Error as err:
            raise StoreError(f"read failed: {err}") from err
        finally:
            try:
                cur.execute("ROLLBACK")
            except duckdb.Error:
                pass  # an aborted read transaction holds nothing

    def count(self, table: str) -> int:
        if table not in TABLES:
            raise StoreError(f"unknown table {table!r}")
        return int(self.rows(f"SELECT count(*) AS n FROM {table}")[0]["n"])  # table name from the allow-list
