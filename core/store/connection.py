"""Opening the DuckDB file, per-thread cursors, transactions and the query API.

Rules (README "The store"):
- Processes take turns on the file: each holds it only while it works (a query, a transaction,
  a snapshot) and lets go when idle, so the CLI can run beside the collection app. A process
  that finds it held waits its turn, bounded; see ``lease.py``.
- Each thread uses its own cursor. DuckDB's optimistic concurrency aborts conflicting
  concurrent writers, so writes inside this process are serialised by one lock
  (:meth:`StoreConnection.write_lock`); reads run concurrently.
- SQL is parameterised, always. Driver errors become :class:`StoreError` raised ``from``
  the driver error.

The public query API other modules use: :meth:`~StoreConnection.rows`,
:meth:`~StoreConnection.one`, :meth:`~StoreConnection.transaction` (with :func:`execute`
inside it), :meth:`~StoreConnection.snapshot`, :meth:`~StoreConnection.write_lock` and
:meth:`~StoreConnection.held`.
"""
from __future__ import annotations

import atexit
import json
import os
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
from core.store import pg
from core.store.lease import FileHolder, StoreTiming, default_timing, lock_holder
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


def driver_error(exc: BaseException | None) -> bool:
    """An error of the database driver (DuckDB's or, on PostgreSQL, psycopg's)."""
    return isinstance(exc, duckdb.Error) or (exc is not None and pg.driver_error(exc))


def constraint_violation(exc: BaseException | None) -> bool:
    """A driver error saying a row broke a rule of the schema (a duplicate key, a CHECK)."""
    return isinstance(exc, duckdb.ConstraintException) or (exc is not None and pg.constraint_error(exc))


def execute(cur: Any, sql: str, params: list | tuple = ()) -> None:
    """One statement on a transaction's cursor; driver errors become :class:`StoreError`."""
    try:
        cur.execute(sql, list(params))
    except Exception as err:
        if constraint_violation(err):
            raise StoreError(f"rejected by the store's rules: {err}") from err
        if driver_error(err):
            raise StoreError(f"write failed: {err}") from err
        raise


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
        holder = lock_holder(err)
        if holder is not None:
            raise StoreLockedError(holder) from err  # FileHolder waits its turn, then says what to do
        raise StoreError(f"cannot open the store {home.db_path}: {err}") from err
    except duckdb.ConnectionException as err:
        if "different configuration" not in str(err):
            raise StoreError(f"cannot open the store {home.db_path}: {err}") from err
        raise StoreError(
            f"the store {home.db_path} is already open in this process "
            f"{'read-write' if read_only else 'read-only'}; use that Store object (or the same Store from "
            "another thread) instead of opening it again in another mode"
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


def _open_checked(home: DataHome, read_only: bool) -> duckdb.DuckDBPyConnection:
    """Open the file and check (read-write: migrate) its schema; every reopen checks again."""
    conn = _connect(home, read_only)
    try:
        _check_schema(conn, home, read_only)
    except duckdb.Error as err:
        conn.close()
        raise StoreError(f"cannot migrate the store {home.db_path}: {err}") from err
    except BaseException:
        conn.close()
        raise
    return conn


# the holders of the files this process has open: Store objects on one file share one connection
Holder = FileHolder | pg.PgHolder
_HOLDERS: dict[str, list] = {}  # resolved path or URL -> [holder, number of open Store objects]


def _key(holder_path: Path | str) -> str:
    return holder_path if isinstance(holder_path, str) else str(Path(holder_path).resolve())


def _holder_for(home: DataHome, read_only: bool, timing: StoreTiming, url: str | None) -> Holder:
    key = url if url else _key(home.db_path)
    with _SHARED_GUARD:
        entry = _HOLDERS.get(key)
        if entry is None:
            holder: Holder = (pg.PgHolder(url, read_only) if url else
                              FileHolder(home.db_path, read_only, timing, lambda: _open_checked(home, read_only)))
            _HOLDERS[key] = entry = [holder, 0]
        elif entry[0].read_only != read_only:
            raise StoreError(
                f"the store {home.db_path} is already open in this process "
                f"{'read-only' if entry[0].read_only else 'read-write'}; use that Store object (or the same Store "
                "from another thread) instead of opening it again in another mode"
            )
        entry[1] += 1
        return entry[0]


@atexit.register
def _close_all_at_exit() -> None:
    """Close the files a process left open at exit (checkpointed, and no connection left to a daemon thread)."""
    with _SHARED_GUARD:
        holders = [entry[0] for entry in _HOLDERS.values()]
        _HOLDERS.clear()
    for holder in holders:
        holder.close()


def _drop_holder(holder: Holder) -> None:
    key = _key(holder.db_path)
    with _SHARED_GUARD:
        entry = _HOLDERS.get(key)
        if entry is None or entry[0] is not holder:
            return
        entry[1] -= 1
        if entry[1] > 0:
            return
        del _HOLDERS[key]
    holder.close()


def store_url(home: DataHome) -> str | None:
    """The database of a data home: ``$IPE_STORE_URL``, or None for the home's DuckDB file."""
    return os.environ.get("IPE_STORE_URL") or None


@contextmanager
def _driver_errors(what: str) -> Iterator[None]:
    """Driver errors inside become :class:`StoreError` ``from`` them, prefixed with ``what``."""
    try:
        yield
    except Exception as err:
        if driver_error(err):
            raise StoreError(f"{what}: {err}") from err
        raise


class StoreConnection:
    """The connection half of :class:`core.store.Store`: open, close, leases, transactions, queries."""

    JSON_COLUMNS = JSON_COLUMNS

    def __init__(self, home: DataHome, holder: Holder, read_only: bool) -> None:
        self.home = home
        self.read_only = read_only
        self._holder = holder
        self._write_lock, self._withdrawn = _shared_for(home.db_path)
        self._closed = False

    @classmethod
    def open(cls: type[S], home: DataHome | str | os.PathLike[str] | None = None, *, read_only: bool = False,
             timing: StoreTiming | None = None, url: str | None = None) -> S:
        """Open (and, read-write, create and migrate) the store of a data home.

        The database is the home's DuckDB file, or the PostgreSQL database at ``url`` (default
        ``$IPE_STORE_URL``); the home keeps the videos, catalog and features either way. The
        DuckDB file is opened and checked now, then held only while the store works (see
        ``core/store/lease.py``); ``timing`` defaults to the process's (``IPE_STORE_*`` settings)."""
        home = home if isinstance(home, DataHome) else DataHome.resolve(home)
        url = url if url is not None else store_url(home)
        if url and not pg.is_pg_url(url):
            raise StoreError(f"IPE_STORE_URL must start with postgresql:// (got {url.split(':')[0]}:...); "
                             "leave it unset for the DuckDB file in the data home")
        if read_only and not url:
            if not home.db_path.is_file():
                raise StoreError(f"no store at {home.db_path}; create it with `python -m app init`")
        elif not read_only:
            home.ensure()
        store = cls(home, _holder_for(home, read_only, timing or default_timing(), url), read_only)
        try:
            with store.held() as cur:
                if url:  # the DuckDB file is checked by each open of it (lease.py); a server here, once
                    pg.check_schema(cur, url, read_only)
        except BaseException:
            store.close()
            raise
        return store

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        _drop_holder(self._holder)

    def __enter__(self: S) -> S:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def held(self) -> Iterator[Any]:
        """Hold the file across several calls (one unit of work); yields this thread's cursor.

        Every query, transaction and snapshot holds it by itself; hold it around a group of calls
        only when they must not be interleaved with another process, and never around slow work
        that needs no store (another process waits meanwhile)."""
        if self._closed:
            raise StoreError("the store is closed")
        with self._holder.lease() as cur:
            yield cur

    def release(self) -> None:
        """Let go of the file now if no unit of work is running (before a long step without the store)."""
        self._holder.release_now()

    @property
    def location(self) -> str:
        """Where the rows are: the DuckDB file, or the PostgreSQL URL without its password."""
        return pg.safe_url(self._holder.url) if isinstance(self._holder, pg.PgHolder) else str(self.home.db_path)

    @property
    def connected(self) -> bool:
        """Whether this process has the file open at this moment."""
        return self._holder.connected

    @property
    def schema_version(self) -> int:
        with self.held() as cur:
            return current_version(cur)

    @property
    def open_cursors(self) -> int:
        """How many per-thread cursors are open (finished threads' cursors are pruned lazily)."""
        return self._holder.open_cursors

    def rows(self, sql: str, params: list | tuple = ()) -> list[dict[str, Any]]:
        """A parameterised query's rows as dicts; JSON columns decoded."""
        try:
            with self.held() as cur:
                cur.execute(sql, list(params))
                names = [d[0] for d in cur.description]
                rows = cur.fetchall()
        except Exception as err:
            if driver_error(err):
                raise StoreError(f"query failed: {err}") from err
            raise
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
        with self._write_lock, self.held() as cur, self._holder.writes_excluded(cur):
            yield

    @contextmanager
    def transaction(self) -> Iterator[Any]:
        """A write transaction on this thread's cursor, serialised with other writers.

        Any driver error inside rolls the transaction back and is raised as
        :class:`StoreError` ``from`` the driver error (a constraint violation says so).
        """
        if self.read_only:
            raise StoreError("the store is open read-only; open it read-write to change data")
        with self._write_lock, self.held() as cur:
            with _driver_errors("cannot start a transaction"):
                cur.execute("BEGIN TRANSACTION")
            try:
                yield cur
            except BaseException as exc:
                try:
                    cur.execute("ROLLBACK")
                except Exception as err:
                    if not driver_error(err):
                        raise
                    # the transaction is already aborted; the original error matters
                if constraint_violation(exc):
                    raise StoreError(f"rejected by the store's rules: {exc}") from exc
                if driver_error(exc):
                    raise StoreError(f"write failed: {exc}") from exc
                raise
            with _driver_errors("commit failed"):
                cur.execute("COMMIT")

    @contextmanager
    def snapshot(self) -> Iterator[Any]:
        """A read transaction on this thread's cursor: every query inside sees the same snapshot,
        even while other threads write (and no other process can write meanwhile: the file is held;
        on PostgreSQL, a repeatable-read transaction). Nothing written inside is kept (rolled back)."""
        with self.held() as cur:
            with _driver_errors("cannot start a read transaction"):
                cur.execute(self._holder.SNAPSHOT_BEGIN)
            try:
                with _driver_errors("read failed"):
                    yield cur
            finally:
                try:
                    cur.execute("ROLLBACK")
                except Exception as err:
                    if not driver_error(err):
                        raise
                    # an aborted read transaction holds nothing

    def count(self, table: str) -> int:
        if table not in TABLES:
            raise StoreError(f"unknown table {table!r}")
        return int(self.rows(f"SELECT count(*) AS n FROM {table}")[0]["n"])  # table name from the allow-list
