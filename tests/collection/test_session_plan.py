"""Session planning: even coverage across volunteers, never the same outfit twice for one person."""
from __future__ import annotations

from collections import Counter

import pytest

from core.collection.session_plan import plan_session


def test_balanced_coverage_and_no_repeats_over_many_volunteers() -> None:
    outfits = [f"o{i:03d}" for i in range(64)]
    coverage: Counter = Counter()
    seen: dict[str, set] = {}
    for v in range(40):
        vid = f"v{v}"
        for session in range(1 + v % 3):  # some volunteers come back
            plan = plan_session(outfits, coverage, seen.get(vid, set()), n=15, seed=f"{vid}-{session}")
            assert len(plan) == len(set(plan)) == 15
            assert not set(plan) & seen.get(vid, set())
            seen.setdefault(vid, set()).update(plan)
            coverage.update(plan)
    counts = [coverage[o] for o in outfits]
    assert max(counts) - min(counts) <= 1  # every outfit collects ratings evenly


def test_volunteer_who_saw_almost_everything_gets_the_rest() -> None:
    outfits = ["a", "b", "c", "d"]
    assert sorted(plan_session(outfits, {}, {"a", "b", "c"}, n=15)) == ["d"]
    assert plan_session(outfits, {}, set(outfits), n=15) == []


def test_seeded_and_least_covered_first() -> None:
    outfits = [f"o{i}" for i in range(10)]
    coverage = {f"o{i}": (0 if i < 3 else 5) for i in range(10)}
    plan = plan_session(outfits, coverage, set(), n=3, seed=1)
    assert sorted(plan) == ["o0", "o1", "o2"]
    assert plan_session(outfits, coverage, set(), n=5, seed=1) == plan_session(outfits, coverage, set(), n=5, seed=1)
    with pytest.raises(ValueError):
        plan_session(outfits, coverage, set(), n=0)


def test_research_mode_orders_a_returning_volunteers_outfits_and_is_recorded(home, tmp_path) -> None:
    from core.collection.session_plan import plan_for_volunteer
    from tests.store_helpers import CONSENT, commit_view, store_with_catalog

    with store_with_catalog(home, tmp_path) as store:
        vols = [store.add_volunteer(age_band="25-34", gender="female", consent=CONSENT) for _ in range(4)]
        for k, vol in enumerate(vols):
            sid = store.start_session(vol["volunteer_id"])
            for pos in range(4):
                commit_view(store, sid, f"o{(k + pos) % 9}", pos, rating=90 if pos % 2 else 10)
        returning = vols[0]["volunteer_id"]
        plan_off, mode_off = plan_for_volunteer(store, returning, n=5, seed=1)
        plan_on, mode_on = plan_for_volunteer(store, returning, n=5, seed=1, research_mode="recommender")
        assert mode_off is None and mode_on == "recommender"
        assert sorted(plan_on) == sorted(plan_off)  # the same balanced outfits, another order
        assert not set(plan_on) & store.outfits_seen_by(returning)
        sid = store.start_session(returning, plan=plan_on, research_mode=mode_on)
        assert store.get_session(sid)["research_mode"] == "recommender"
        newcomer = store.add_volunteer(age_band="18-24", gender="male", consent=CONSENT)["volunteer_id"]
        assert plan_for_volunteer(store, newcomer, n=5, seed=1, research_mode="recommender")[1] is None
        with pytest.raises(ValueError):
            plan_for_volunteer(store, returning, research_mode="sometimes")


# reservations across processes and backends, their end and expiry: tests/store/test_reservations.py


def test_two_volunteers_starting_at_the_same_moment_get_different_outfits(home, tmp_path) -> None:
    import threading

    from core.collection.session_plan import start_planned_session
    from tests.store_helpers import CONSENT, store_with_six_least_covered

    with store_with_six_least_covered(home, tmp_path) as store:
        for trial in range(5):
            vols = [store.add_volunteer(age_band="18-24", gender="female", consent=CONSENT)["volunteer_id"]
                    for _ in range(2)]
            barrier = threading.Barrier(2)
            plans: dict[str, list[str]] = {}
            errors: list[BaseException] = []

            def start(vid: str) -> None:
                try:
                    barrier.wait()
                    sid, plan = start_planned_session(store, vid, n=3, seed="same")
                    assert store.get_session(sid)["plan"] == plan
                    plans[vid] = plan
                except BaseException as err:  # re-raised in the main thread
                    errors.append(err)

            threads = [threading.Thread(target=start, args=(v,)) for v in vols]
            for th in threads:
                th.start()
            for th in threads:
                th.join()
            assert not errors, errors
            first, second = (set(plans[v]) for v in vols)
            assert len(first) == len(second) == 3 and not first & second, (trial, plans)
            assert first | second == {f"o{i}" for i in range(3, 9)}
            for session in store.rows("SELECT session_id FROM session WHERE finished_at IS NULL"):
                store.finish_session(session["session_id"])
