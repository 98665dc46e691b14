"""Shared fixtures: every test gets its own data home in a temporary folder."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from core.paths import DataHome

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> DataHome:
    """A fresh, empty data home; ``$IPE_HOME`` points at it for the duration of the test."""
    data_home = DataHome.resolve(tmp_path / "home").ensure()
    monkeypatch.setenv("IPE_HOME", str(data_home.root))
    return data_home


@pytest.fixture(scope="session")
def pg_server():
    """A throw-away PostgreSQL server for the session (``tests/pg_server.py``), stopped afterwards."""
    from tests.pg_server import PgServer

    server = PgServer()
    try:
        yield server
    finally:
        server.stop()
