"""One dataset, two backends, the same Parquet: DuckDB stays the analysis engine."""
from __future__ import annotations

import pyarrow.parquet as pq
import pytest

from core.paths import DataHome
from core.store import Store
from core.store.export import TABLES, export_dataset, import_dataset, table_digest
from tests.store.export_fixtures import make_small_export

pytestmark = pytest.mark.duckdb_only  # it opens both backends itself: run once


def test_an_export_from_postgresql_is_the_same_parquet_as_from_duckdb(tmp_path, pg_server, monkeypatch) -> None:
    monkeypatch.delenv("IPE_STORE_URL", raising=False)
    from_duckdb, digests = make_small_export(tmp_path)  # every table has a row
    home = DataHome.resolve(tmp_path / "pg-home").ensure()
    with Store.open(home, url=pg_server.new_database()) as store:
        import_dataset(store, from_duckdb, progress=False)
        assert {t: table_digest(store, t) for t in TABLES} == digests
        from_pg = export_dataset(store, tmp_path / "from-pg", progress=False)
    for table in TABLES:
        a = pq.read_table(from_duckdb / "tables" / f"{table}.parquet")
        b = pq.read_table(from_pg / "tables" / f"{table}.parquet")
        assert a.schema.equals(b.schema), table
        assert a.num_rows >= 1 and a.equals(b), table
