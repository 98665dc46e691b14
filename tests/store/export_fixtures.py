"""A tiny, complete export, and helpers to change one like an attacker would (for the untrusted-import tests)."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from core.collection.splits import make_volunteer_split, roster_from_store, save_split
from core.paths import DataHome
from core.store import Store, sha256_file
from core.store.export import TABLES, export_dataset, table_digest
from tests.store_helpers import CONSENT, commit_view, store_with_catalog


def make_small_export(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """An export with a row in every table; returns it and the digest of every table."""
    home = DataHome.resolve(tmp_path / "source-home").ensure()
    with store_with_catalog(home, tmp_path / "source-catalog") as store:
        for k, gender in enumerate(("female", "male")):
            vol = store.add_volunteer(age_band="25-34", gender=gender, consent=CONSENT)
            sid = store.start_session(vol["volunteer_id"], plan=["o0", "o1"])
            commit_view(store, sid, "o0", 0, payload=f"video {k}".encode())
            store.finish_session(sid)
        lab = store.add_labeler("anna")
        store.add_image_label(labeler_id=lab, image_path="/elsewhere/a.png", image_sha256="x", answer="skip",
                              response_ms=500)
        save_split(store, "s", make_volunteer_split(roster_from_store(store), seed=0, test_fraction=0.5), seed=0)
        store.add_model_run(kind="plm-ipe", config={}, metrics={}, checkpoint_path="runs/r1")
        out = export_dataset(store, tmp_path / "pristine", progress=False)
        digests = {t: table_digest(store, t) for t in TABLES}
    return out, digests


def load_manifest(folder: Path) -> dict[str, Any]:
    return json.loads((folder / "manifest.json").read_text())


def save_manifest(folder: Path, manifest: Any) -> None:
    (folder / "manifest.json").write_text(json.dumps(manifest))


def rewrite_table(folder: Path, table: str, rows: list[dict[str, Any]], *, rehash: bool = True) -> None:
    """Replace a table's Parquet file by ``rows``; with ``rehash`` the manifest is updated to match."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = folder / "tables" / f"{table}.parquet"
    schema = pq.read_schema(path)
    names = list(dict.fromkeys(name for row in rows for name in row)) or schema.names
    columns = {}
    for name in names:
        values = [row.get(name) for row in rows]
        kind = schema.field(name).type if name in schema.names else None
        for attempt in (lambda: pa.array(values, type=kind), lambda: pa.array(values),
                        lambda: pa.array([None if v is None else repr(v) for v in values])):
            try:  # the column's type; else what Arrow infers; else (mixed types) the values as text
                columns[name] = attempt()
                break
            except (pa.ArrowException, TypeError, ValueError, OverflowError):
                continue
    pq.write_table(pa.table(columns) if rows else schema.empty_table(), path)
    if rehash:
        manifest = load_manifest(folder)
        manifest["tables"][table] = {"rows": len(rows), "sha256": sha256_file(path)}
        save_manifest(folder, manifest)


def table_rows(folder: Path, table: str) -> list[dict[str, Any]]:
    import pyarrow.parquet as pq

    return pq.read_table(folder / "tables" / f"{table}.parquet").to_pylist()


def empty_store(root: Path) -> Store:
    return Store.open(DataHome.resolve(root).ensure())
