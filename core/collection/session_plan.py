"""Which outfits a volunteer sees in a session: a pure, seeded function.

Goals: across volunteers every outfit collects ratings evenly, and no volunteer sees an
outfit twice (over all of their sessions). Rule: among the outfits this volunteer has not
seen, take the ``n`` least covered so far (coverage = rated views stored per outfit plus the
live reservations of open sessions that planned it and have not shown it yet, see
``Store.outfit_coverage`` and ``core/store/reservations.py``); ties are broken by a seeded
shuffle, so different volunteers get different orders. The order in which the chosen outfits
are shown is shuffled too (seeded), so no outfit is always first. :func:`start_planned_session`
plans, starts the session and reserves its outfits under the store's write lock (on PostgreSQL
an advisory lock, so across collection servers), so volunteers starting together are planned
one after the other.
"""
from __future__ import annotations

import random
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from core.store.reservations import RESERVATION_S

if TYPE_CHECKING:
    from core.store import Store


def plan_session(
    outfit_ids: Iterable[str],
    coverage: Mapping[str, int],
    seen_by_volunteer: Iterable[str],
    *,
    n: int = 15,
    seed: int | str = 0,
) -> list[str]:
    """Up to ``n`` outfit ids for one session (fewer when the volunteer has seen nearly all)."""
    if n <= 0:
        raise ValueError("a session needs at least one outfit")
    seen = set(seen_by_volunteer)
    candidates = sorted(set(outfit_ids) - seen)
    rng = random.Random(str(seed))
    tie = {oid: rng.random() for oid in candidates}
    chosen = sorted(candidates, key=lambda oid: (coverage.get(oid, 0), tie[oid]))[:n]
    rng.shuffle(chosen)
    return chosen


RESEARCH_MODES = ("off", "recommender")


def plan_for_volunteer(store: Store, volunteer_id: str, *, n: int = 15, seed: int | str = 0,
                       research_mode: str = "off") -> tuple[list[str], str | None]:
    """The next session's outfits for a volunteer, and the research mode to record with it.

    ``research_mode="recommender"`` (off by default; ``IPE_RESEARCH_MODE``) keeps the balanced
    choice of outfits but orders them by the recommender's score for a returning volunteer
    (best first, ``core/recommend/service.py``); the session then records the mode. A first-time
    volunteer has no reactions to go on, so the plan stays as it is and no mode is recorded.
    """
    if research_mode not in RESEARCH_MODES:
        raise ValueError(f"research mode must be one of {RESEARCH_MODES}, not {research_mode!r}")
    seen = store.outfits_seen_by(volunteer_id)
    outfits = [o["outfit_id"] for o in store.list_outfits()]
    plan = plan_session(outfits, store.outfit_coverage(include_planned=True), seen, n=n, seed=seed)
    if research_mode == "off" or not seen or not plan:
        return plan, None
    from core.recommend.service import RESEARCH_MODE, order_outfits_for_returning_volunteer

    return order_outfits_for_returning_volunteer(store, volunteer_id, plan), RESEARCH_MODE


def start_planned_session(store: Store, volunteer_id: str, *, n: int = 15, seed: int | str = 0,
                          research_mode: str = "off", device_info: dict[str, Any] | None = None,
                          self_view: bool | None = None,
                          reservation_s: float = RESERVATION_S) -> tuple[str | None, list[str]]:
    """Plan the next session and start it in one step: ``(session_id, plan)``, or ``(None, [])``
    when the volunteer has seen every outfit.

    Planning reads the coverage (including live reservations) and the new session reserves its
    outfits (for ``reservation_s``, ``IPE_RESERVATION_S``), so both happen under the store's write
    lock: two volunteers starting at the same moment, on one server or two, are planned one after
    the other and get different least-covered outfits.
    """
    with store.write_lock():
        store.drop_expired_reservations()
        plan, mode = plan_for_volunteer(store, volunteer_id, n=n, seed=seed, research_mode=research_mode)
        if not plan:
            return None, []
        session_id = store.start_session(volunteer_id, plan=plan, research_mode=mode, device_info=device_info,
                                         self_view=self_view, reservation_s=reservation_s)
    return session_id, plan
