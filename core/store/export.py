"""Export the dataset to a portable folder, and import such a folder into an empty store.

Layout of an export::

    manifest.json              format, schema version, row counts, sha256 of every file
    tables/<table>.parquet     every table of the store
    videos/...                 every recording referenced by a view
    catalog/images/...         every garment image referenced by an item

Derived files (feature caches, trained runs) are not exported: they are recomputed.
The export is written to ``<out>.partial`` and renamed when complete, so a folder named
``out`` is always whole. Importing checks every hash before touching the store and only
goes into an empty store, so the result has exactly the exported rows.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path
from typing import Any

from core.errors import StoreError
from core.store.connection import utcnow
from core.store.database import Store
from core.store.files import sha256_file

FORMAT = "ipe-export/1"
TABLES = (
    "catalog", "item", "outfit", "volunteer", "session", "view", "labeler", "image_label",
    "split", "split_member", "model_run",
)


def _progress(iterable, total: int, desc: str, enabled: bool):
    if not enabled:
        return iterable
    from tqdm import tqdm

    return tqdm(iterable, total=total, desc=desc, unit="file")


def export_dataset(store: Store, out: str | os.PathLike[str], *, progress: bool = True) -> Path:
    """Write the export folder ``out`` (must not exist); return it."""
    import pyarrow.parquet as pq

    out = Path(out).resolve()
    if out.exists():
        raise StoreError(f"{out} already exists; export into a new folder")
    partial = out.with_name(out.name + ".partial")
    if partial.exists():
        shutil.rmtree(partial)
    (partial / "tables").mkdir(parents=True)
    manifest: dict[str, Any] = {
        "format": FORMAT, "schema_version": store.schema_version, "created_at": utcnow().isoformat(),
        "tables": {}, "files": {},
    }
    # one read transaction: every table from the same snapshot, even while the server keeps writing
    snapshot = _read_snapshot(store)
    for table in TABLES:
        arrow = snapshot[table]
        path = partial / "tables" / f"{table}.parquet"
        pq.write_table(arrow, path)
        manifest["tables"][table] = {"rows": arrow.num_rows, "sha256": sha256_file(path)}
    files = [p for p in snapshot["view"].column("video_path").to_pylist() if p]
    files += snapshot["item"].column("path").to_pylist()
    for rel in _progress(sorted(set(files)), len(set(files)), "export files", progress):
        source = store.home.root / rel
        if not source.is_file():
            raise StoreError(f"{source} is referenced by the store but missing; run `python -m app stats --sweep`")
        target = partial / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)
        manifest["files"][rel] = sha256_file(target)
    (partial / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True))
    os.replace(partial, out)
    return out


def _read_snapshot(store: Store) -> dict[str, Any]:
    """Every exported table as an Arrow table, read in one transaction (a consistent snapshot)."""
    with store.snapshot() as cur:
        # table names from the fixed list above, never from input
        return {table: cur.sql(f"SELECT * FROM {table}").to_arrow_table() for table in TABLES}


def verify_export(folder: str | os.PathLike[str]) -> dict[str, Any]:
    """Read the manifest and check every hash; raise StoreError naming what is wrong."""
    folder = Path(folder).resolve()
    try:
        manifest = json.loads((folder / "manifest.json").read_text())
    except (OSError, json.JSONDecodeError) as err:
        raise StoreError(f"{folder} is not an export of this kit (manifest.json unreadable: {err})") from err
    if manifest.get("format") != FORMAT:
        raise StoreError(f"{folder}: unknown export format {manifest.get('format')!r}")
    bad = []
    for table, info in manifest["tables"].items():
        if table not in TABLES:
            bad.append(f"unknown table {table}")
            continue
        path = folder / "tables" / f"{table}.parquet"
        if not path.is_file() or sha256_file(path) != info["sha256"]:
            bad.append(f"tables/{table}.parquet")
    for rel, digest in manifest["files"].items():
        path = (folder / rel).resolve()
        if folder not in path.parents:
            bad.append(f"{rel} (outside the export)")
        elif not path.is_file() or sha256_file(path) != digest:
            bad.append(rel)
    if bad:
        raise StoreError(f"export {folder} is damaged; missing or changed: {', '.join(bad[:10])}")
    return manifest


def import_dataset(store: Store, folder: str | os.PathLike[str], *, progress: bool = True) -> dict[str, int]:
    """Load an export into an empty store; return rows per table."""
    import pyarrow.parquet as pq

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
    copied: list[Path] = []
    try:
        for rel, digest in _progress(sorted(manifest["files"].items()), len(manifest["files"]), "import files", progress):
            target = store.home.root / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            if target.exists():
                if sha256_file(target) == digest:
                    continue
                raise StoreError(f"{target} exists with other content; import into a new data home")
            shutil.copyfile(folder / rel, target)
            copied.append(target)
        counts: dict[str, int] = {}
        with store.transaction() as cur:
            for table in TABLES:
                arrow = pq.read_table(folder / "tables" / f"{table}.parquet")
                cur.register("ipe_import_source", arrow)
                try:
                    if arrow.num_rows:
                        cur.execute(f"INSERT INTO {table} BY NAME SELECT * FROM ipe_import_source")
                finally:
                    cur.unregister("ipe_import_source")
                counts[table] = arrow.num_rows
    except BaseException:
        for path in copied:
            path.unlink(missing_ok=True)
        raise
    return counts


def table_digest(store: Store, table: str) -> str:
    """A hash of a table's rows (sorted), to compare two stores."""
    if table not in TABLES:
        raise StoreError(f"unknown table {table!r}")
    with store.snapshot() as cur:
        rows = cur.execute(f"SELECT * FROM {table}").fetchall()
    text = "\n".join(sorted(repr(row) for row in rows))
    return hashlib.sha256(text.encode()).hexdigest()
