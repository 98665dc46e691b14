"""The store tests run on both backends: the embedded DuckDB file and a real, throw-away
PostgreSQL server (``tests/pg_server.py``). Tests of what only the DuckDB file has (its lock
between processes, its file on disk) are marked ``duckdb_only`` and run once."""
from __future__ import annotations

import pytest

from core.paths import DataHome
from core.store import connection
from tests.pg_server import PgServer


@pytest.fixture(params=["duckdb", "postgresql"], autouse=True)
def backend(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch, home: DataHome) -> str:
    """The store backend of this run of the test. On PostgreSQL every data home the test opens
    gets its own fresh database (as every study has its own), and ``IPE_STORE_URL`` names the
    database of the ``home`` fixture, for the commands the test runs as subprocesses."""
    if request.param == "duckdb":
        monkeypatch.delenv("IPE_STORE_URL", raising=False)
        return "duckdb"
    server: PgServer = request.getfixturevalue("pg_server")
    urls = {str(home.root): server.new_database()}
    monkeypatch.setenv("IPE_STORE_URL", urls[str(home.root)])
    monkeypatch.setattr(connection, "store_url",
                        lambda h: urls.setdefault(str(h.root), server.new_database()))
    return "postgresql"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    dropped = [item for item in items if item.get_closest_marker("duckdb_only")
               and getattr(item, "callspec", None) and item.callspec.params.get("backend") == "postgresql"]
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = [item for item in items if item not in dropped]
