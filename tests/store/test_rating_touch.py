"""The rating's first touch and the session's self-view choice, on real DuckDB files."""
from __future__ import annotations

from datetime import timedelta

import duckdb
import pytest

from core.errors import StoreError
from core.store import Store, utcnow
from core.store import migrations
from tests.store_helpers import CONSENT, fake_recording, store_with_catalog


def _commit(store: Store, sid: str, position: int, **times) -> dict:
    return store.commit_recording(session_id=sid, outfit_id=f"o{position}", position=position,
                                  temp_video=fake_recording(store), rating=50, status="ok", **times)


def test_first_touch_is_stored_beside_the_rating_time(home, tmp_path) -> None:
    with store_with_catalog(home, tmp_path) as store:
        vol = store.add_volunteer(age_band="25-34", gender="female", consent=CONSENT)
        sid = store.start_session(vol["volunteer_id"], plan=["o0", "o1", "o2"], self_view=False)
        assert store.get_session(sid)["self_view"] is False
        shown = utcnow()
        view = _commit(store, sid, 0, shown_at=shown, touched_at=shown + timedelta(seconds=2.5),
                       rated_at=shown + timedelta(seconds=4))
        assert view["rating"] == 50
        assert (view["touched_at"] - view["shown_at"]).total_seconds() == pytest.approx(2.5)
        assert view["rated_at"] > view["touched_at"]
        for touched in (shown - timedelta(seconds=1), shown + timedelta(seconds=9)):  # before shown, after rated
            with pytest.raises(StoreError, match="must lie between"):
                _commit(store, sid, 1, shown_at=shown, touched_at=touched, rated_at=shown + timedelta(seconds=4))
        with pytest.raises(StoreError, match="needs a rating and its time"):
            _commit(store, sid, 1, shown_at=shown, touched_at=shown)
        assert len(store.views_for_session(sid)) == 1  # the refused ones left nothing


@pytest.mark.duckdb_only  # it builds the old schema in a DuckDB file by hand
def test_a_store_made_before_the_migration_keeps_its_rows(tmp_path, monkeypatch) -> None:
    path = tmp_path / "old.duckdb"
    conn = duckdb.connect(str(path))
    monkeypatch.setattr(migrations, "MIGRATIONS", [m for m in migrations.MIGRATIONS if m[0] < 3])
    migrations.migrate(conn)
    conn.execute("INSERT INTO session (session_id, volunteer_id, started_at) VALUES ('s-old', 'v-old', now())")
    monkeypatch.undo()
    assert migrations.migrate(conn) == list(range(3, migrations.LATEST + 1))  # this migration, then the later ones
    assert conn.execute("SELECT self_view FROM session WHERE session_id = 's-old'").fetchall() == [(None,)]
    columns = {r[0] for r in conn.execute("SELECT column_name FROM information_schema.columns "
                                          "WHERE table_name = 'view'").fetchall()}
    assert "touched_at" in columns and "rated_at" in columns
    conn.close()
