"""Outfit reservations in the database (``core/store/reservations.py``), on both backends: collection
servers in separate processes planning at the same moment hand out different least-covered
outfits; a stored view, a finished session or the expiry ends a reservation; a withdrawal deletes
them; a session resumes in another process (another server) from the database alone."""
from __future__ import annotations

import json
import subprocess
import sys
import time
from datetime import timedelta

import pytest

from core.collection.session_plan import plan_for_volunteer, start_planned_session
from core.store import Store
from core.store.access import new_resume_key, session_for_key
from tests.conftest import REPO
from tests.store_helpers import CONSENT, commit_view, store_with_six_least_covered

NEVER_RATED = {f"o{i}" for i in range(3, 9)}


def new_volunteers(store: Store, n: int) -> list[str]:
    return [store.add_volunteer(age_band="18-24", gender="male", consent=CONSENT)["volunteer_id"] for _ in range(n)]


def test_two_server_processes_planning_at_once_get_disjoint_least_covered_outfits(home, tmp_path) -> None:
    trials = 4
    with store_with_six_least_covered(home, tmp_path) as store:
        volunteers = new_volunteers(store, 2 * trials)
    servers = [subprocess.Popen([sys.executable, "-m", "tests.store.plan_worker", str(home.root), str(tmp_path),
                                 *volunteers[w::2]], cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True) for w in range(2)]
    try:
        for server in servers:
            assert server.stdout.readline().strip() == "ready", server.stderr.read()
        for k in range(trials):
            (tmp_path / f"go-{k}").touch()  # both processes plan now
            lines = [server.stdout.readline() for server in servers]
            assert all(lines), [server.stderr.read() for server in servers]
            first, second = (json.loads(line) for line in lines)
            assert len(first["plan"]) == len(second["plan"]) == 3, (k, first, second)
            assert not set(first["plan"]) & set(second["plan"]), (k, first, second)
            assert set(first["plan"]) | set(second["plan"]) == NEVER_RATED
            with Store.open(home) as store:
                for started in (first, second):
                    row = store.get_session(started["session_id"])
                    # seen once, in a full run at load ~15: a session a worker had reported started was not
                    # in the store the test opened next (not reproduced in 20 runs): say what the store held
                    assert row is not None, (k, started, store.rows("SELECT session_id, volunteer_id, plan, "
                                                                    "finished_at FROM session ORDER BY started_at"))
                    assert row["plan"] == started["plan"]
                    store.finish_session(started["session_id"])  # the next trial starts from the same coverage
        for server in servers:
            assert server.wait(60) == 0, server.stderr.read()
    finally:
        for server in servers:
            if server.poll() is None:
                server.kill()
                server.wait()


def test_a_stored_view_or_the_end_of_the_session_ends_a_reservation(home, tmp_path) -> None:
    with store_with_six_least_covered(home, tmp_path) as store:
        a, b, c = new_volunteers(store, 3)
        sid, plan = start_planned_session(store, a, n=3, seed="same")
        assert {store.outfit_coverage(include_planned=True)[o] for o in plan} == {1}
        assert {store.outfit_coverage()[o] for o in plan} == {0}  # researchers see rated views only
        assert not set(plan_for_volunteer(store, b, n=3, seed="same")[0]) & set(plan)
        commit_view(store, sid, plan[0], 0)  # counted once, by its view
        assert store.outfit_coverage(include_planned=True)[plan[0]] == 1
        assert len(store.reservations_of(sid)) == 2
        store.finish_session(sid, stopped_early=True)
        assert store.reservations_of(sid) == []
        assert sorted(plan_for_volunteer(store, c, n=2, seed="same")[0]) == sorted(plan[1:])


def test_a_reservation_expires_and_a_stored_view_renews_the_rest(home, tmp_path) -> None:
    from core.store import utcnow

    with store_with_six_least_covered(home, tmp_path) as store:
        a, b, c = new_volunteers(store, 3)
        sid, plan = start_planned_session(store, a, n=3, seed="same", reservation_s=0.5)
        assert not set(plan_for_volunteer(store, b, n=3, seed="same")[0]) & set(plan)
        before = utcnow()
        commit_view(store, sid, plan[0], 0)  # ends its outfit's reservation, renews the others from now
        held = store.reservations_of(sid)
        assert sorted(r["outfit_id"] for r in held) == sorted(plan[1:])
        assert all(r["expires_at"] >= before + timedelta(seconds=0.5) for r in held)
        time.sleep(0.6)  # an abandoned tab: nothing stored for longer than the reservation
        assert {store.outfit_coverage(include_planned=True)[o] for o in plan[1:]} == {0}
        sid_c, plan_c = start_planned_session(store, c, n=5, seed="same")  # deletes the expired rows
        assert set(plan[1:]) <= set(plan_c) and store.reservations_of(sid) == []
        assert len(store.reservations_of(sid_c)) == 5
        with pytest.raises(ValueError, match="positive"):
            start_planned_session(store, b, n=3, reservation_s=0)


def test_a_withdrawal_deletes_the_volunteers_reservations(home, tmp_path) -> None:
    with store_with_six_least_covered(home, tmp_path) as store:
        (a,) = new_volunteers(store, 1)
        sid, _ = start_planned_session(store, a, n=3)
        report = store.delete_volunteer(a)
        assert report["rows_by_table"]["outfit_reservation"] == 3 and store.reservations_of(sid) == []


RESUME = """
import json, sys
from core.store import Store
from core.store.access import session_for_key
with Store.open(sys.argv[1]) as store:
    session = session_for_key(store, sys.argv[2], sys.argv[3])
    views = store.views_for_session(sys.argv[2])
    print(json.dumps({"plan": session and session["plan"], "next": len(views),
                      "wrong_key": session_for_key(store, sys.argv[2], "x" * 43)}))
"""


def test_a_session_resumes_in_another_process_from_the_database(home, tmp_path) -> None:
    with store_with_six_least_covered(home, tmp_path) as store:
        (a,) = new_volunteers(store, 1)
        sid, plan = start_planned_session(store, a, n=3)
        key = new_resume_key(store, sid)
        commit_view(store, sid, plan[0], 0)
        assert session_for_key(store, sid, key)["session_id"] == sid
    other = subprocess.run([sys.executable, "-c", RESUME, str(home.root), sid, key], cwd=REPO,
                           capture_output=True, text=True, timeout=120)
    assert other.returncode == 0, other.stderr
    # the other server knows the plan and continues at the second outfit; a wrong key gets nothing
    assert json.loads(other.stdout) == {"plan": plan, "next": 1, "wrong_key": None}
