"""The researcher's commands against the live PostgreSQL store (``IPE_STORE_URL`` set, no export in
between): ``stats``, ``extract``, ``split`` and ``train --split`` read and write the server's rows,
and no DuckDB file appears in the data home. The same walk on the DuckDB file is
``tests/test_walkthrough.py``."""
from __future__ import annotations

import json

import pytest

from core.collection.splits import load_split
from core.store import Store
from tests.test_walkthrough import app, collect

pytestmark = pytest.mark.slow


def test_stats_extract_split_and_train_on_the_live_postgresql_store(home, tmp_path, pg_server, monkeypatch) -> None:
    monkeypatch.setenv("IPE_STORE_URL", pg_server.new_database())
    collect(home, tmp_path)  # six volunteers x three takes, through the store API
    stats = json.loads(app(home, "stats", "--json").stdout)
    assert (stats["volunteers"], stats["views"]) == (6, 18) and stats["sweep"]["missing_files"] == 0
    extracted = app(home, "extract", "--workers", "1")
    assert "18 recorded views" in extracted.stdout and "failed 0" in extracted.stdout
    app(home, "split", "--name", "walk", "--seed", "0", "--test-fraction", "0.34")
    trained = app(home, "train", "--split", "walk", "--variant", "plm-ipe", "--preset", "cpu", "--epochs", "1",
                  "--run-id", "walk", "--device", "cpu")
    assert "saved" in trained.stdout
    config = json.loads((home.runs / "walk" / "model" / "config.json").read_text())
    with Store.open(home, read_only=True) as store:
        assert store.location.startswith("postgresql://")
        assert store.count("feature_cache") == 18  # extract registered every video's features there
        folds = load_split(store, "walk")
        assert sorted(folds.values()).count("test") == 2 and len(folds) == 6
    assert config["split_id"] == "walk"
    assert not home.db_path.exists()  # nothing went to a DuckDB file
