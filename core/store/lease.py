"""Holding the DuckDB file only while working, so that several processes can take turns on it.

DuckDB lets one process open a database file read-write, and while it does nobody else can
open it at all. The collection app runs for days; a researcher's CLI command (stats, export,
split, extract, train) must still get in. So a process holds the file only while it works:

- Every query, transaction and snapshot takes a *lease* on the process's one connection to the
  file (:meth:`FileHolder.lease`). The first lease opens the connection; when the last lease
  ends the connection stays open for ``idle_release_s`` (a burst of work pays one open) and is
  then closed; sooner when another process is queued for the file: after a short idle moment,
  or, for a holder that is never idle, at its first moment without a lease once its turn has
  lasted ``MAX_TURN_S``.
- A process that finds the file held joins the queue (a shared ``flock`` on ``<db>.queue``,
  which a holder checks whenever it goes idle) and retries the open with jittered exponential
  back-off; after ``lock_wait_s`` it fails with :class:`StoreLockedError` naming the holder.

A lease is held for one unit of work (a query, a transaction, a check and the write that depends
on it), never across file copies, video decoding or training, so a waiter's turn comes within
one unit of the holder's work. What the collection app loses is that wait;
``bench/bench_store_turns.py`` measures it.
"""
from __future__ import annotations

import fcntl
import os
import random
import re
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

from core.errors import StoreError, StoreLockedError

WAITER_POLL_S = 0.02  # how often an idle holder looks for a queued process
# Once another process queues, the holder lets go when idle this long (the gaps inside one burst of
# queries are shorter, so a burst is not cut into many hand-overs, each an open and a checkpoint) ...
HANDOVER_IDLE_S = 0.02
# ... or, when it is never idle that long, at the first moment without a lease after this long.
MAX_TURN_S = 0.25
# A holder that let go for a queued process leaves it this long to get in before opening again
# (else the one that just let go, needing the file again a moment later, would win every time).
YIELD_S = 0.15
_BACKOFF_FIRST_S, _BACKOFF_MAX_S = 0.005, 0.05


@dataclass(frozen=True)
class StoreTiming:
    """How long a process waits for the store held by another, and keeps it when idle."""

    lock_wait_s: float = 30.0  # then StoreLockedError naming the holder
    idle_release_s: float = 2.0  # an idle connection is closed after this (at once when someone waits)

    def __post_init__(self) -> None:
        if not self.lock_wait_s >= 0 or not self.idle_release_s >= 0:
            raise ValueError("lock_wait_s and idle_release_s are seconds, 0 or more")


_timing = StoreTiming()


def set_default_timing(timing: StoreTiming) -> None:
    """The timing of stores opened later in this process (entry points pass the settings' values)."""
    global _timing
    _timing = timing


def default_timing() -> StoreTiming:
    return _timing


def lock_holder(error: BaseException) -> str | None:
    """``PID n, program`` from DuckDB's lock error, or None when it is not a lock conflict."""
    text = str(error)
    if "lock" not in text.lower():
        return None
    found = re.search(r"held in (.+?) \(PID (\d+)\)", text)
    return f"PID {found.group(2)}, {found.group(1)}" if found else "its PID not known"


class _Queue:
    """The ``<db>.queue`` file: waiters hold a shared flock on it; a holder tests for them."""

    def __init__(self, db_path: Path) -> None:
        self.path = Path(f"{db_path}.queue")
        try:
            self._probe: int | None = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        except OSError:
            self._probe = None  # a read-only home: no queue, the idle release alone hands the file over

    @contextmanager
    def waiting(self) -> Iterator[None]:
        fd = None
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            fcntl.flock(fd, fcntl.LOCK_SH)
        except OSError:
            pass  # as above: without the queue the holder still lets go when idle
        try:
            yield
        finally:
            if fd is not None:
                os.close(fd)

    def someone_waits(self) -> bool:
        if self._probe is None:
            return False
        try:
            fcntl.flock(self._probe, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        except OSError:
            return False
        fcntl.flock(self._probe, fcntl.LOCK_UN)
        return False

    def close(self) -> None:
        if self._probe is not None:
            os.close(self._probe)
            self._probe = None


@contextmanager
def nested_lease(local: threading.local) -> Iterator[Any]:
    """One more level of the lease this thread already holds (``local.depth`` > 0): its cursor."""
    local.depth += 1
    try:
        yield local.cursor
    finally:
        local.depth -= 1


class FileHolder:
    """One process's connection to one DuckDB file, opened on demand and released when idle.

    ``opener`` opens and checks the file (raising :class:`StoreLockedError` when another process
    holds it); per-thread cursors are made from the current connection and remade after a reopen.
    """

    SNAPSHOT_BEGIN = "BEGIN TRANSACTION"

    def __init__(self, db_path: Path, read_only: bool, timing: StoreTiming,
                 opener: Callable[[], duckdb.DuckDBPyConnection]) -> None:
        self.db_path = db_path
        self.read_only = read_only
        self.timing = timing
        self._opener = opener
        self._cond = threading.Condition()
        self._conn: duckdb.DuckDBPyConnection | None = None
        self._generation = 0
        self._opening = False
        self._users = 0
        self._idle_since = time.monotonic()
        self._waiter_since: float | None = None  # when this holder first saw another process queued
        self._yielded_at: float | None = None  # when it last let go for one
        self._closed = False
        self._cursors: dict[threading.Thread, duckdb.DuckDBPyConnection] = {}
        self._local = threading.local()
        self._queue = _Queue(db_path)
        self._reaper: threading.Thread | None = None

    # ------------------------------------------------------------------ leases
    @contextmanager
    def lease(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """Hold the file for one unit of work; yields this thread's cursor. Reentrant."""
        if getattr(self._local, "depth", 0):
            with nested_lease(self._local) as cursor:
                yield cursor
            return
        self._acquire()
        try:
            cursor = self._cursor()
            self._local.depth = 1
            try:
                yield cursor
            finally:
                self._local.depth = 0
        finally:
            self._release()

    def _acquire(self) -> None:
        with self._cond:
            while True:
                if self._closed:
                    raise StoreError("the store is closed")
                if self._conn is not None:
                    self._users += 1
                    return
                if not self._opening:
                    self._opening = True
                    break
                self._cond.wait()
        try:
            conn = self._open_in_turn()
        except BaseException:
            with self._cond:
                self._opening = False
                self._cond.notify_all()
            raise
        with self._cond:
            self._opening = False
            self._conn, self._generation, self._users = conn, self._generation + 1, self._users + 1
            self._cond.notify_all()
            if self._reaper is None and self.timing.idle_release_s > 0:
                self._reaper = threading.Thread(target=self._reap, name=f"store-idle-{self.db_path.name}", daemon=True)
                self._reaper.start()

    def _open_in_turn(self) -> duckdb.DuckDBPyConnection:
        """Open the file, queueing behind another process for up to ``lock_wait_s``.

        ``opener`` raises :class:`StoreLockedError` whose message names the holder."""
        if self._yielded_at is not None:
            # let the process we let go for get in (it leaves the queue when it has the file)
            until = self._yielded_at + YIELD_S
            while time.monotonic() < until and self._queue.someone_waits():
                time.sleep(_BACKOFF_FIRST_S)
            self._yielded_at = None
        try:
            return self._opener()
        except StoreLockedError as first:
            error = first
        deadline = time.monotonic() + self.timing.lock_wait_s
        pause = _BACKOFF_FIRST_S
        with self._queue.waiting():
            while time.monotonic() < deadline:
                # jittered, so that two waiters do not retry in step
                time.sleep(min(pause * random.uniform(0.5, 1.5), max(0.0, deadline - time.monotonic())))
                pause = min(pause * 2, _BACKOFF_MAX_S)
                try:
                    return self._opener()
                except StoreLockedError as again:
                    error = again
        raise StoreLockedError(
            f"the store {self.db_path} is held by another process ({error}) and was not released within "
            f"{self.timing.lock_wait_s:g} s (IPE_STORE_LOCK_WAIT_S). The collection app and the CLI take turns "
            "on the store, each holding it only while it works, so a process that keeps it this long is busy "
            "with a long write, stuck, or an older version of the kit: wait and try again, raise "
            "IPE_STORE_LOCK_WAIT_S, stop the other one (e.g. the Streamlit server started by scripts/run.sh), "
            "or use another data home with --home"
        ) from error.__cause__

    def _release(self) -> None:
        with self._cond:
            self._users -= 1
            if self._users:
                return
            self._idle_since = now = time.monotonic()
            # checked here, not by waking the idle thread: a release must cost no thread switch
            if self._queue.someone_waits():
                self._waiter_since = self._waiter_since or now
            else:
                self._waiter_since = None
            if self.timing.idle_release_s == 0 or (
                    self._waiter_since is not None and now - self._waiter_since >= MAX_TURN_S):
                self._close_connection()

    def _cursor(self) -> duckdb.DuckDBPyConnection:
        """This thread's cursor on the current connection (made on first use after each open)."""
        if getattr(self._local, "generation", None) == self._generation:
            return self._local.cursor
        with self._cond:
            for thread in [t for t in self._cursors if not t.is_alive()]:
                _close_quietly(self._cursors.pop(thread))
            try:
                cursor = self._conn.cursor()  # type: ignore[union-attr]  # a lease is held: it is open
            except duckdb.Error as err:
                raise StoreError(f"cannot open a cursor on the store: {err}") from err
            old = self._cursors.pop(threading.current_thread(), None)
            if old is not None:
                _close_quietly(old)
            self._cursors[threading.current_thread()] = cursor
        self._local.cursor, self._local.generation = cursor, self._generation
        return cursor

    # ------------------------------------------------------------------ release
    def _reap(self) -> None:
        """Close the connection once idle for ``idle_release_s``, sooner when another process queues."""
        with self._cond:
            while not self._closed:
                if self._conn is None:
                    self._cond.wait()  # woken when the file is opened again
                    continue
                if self._users:
                    self._cond.wait(WAITER_POLL_S)
                    continue
                now = time.monotonic()
                if not self._queue.someone_waits():
                    self._waiter_since, limit = None, self.timing.idle_release_s
                else:
                    self._waiter_since, limit = self._waiter_since or now, HANDOVER_IDLE_S
                    if now - self._waiter_since >= MAX_TURN_S:
                        limit = 0.0
                left = self._idle_since + limit - now
                if left <= 0:
                    self._close_connection()
                    continue
                self._cond.wait(min(left, WAITER_POLL_S))

    def _close_connection(self) -> None:
        """Close every cursor and the connection (the caller holds ``_cond`` and no lease is out)."""
        if self._conn is not None and self._waiter_since is not None:
            self._yielded_at = time.monotonic()
        for cursor in self._cursors.values():
            _close_quietly(cursor)
        self._cursors.clear()
        if self._conn is not None:
            _close_quietly(self._conn)
            self._conn = None
        self._waiter_since = None

    @contextmanager
    def writes_excluded(self, cursor: duckdb.DuckDBPyConnection) -> Iterator[None]:
        """Nothing beyond the process's write lock: no other process has the file meanwhile."""
        yield

    @property
    def connected(self) -> bool:
        """Whether the file is open now (held by this process)."""
        with self._cond:
            return self._conn is not None

    @property
    def open_cursors(self) -> int:
        with self._cond:
            return len(self._cursors)

    def release_now(self) -> None:
        """Close the connection now if no lease is out (e.g. before a long step that needs no store)."""
        with self._cond:
            if not self._users:
                self._close_connection()

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._close_connection()
            self._queue.close()
            self._cond.notify_all()


def _close_quietly(conn: duckdb.DuckDBPyConnection) -> None:
    try:
        conn.close()
    except duckdb.Error:
        pass  # closing a cursor of a closed connection is harmless
