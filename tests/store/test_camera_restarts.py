"""Camera restarts (annotation/camera_watchdog.py) counted per session in a real DuckDB store, and
shown by `python -m app stats` and the researcher page."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest
from streamlit.testing.v1 import AppTest

from core.errors import StoreError
from core.store import Store
from tests.conftest import REPO
from tests.store_helpers import CONSENT, store_with_catalog


def _session(store: Store) -> str:
    volunteer = store.add_volunteer(age_band="25-34", gender="female", consent=CONSENT)
    return store.start_session(volunteer["volunteer_id"])


def test_restarts_add_up_per_session_and_reach_the_stats(home, tmp_path) -> None:
    with store_with_catalog(home, tmp_path) as store:
        quiet, shaky, other = _session(store), _session(store), _session(store)
        assert store.get_session(quiet)["camera_restarts"] == 0  # the migration's default for a new session
        assert store.add_camera_restarts(shaky, 2) == 2  # two at the camera check, stored when the session began
        assert store.add_camera_restarts(shaky) == 3
        assert store.add_camera_restarts(other) == 1
        assert store.add_camera_restarts(quiet, 0) == 0
        stats = store.stats()
        assert (stats["camera_restarts"], stats["sessions_with_camera_restarts"]) == (4, 2)
        assert [(r["session_id"], r["camera_restarts"]) for r in store.camera_restarts_by_session()] == [
            (shaky, 3), (other, 1)]
    with Store.open(home, read_only=True) as store:  # on disk, not only in this connection
        assert store.get_session(shaky)["camera_restarts"] == 3


def test_bad_restart_counts_are_refused_and_change_nothing(home, tmp_path) -> None:
    with store_with_catalog(home, tmp_path) as store:
        session = _session(store)
        with pytest.raises(StoreError, match="unknown session"):
            store.add_camera_restarts("s-nope")
        with pytest.raises(StoreError, match="negative"):
            store.add_camera_restarts(session, -1)
        assert store.stats()["camera_restarts"] == 0


@pytest.mark.duckdb_only  # it goes back to the old schema in the DuckDB file by hand
def test_a_store_from_before_the_counts_gets_the_column_with_zeros(home, tmp_path) -> None:
    import duckdb

    from core.store import migrations

    with store_with_catalog(home, tmp_path) as store:
        session = _session(store)
    conn = duckdb.connect(str(home.db_path))  # back to the schema before the counts: the column dropped
    conn.execute("ALTER TABLE session DROP COLUMN camera_restarts")
    conn.execute("DROP TABLE outfit_reservation")  # and the later migrations' tables
    conn.execute("DROP TABLE withdrawn_session")
    conn.execute("DELETE FROM schema_version WHERE version >= 4")
    conn.close()
    with Store.open(home) as store:
        assert store.schema_version == migrations.LATEST
        assert store.get_session(session)["camera_restarts"] == 0


def test_stats_command_and_researcher_page_show_them(home, tmp_path, monkeypatch) -> None:
    with store_with_catalog(home, tmp_path) as store:
        session = _session(store)
        store.add_camera_restarts(session, 2)
    result = subprocess.run([sys.executable, "-m", "app", "--home", str(home.root), "stats", "--json"], cwd=REPO,
                            capture_output=True, text=True, timeout=120)
    stats = json.loads(result.stdout)
    assert (stats["camera_restarts"], stats["sessions_with_camera_restarts"]) == (2, 1)
    monkeypatch.setenv("IPE_RESEARCHER_PASSWORD", "s3cret-pass")
    import annotation.resources as resources
    resources.get_store.clear()
    at = AppTest.from_file(str(REPO / "annotation" / "researcher_page.py"), default_timeout=30).run()
    at.text_input[0].input("s3cret-pass")
    next(b for b in at.button if b.label == "Sign in").click().run()
    assert any("reconnected a camera that sent no pictures 2 times, in 1 session " in m.value for m in at.markdown)
    table = at.dataframe[0].value
    assert list(table["session_id"]) == [session] and list(table["camera_restarts"]) == [2]
    resources.get_store.clear()  # the cached store holds the file open
