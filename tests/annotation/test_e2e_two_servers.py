"""End to end with several collection servers: two real Streamlit servers (``IPE_CAPTURE=browser``,
HTTPS) on one throw-away PostgreSQL store and one shared data home, two Chromium volunteers who
start at the same moment, one on each server, and each continue their session on the OTHER server
after the first take (``tests/two_servers_scenario.py``). The store then holds exactly each
volunteer's two takes, intact, in one session each; the two sessions were planned at the same moment
on different servers from 4 outfits and got disjoint ones (the reservations: with the tie-breaking
seeds the app draws, two plans of 2 from 4 outfits overlap 5 times in 6 without them)."""
from __future__ import annotations

import pytest

from core.store import Store
from tests.annotation.conftest import run_scenario_script
from tests.annotation.test_e2e_browser_capture import check_video
from tests.store_helpers import write_catalog

pytestmark = [pytest.mark.browser]


def test_two_servers_two_volunteers_each_moved_to_the_other_server(home, tmp_path, fake_camera, source_frames,
                                                                   pg_server, monkeypatch) -> None:
    from core.collection.catalog import import_catalog

    monkeypatch.setenv("IPE_STORE_URL", pg_server.new_database())
    with Store.open(home) as store:  # 4 outfits: the servers' two plans of 2 must split them
        import_catalog(store, write_catalog(tmp_path / "cat", n_tops=2, n_bottoms=2))
    report = run_scenario_script("tests/two_servers_scenario.py", "move", home, fake_camera)
    volunteers = report["volunteers"]
    for volunteer in volunteers:
        assert len(set(volunteer["servers"])) == 2, volunteer["servers"]  # started on one, finished on the other
        assert volunteer["final_url"].startswith(volunteer["servers"][1])
        outside = [u for u in volunteer["requests"] if not u.startswith(("https://study.test:", "data:", "blob:",
                                                                         "about:"))]
        assert outside == [], f"the pages requested {outside}"
    assert volunteers[0]["servers"][0] != volunteers[1]["servers"][0]  # one volunteer started on each server
    with Store.open(home, read_only=True) as store:
        assert store.location.startswith("postgresql://")
        sessions = [store.get_session(v["session_id"]) for v in volunteers]
        assert len(store.rows("SELECT session_id FROM session")) == 2
        plans = [s["plan"] for s in sessions]
        assert sorted(plans[0] + plans[1]) == ["o0", "o1", "o2", "o3"], plans  # no outfit handed out twice
        for session, ratings in zip(sessions, ([70, 30], [60, 40])):
            assert session["finished_at"] is not None and not session["stopped_early"]
            views = store.views_for_session(session["session_id"])
            assert [(v["position"], v["outfit_id"], v["status"], v["rating"]) for v in views] == [
                (k, session["plan"][k], "ok", r) for k, r in enumerate(ratings)]
            for view in views:
                check_video(view, home, source_frames)
        assert len(store.list_views()) == 4
        assert store.rows("SELECT * FROM outfit_reservation") == []  # both sessions ended: nothing held
        sweep = store.sweep(temp_grace_s=0)
        assert sweep["orphan_files"] == sweep["temp_files"] == sweep["missing_files"] == []
    assert not any((home.root / "uploads").iterdir())
