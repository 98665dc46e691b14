"""Export the dataset to a portable folder; import (``importer.py``) loads such a folder into an empty store.

Layout of an export (the manifest is described in ``manifest.py``)::

    manifest.json              format, schema version, rows and sha256 of every table and file
    tables/<table>.parquet     every table of the store
    videos/...                 every recording referenced by a view
    catalog/images/...         every garment image referenced by an item

Derived files (feature caches, trained runs) are not exported: they are recomputed.
The export is written to a temporary folder beside ``out`` and renamed when complete, so a
folder named ``out`` is always whole, and two exports into one folder cannot mix. Every file
copied is checked, where it is read, to lie inside the data home: a row pointing elsewhere
stops the export.
"""
from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.errors import StoreError
from core.store.connection import utcnow
from core.files import sha256_file
from core.store.home_files import disk_problem, inside, progress_over
from core.store.importer import import_dataset
from core.store.manifest import FILE_ROOTS, FORMAT, TABLES, path_problem, verify_export

if TYPE_CHECKING:
    from core.store.database import Store

__all__ = ["FORMAT", "TABLES", "export_dataset", "import_dataset", "table_digest", "verify_export"]


def export_dataset(store: Store, out: str | os.PathLike[str], *, progress: bool = True) -> Path:
    """Write the export folder ``out`` (must not exist); return it.

    Exports into the same folder exclude each other: a lock file beside ``out`` is held while
    writing (a second export is refused at once), each writes its own temporary folder, and the
    finished folder is renamed to ``out`` only if nothing has taken that name meanwhile.
    """
    out = Path(out).resolve()
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        with _exclusive(out):
            if out.exists():
                raise StoreError(f"{out} already exists; export into a new folder")
            partial = Path(tempfile.mkdtemp(prefix=f".{out.name}.partial-", dir=out.parent))
            try:
                _write_export(store, partial, progress)
                try:
                    os.rename(partial, out)  # refused when another export has taken the name
                except OSError as err:
                    if out.exists():
                        raise StoreError(f"{out} was created by someone else during this export; "
                                         "nothing was written, export into a new folder") from err
                    raise
            except BaseException:
                shutil.rmtree(partial, ignore_errors=True)
                raise
    except OSError as err:  # disk full, permissions: the temporary folder is already gone
        raise StoreError(f"export to {out} failed, nothing was written: {disk_problem(err, out.parent)}") from err
    return out


@contextmanager
def _exclusive(out: Path) -> Iterator[None]:
    """Hold the export lock of ``out`` (a file beside it, locked with flock; released if the process dies)."""
    lock = out.parent / f".{out.name}.export-lock"
    fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as err:
            raise StoreError(f"another export into {out} is running; wait for it, or export into another folder") from err
        try:
            yield
        finally:
            lock.unlink(missing_ok=True)  # while still held: a later exporter makes a fresh one
    finally:
        os.close(fd)


def _write_export(store: Store, folder: Path, progress: bool) -> None:
    """Tables, files and manifest into ``folder`` (empty)."""
    import pyarrow.parquet as pq

    (folder / "tables").mkdir()
    manifest: dict[str, Any] = {
        "format": FORMAT, "schema_version": store.schema_version, "created_at": utcnow().isoformat(),
        "tables": {}, "files": {},
    }
    # one read transaction: every table from the same snapshot, even while the server keeps writing
    snapshot = _read_snapshot(store)
    for table in TABLES:
        arrow = snapshot[table]
        path = folder / "tables" / f"{table}.parquet"
        pq.write_table(arrow, path)
        manifest["tables"][table] = {"rows": arrow.num_rows, "sha256": sha256_file(path)}
    files = [p for p in snapshot["view"].column("video_path").to_pylist() if p]
    files += snapshot["item"].column("path").to_pylist()
    for rel in progress_over(sorted(set(files)), len(set(files)), "export files", progress):
        source = _exported_source(store, rel)
        target = folder / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)
        manifest["files"][rel] = sha256_file(target)
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True))


def _exported_source(store: Store, rel: str) -> Path:
    """The file of the data home a row names, refused when the row points anywhere else."""
    problem = path_problem(rel, FILE_ROOTS)
    if problem is not None:
        raise StoreError(f"the store names the file {str(rel)[:200]!r}, which is refused ({problem}); "
                         "nothing was exported: correct that row")
    source = inside(store.home.root, rel, what="the file")
    if not source.is_file():
        raise StoreError(f"{source} is referenced by the store but missing; `python -m app stats` shows the sweep of recordings")
    return source


def _read_snapshot(store: Store) -> dict[str, Any]:
    """Every exported table as an Arrow table, read in one transaction (a consistent snapshot)."""
    with store.snapshot() as cur:
        # table names from the fixed list above, never from input
        if hasattr(cur, "arrow_table"):  # PostgreSQL: rows in the Arrow schema DuckDB gives (pg.py)
            return {table: cur.arrow_table(table) for table in TABLES}
        return {table: cur.sql(f"SELECT * FROM {table}").to_arrow_table() for table in TABLES}


def table_digest(store: Store, table: str) -> str:
    """A hash of a table's rows (sorted), to compare two stores."""
    if table not in TABLES:
        raise StoreError(f"unknown table {table!r}")
    with store.snapshot() as cur:
        rows = cur.execute(f"SELECT * FROM {table}").fetchall()
    text = "\n".join(sorted(repr(row) for row in rows))
    return hashlib.sha256(text.encode()).hexdigest()
