"""Import an export folder into an empty store. The folder is untrusted input.

Before anything is written: the manifest is read and checked (``manifest.py``: every field's
type, every table listed, clean paths, no symlinks, every hash), every Parquet table is read
and its row count compared with the manifest, and every path in every row that names a file
of the data home (``manifest.HOME_PATHS``) must be clean, lie under its folder, resolve inside
the home, and, for exported files, be listed in the manifest, which must list nothing else.
Then the files are copied (each under a temporary name, then renamed) and the rows inserted
in one transaction; if anything fails, the files and folders the import made are removed.

Text columns that record where something came from (``catalog.source``, the folder a catalog
was imported from, and ``image_label.image_path``, the labeled image on the labeler's disk)
are never opened by the kit and are imported as text.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.errors import StoreError
from core.files import sha256_file
from core.files import atomic_copy
from core.store.home_files import disk_problem, inside, make_dirs, progress_over, undo_copies
from core.store.manifest import HOME_PATHS, TABLES, path_problem, verify_export

if TYPE_CHECKING:
    from core.store.database import Store


def _read_tables(folder: Path, manifest: dict[str, Any]) -> dict[str, Any]:
    """Every table as Arrow, its row count checked against the manifest."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    tables = {}
    for table in TABLES:
        try:
            arrow = pq.read_table(folder / "tables" / f"{table}.parquet")
        except (pa.ArrowException, OSError, ValueError) as err:
            raise StoreError(f"export {folder}: tables/{table}.parquet is not a readable Parquet table ({err})") from err
        if arrow.num_rows != manifest["tables"][table]["rows"]:
            raise StoreError(f"export {folder}: tables/{table}.parquet has {arrow.num_rows} rows, "
                             f"the manifest says {manifest['tables'][table]['rows']}")
        tables[table] = arrow
    return tables


def _check_row_paths(folder: Path, tables: dict[str, Any], listed: set[str]) -> None:
    """Every home path in every row is clean; the exported ones are exactly the manifest's files."""
    referenced: set[str] = set()
    for table, column, root, exported in HOME_PATHS:
        arrow = tables[table]
        values = arrow.column(column).to_pylist() if column in arrow.column_names else []
        for value in values:
            if value is None:
                continue
            problem = path_problem(value, (root,))
            if problem is None and exported and value not in listed:
                problem = "the manifest does not list it"
            if problem is not None:
                raise StoreError(f"export {folder}: {table}.{column} {str(value)[:200]!r} is refused: {problem}; "
                                 "nothing was imported")
            if exported:
                referenced.add(value)
    unreferenced = sorted(listed - referenced)
    if unreferenced:
        raise StoreError(f"export {folder}: the manifest lists files no row refers to ({', '.join(unreferenced[:5])}); "
                         "nothing was imported")


def import_dataset(store: Store, folder: str | os.PathLike[str], *, progress: bool = True) -> dict[str, int]:
    """Load an export into an empty store; return rows per table."""
    folder = Path(folder).resolve()
    manifest = verify_export(folder)
    if manifest["schema_version"] != store.schema_version:
        raise StoreError(
            f"the export has schema version {manifest['schema_version']}, this store {store.schema_version}"
        )
    not_empty = [t for t in TABLES if store.count(t)]
    if not_empty:
        raise StoreError(
            f"import needs an empty store, but {store.home.db_path} has rows in {', '.join(not_empty)}; "
            "use a new data home (--home)"
        )
    tables = _read_tables(folder, manifest)
    _check_row_paths(folder, tables, set(manifest["files"]))
    targets = {rel: inside(store.home.root, rel, what="the file") for rel in manifest["files"]}
    copied: list[Path] = []
    made: list[Path] = []
    try:
        for rel, digest in progress_over(sorted(manifest["files"].items()), len(targets), "import files", progress):
            target = targets[rel]
            make_dirs(target.parent, made)
            if target.exists():
                if target.is_file() and sha256_file(target) == digest:
                    continue
                raise StoreError(f"{target} exists with other content; import into a new data home")
            atomic_copy(folder / rel, target)
            copied.append(target)
        counts: dict[str, int] = {}
        with store.transaction() as cur:
            for table in TABLES:
                arrow = tables[table]
                if hasattr(cur, "insert_arrow"):  # PostgreSQL (pg.py)
                    cur.insert_arrow(table, arrow)
                    counts[table] = arrow.num_rows
                    continue
                cur.register("ipe_import_source", arrow)
                try:
                    if arrow.num_rows:
                        cur.execute(f"INSERT INTO {table} BY NAME SELECT * FROM ipe_import_source")
                finally:
                    cur.unregister("ipe_import_source")
                counts[table] = arrow.num_rows
    except BaseException as exc:
        undo_copies(copied, made)
        if isinstance(exc, OSError):
            raise StoreError(f"import of {folder} failed, nothing was imported: "
                             f"{disk_problem(exc, store.home.root)}") from exc
        raise
    return counts
