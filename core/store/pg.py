"""The store on a PostgreSQL server (``IPE_STORE_URL=postgresql://...``), behind the same API.

The store's modules write one SQL dialect, DuckDB's, with ``?`` parameters; this module runs it
on PostgreSQL through psycopg 3 and a connection pool:

- :class:`PgHolder` has the interface of :class:`core.store.lease.FileHolder`: a lease is a pooled
  connection (autocommit; the store opens its transactions itself), reentrant per thread.
- :class:`PgCursor` translates each statement: ``?`` becomes ``%s`` (bound client-side, so a
  ``NULL`` or a text parameter needs no declared type, as in DuckDB), and in ``CREATE``/``ALTER``
  statements ``DOUBLE`` becomes ``DOUBLE PRECISION`` and ``JSON`` becomes ``TEXT`` (the store
  encodes and decodes JSON itself, on both backends, so both hold the same text).
- Snapshots are ``REPEATABLE READ`` transactions; the store's write lock is also a PostgreSQL
  advisory lock, so checks and the writes that depend on them exclude each other across servers;
  migrations run under an advisory lock, so two servers starting at once migrate once.

DuckDB stays the analysis engine: :meth:`PgCursor.arrow_table` gives a table with the Arrow
schema DuckDB would give, so an export writes the same Parquet from either backend.
"""
from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from core.errors import StoreError
from core.store.lease import nested_lease

MIGRATION_LOCK = 0x1BE5701  # advisory lock keys: arbitrary constants of this kit
WRITE_LOCK = 0x1BE5702
_DDL = re.compile(r"^\s*(CREATE|ALTER)\b", re.IGNORECASE)


def _translate(sql: str, has_params: bool) -> str:
    if has_params:  # no statement of the store has a '?' in a literal
        sql = sql.replace("%", "%%").replace("?", "%s")
    if _DDL.match(sql):
        sql = re.sub(r"\bDOUBLE\b", "DOUBLE PRECISION", sql)
        sql = re.sub(r"\bJSON\b", "TEXT", sql)
    return sql


class PgCursor:
    """The part of DuckDB's cursor interface the store uses, on a psycopg connection."""

    def __init__(self, conn: Any) -> None:
        import psycopg

        self._conn = conn
        self._cur = psycopg.ClientCursor(conn)

    def execute(self, sql: str, params: list | tuple = ()) -> PgCursor:
        params = list(params)
        self._cur.execute(_translate(sql, bool(params)), params or None)
        return self

    def executemany(self, sql: str, rows: list) -> PgCursor:
        for params in rows:
            self.execute(sql, params)
        return self

    def fetchall(self) -> list[tuple]:
        return self._cur.fetchall() if self._cur.description is not None else []

    def fetchone(self) -> tuple | None:
        return self._cur.fetchone() if self._cur.description is not None else None

    @property
    def description(self) -> Any:
        return self._cur.description

    def arrow_table(self, table: str) -> Any:
        """A table's rows as Arrow, in the schema DuckDB gives the same table."""
        import pyarrow as pa

        self.execute(f"SELECT * FROM {table}")  # table names come from the store's fixed list
        names = [d[0] for d in self.description]
        rows = [dict(zip(names, row)) for row in self.fetchall()]
        schema = duckdb_schema(table)
        return pa.Table.from_pylist(rows, schema=schema)

    def insert_arrow(self, table: str, arrow: Any) -> None:
        """Insert an Arrow table's rows by column name (an import)."""
        names = arrow.column_names
        sql = f"INSERT INTO {table} ({', '.join(names)}) VALUES ({', '.join('?' for _ in names)})"
        for row in arrow.to_pylist():
            self.execute(sql, [row[n] for n in names])

    def close(self) -> None:
        self._cur.close()


_SCHEMAS: dict[str, Any] = {}
_SCHEMAS_LOCK = threading.Lock()


def duckdb_schema(table: str) -> Any:
    """The Arrow schema of ``table`` in a DuckDB store of the current schema version."""
    with _SCHEMAS_LOCK:
        if not _SCHEMAS:
            import duckdb

            from core.store.migrations import migrate

            mem = duckdb.connect()
            migrate(mem)
            tables = [r[0] for r in mem.execute("SELECT table_name FROM information_schema.tables").fetchall()]
            for name in tables:
                _SCHEMAS[name] = mem.sql(f"SELECT * FROM {name} LIMIT 0").to_arrow_table().schema
            mem.close()
        return _SCHEMAS[table]


class PgHolder:
    """A pool of connections to one PostgreSQL database; a lease is one pooled connection per thread."""

    SNAPSHOT_BEGIN = "BEGIN TRANSACTION ISOLATION LEVEL REPEATABLE READ"

    def __init__(self, url: str, read_only: bool, min_size: int = 1, max_size: int = 8) -> None:
        import psycopg_pool

        self.url = url
        self.db_path = url  # the key under which Store objects of one process share this holder
        self.read_only = read_only
        self._local = threading.local()
        self._cursors = 0
        try:
            self._pool = psycopg_pool.ConnectionPool(url, min_size=min_size, max_size=max_size, open=True,
                                                     kwargs={"autocommit": True}, timeout=30.0)
            self._pool.wait(timeout=30.0)
        except Exception as err:  # psycopg_pool.PoolTimeout, psycopg.OperationalError
            raise StoreError(f"cannot connect to the store at {safe_url(url)}: {err}; check IPE_STORE_URL and "
                             "that the PostgreSQL server runs") from err

    @contextmanager
    def lease(self) -> Iterator[PgCursor]:
        if getattr(self._local, "depth", 0):
            with nested_lease(self._local) as cursor:
                yield cursor
            return
        with self._pool.connection() as conn:
            cursor = PgCursor(conn)
            self._local.cursor, self._local.depth = cursor, 1
            self._cursors += 1
            try:
                yield cursor
            finally:
                self._local.depth = 0
                self._local.cursor = None
                self._cursors -= 1
                cursor.close()

    @contextmanager
    def writes_excluded(self, cursor: PgCursor) -> Iterator[None]:
        """The store's write lock across servers: a session advisory lock, taken by the outermost holder."""
        depth = getattr(self._local, "write_depth", 0)
        if depth == 0:
            cursor.execute("SELECT pg_advisory_lock(?)", [WRITE_LOCK])
        self._local.write_depth = depth + 1
        try:
            yield
        finally:
            self._local.write_depth = depth
            if depth == 0:
                cursor.execute("SELECT pg_advisory_unlock(?)", [WRITE_LOCK])

    @property
    def connected(self) -> bool:
        return True

    @property
    def open_cursors(self) -> int:
        return self._cursors

    def release_now(self) -> None:
        """Nothing to do: a pooled connection holds no lock other servers wait for."""

    def close(self) -> None:
        self._pool.close()


def safe_url(url: str) -> str:
    """The URL without its password, for messages."""
    url = re.sub(r"(//[^:/@]+):[^@]*@", r"\1:***@", url)
    return re.sub(r"(password=)[^&]*", r"\1***", url)


def is_pg_url(url: str | None) -> bool:
    return bool(url) and url.startswith(("postgresql://", "postgres://"))  # type: ignore[union-attr]


def check_schema(cursor: PgCursor, url: str, read_only: bool) -> None:
    """Refuse a newer schema; read-only, refuse an older one; read-write, apply pending migrations
    once, even when several servers start together (under an advisory lock)."""
    from core.store.migrations import LATEST, current_version, migrate

    try:
        have = current_version(cursor)  # type: ignore[arg-type]  # the part of the cursor interface it uses
        if have > LATEST:
            raise StoreError(f"the store at {safe_url(url)} has schema version {have}, newer than this code "
                             f"({LATEST}); update the kit")
        if read_only:
            if have != LATEST:
                raise StoreError(f"the store at {safe_url(url)} has schema version {have}, this code needs "
                                 f"{LATEST}: run `python -m app init` (read-write) to migrate it")
            return
        cursor.execute("SELECT pg_advisory_lock(?)", [MIGRATION_LOCK])
        try:
            migrate(cursor)  # type: ignore[arg-type]
        finally:
            cursor.execute("SELECT pg_advisory_unlock(?)", [MIGRATION_LOCK])
    except Exception as err:
        if driver_error(err):
            raise StoreError(f"cannot migrate the store at {safe_url(url)}: {err}") from err
        raise


def driver_error(exc: BaseException) -> bool:
    import sys

    psycopg = sys.modules.get("psycopg")
    return psycopg is not None and isinstance(exc, psycopg.Error)


def constraint_error(exc: BaseException) -> bool:
    import sys

    psycopg = sys.modules.get("psycopg")
    return psycopg is not None and isinstance(exc, psycopg.IntegrityError)
